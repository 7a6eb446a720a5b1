"""Reading YAML pack files while remembering where each value came from.

Mappings are loaded as :class:`LineDict`, which records the line of every key, so that a
validation error at a field path (``exceptions[2].limit``) can be reported as
``packs/us-diffusion-2025/rules.yaml:88: exceptions[2].limit: ...``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from tiergate.errors import PackError


class LineDict(dict[str, Any]):
    """A dict that knows the 1-based line of each key and of itself."""

    line: int = 0
    key_lines: dict[str, int]


class LineList(list[Any]):
    """A list that knows the 1-based line of each element."""

    line: int = 0
    item_lines: list[int]


class _Loader(yaml.SafeLoader):
    """The safe loader, refusing anchors and aliases: an alias repeats a node wherever it is named, so a few
    hundred bytes of nested aliases ("billion laughs") expand to gigabytes. Tiergate's files never need them."""

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise yaml.composer.ComposerError(
                None,
                None,
                "anchors and aliases (&name, *name) are not accepted; write the value out in full",
                event.start_mark,
            )
        return super().compose_node(parent, index)


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, (str, int, float, bool)) and key is not None:
            raise PackError(f"line {key_node.start_mark.line + 1}: mapping keys must be plain values")
        skey = str(key) if not isinstance(key, str) else key
        if skey in result:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {skey!r}", key_node.start_mark)
        result[skey] = loader.construct_object(value_node, deep=True)
        result.key_lines[skey] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)
# Dates stay strings here; the schema parses them, so that a bad date is reported with its field.
# Only true/false are booleans: YAML 1.1 would read the country code NO (Norway) as false.
_Loader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def load_yaml(path: Path) -> Any:
    """Parse one YAML file; a syntax error is reported with the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise PackError(f"cannot read: {error.strerror}", where=str(path)) from None
    return parse_yaml(text, str(path))


def parse_yaml(text: str, where: str) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader derives from SafeLoader
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        raise PackError(f"not valid YAML: {error.problem or error.context}", where=f"{where}{line}") from None
    except yaml.YAMLError as error:
        raise PackError(f"not valid YAML: {error}", where=where) from None
    except ValueError as error:  # e.g. an integer of more digits than Python converts
        raise PackError(f"not valid YAML: {error}", where=where) from None


def line_of(tree: Any, path: Sequence[int | str]) -> int | None:
    """The line of the deepest element of ``path`` that the tree knows a line for."""
    line: int | None = getattr(tree, "line", None)
    node = tree
    for step in path:
        if isinstance(node, LineDict) and isinstance(step, str) and step in node:
            line = node.key_lines.get(step, line)
            node = node[step]
        elif isinstance(node, LineList) and isinstance(step, int) and 0 <= step < len(node):
            line = node.item_lines[step]
            node = node[step]
        else:
            break
        inner = getattr(node, "line", None)
        if inner is not None and not isinstance(node, LineDict | LineList):
            line = inner
    return line


def render_path(path: Sequence[int | str]) -> str:
    out = ""
    for step in path:
        if isinstance(step, int):
            out += f"[{step}]"
        else:
            out += f".{step}" if out else str(step)
    return out

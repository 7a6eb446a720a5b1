"""The equipment catalogue: semiconductor-manufacturing tools and HBM stacks, found by id or alias.

``load_equipment()`` reads the packaged ``equipment.yaml``. Tools are :class:`Equipment`; HBM stacks are
chips of kind ``hbm`` (the US controls classify them by memory-bandwidth density, 3A090.c), addressed as
``{"chip": "skhynix-hbm3e-12h"}`` like any catalogue chip.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from rapidfuzz import fuzz, process

from tiergate.catalog.model import EQUIPMENT_CATEGORIES, Chip, Equipment
from tiergate.errors import CatalogueError, UnknownEquipmentError

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


def _key(text: str) -> str:
    return _NON_ALNUM.sub("", text.lower())


class EquipmentCatalogue:
    """Tools and HBM stacks, found by id, alias or full name (case and punctuation ignored)."""

    def __init__(self, tools: list[Equipment], stacks: list[Chip], source: str = "") -> None:
        self.source = source
        self._tools: dict[str, Equipment] = {}
        self._stacks: dict[str, Chip] = {}
        self._index: dict[str, str] = {}
        entries: list[Equipment | Chip] = [*tools, *stacks]
        for entry in entries:
            assert entry.id is not None
            if entry.id in self._tools or entry.id in self._stacks:
                raise CatalogueError(f"duplicate equipment id {entry.id!r}", where=source)
            if isinstance(entry, Equipment):
                self._tools[entry.id] = entry
            else:
                self._stacks[entry.id] = entry
            for name in (entry.id, entry.name, *entry.aliases):
                key = _key(name)
                owner = self._index.get(key)
                if owner is not None and owner != entry.id:
                    raise CatalogueError(f"alias {name!r} of {entry.id!r} already names {owner!r}", where=source)
                self._index[key] = entry.id

    def __iter__(self) -> Iterator[Equipment]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    @property
    def hbm_stacks(self) -> tuple[Chip, ...]:
        return tuple(self._stacks.values())

    def get(self, name: str) -> Equipment | None:
        found = self._index.get(_key(name))
        return self._tools.get(found) if found is not None else None

    def stack(self, name: str) -> Chip | None:
        found = self._index.get(_key(name))
        return self._stacks.get(found) if found is not None else None

    def resolve(self, name: str, *, where: str | None = None) -> Equipment:
        """The tool with this id, alias or name; else :class:`UnknownEquipmentError` with the nearest ids."""
        tool = self.get(name)
        if tool is None:
            raise UnknownEquipmentError(name, self.suggest(name, tools_only=True), where=where)
        return tool

    def suggest(self, name: str, limit: int = 3, *, tools_only: bool = False) -> list[str]:
        """The ids whose id, name or aliases are nearest to ``name``."""
        choices = {key: owner for key, owner in self._index.items() if not tools_only or owner in self._tools}
        found = process.extract(_key(name), list(choices), scorer=fuzz.WRatio, limit=limit * 4)
        ids: list[str] = []
        for key, score, _ in found:
            if score >= 50 and choices[key] not in ids:
                ids.append(choices[key])
        return ids[:limit]


def _number(value: Any, field: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or value != value:
        raise CatalogueError(f"{field} must be a non-negative number, got {value!r}", where=where)
    return float(value)


def _country(value: Any, field: str, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _COUNTRY.match(value):
        raise CatalogueError(f"{field} must be an ISO 3166-1 alpha-2 code, got {value!r}", where=where)
    return value


def tool_from_entry(entry: Mapping[str, Any], where: str) -> Equipment:
    try:
        tool_id, name, category = str(entry["id"]), str(entry["name"]), str(entry["category"])
    except KeyError as missing:
        raise CatalogueError(f"entry lacks field {missing}", where=where) from None
    here = f"{where} ({tool_id})"
    if category not in EQUIPMENT_CATEGORIES:
        raise CatalogueError(
            f"category {category!r} is not known", where=here, hint=f"use one of {', '.join(EQUIPMENT_CATEGORIES)}"
        )
    raw = entry.get("parameters") or {}
    if not isinstance(raw, dict):
        raise CatalogueError("parameters must be a mapping of name to number or true/false", where=here)
    parameters: list[tuple[str, float | bool]] = []
    for key, value in raw.items():
        parameters.append((str(key), value if isinstance(value, bool) else _number(value, f"parameters.{key}", here)))
    eccn = entry.get("us_eccn")
    return Equipment(
        id=tool_id,
        name=name,
        category=category,
        made_in=_country(entry.get("made_in"), "made_in", here),
        us_eccn=None if eccn is None else str(eccn),
        parameters=tuple(parameters),
        vendor=entry.get("vendor"),
        year=entry.get("year"),
        aliases=tuple(str(a) for a in entry.get("aliases") or ()),
        recalled=tuple(str(r) for r in entry.get("recalled") or ()),
        sources=tuple(str(s) for s in entry.get("sources") or ()),
        notes=" ".join(str(entry.get("notes") or "").split()),
    )


def stack_from_entry(entry: Mapping[str, Any], where: str) -> Chip:
    try:
        stack_id, name = str(entry["id"]), str(entry["name"])
    except KeyError as missing:
        raise CatalogueError(f"entry lacks field {missing}", where=where) from None
    here = f"{where} ({stack_id})"
    for field in ("memory_bandwidth_gbps", "package_area_mm2"):
        if field not in entry:
            raise CatalogueError(f"an HBM stack gives {field}", where=here)
    area = _number(entry["package_area_mm2"], "package_area_mm2", here)
    if area <= 0:
        raise CatalogueError("package_area_mm2 must be positive", where=here)
    return Chip(
        id=stack_id,
        name=name,
        dies=(),
        datacenter=True,
        memory_bandwidth_gbps=_number(entry["memory_bandwidth_gbps"], "memory_bandwidth_gbps", here),
        package_area_mm2=area,
        kind="hbm",
        vendor=entry.get("vendor"),
        designer_country=_country(entry.get("made_in"), "made_in", here),
        aliases=tuple(str(a) for a in entry.get("aliases") or ()),
        recalled=tuple(str(r) for r in entry.get("recalled") or ()),
        sources=tuple(str(s) for s in entry.get("sources") or ()),
        notes=" ".join(str(entry.get("notes") or "").split()),
    )


def parse_equipment(text: str, source: str) -> EquipmentCatalogue:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise CatalogueError(f"not valid YAML: {error}", where=source) from None
    if not isinstance(data, dict) or not isinstance(data.get("equipment"), list):
        raise CatalogueError("expected a mapping with a list `equipment`", where=source)
    tools = [tool_from_entry(e, f"{source}: equipment[{i}]") for i, e in enumerate(data["equipment"])]
    stacks = [stack_from_entry(e, f"{source}: hbm_stacks[{i}]") for i, e in enumerate(data.get("hbm_stacks") or [])]
    return EquipmentCatalogue(tools, stacks, source=source)


@lru_cache(maxsize=4)
def _load(path: str | None) -> EquipmentCatalogue:
    if path is None:
        ref = resources.files("tiergate.catalog").joinpath("equipment.yaml")
        return parse_equipment(ref.read_text(encoding="utf-8"), "tiergate/catalog/equipment.yaml")
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise CatalogueError(f"cannot read equipment catalogue: {error.strerror}", where=str(file)) from None
    return parse_equipment(text, str(file))


def load_equipment(path: str | Path | None = None) -> EquipmentCatalogue:
    """The packaged equipment catalogue, or the one in ``path``."""
    return _load(None if path is None else str(path))

"""Loading rule packs and regimes from folders, with errors that name file, line and field."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from tiergate.errors import PackError
from tiergate.rules import schema
from tiergate.rules.compile import LoadedPack
from tiergate.rules.source import LineDict, LineList, load_yaml, render_path

M = TypeVar("M", bound=BaseModel)


def packaged_packs_dir() -> Path:
    """The folder of the packs shipped with Tiergate."""
    return Path(__file__).resolve().parent.parent / "packs"


def _validated(model: type[M], raw: Any, file: Path) -> M:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise PackError("expected a mapping at the top of the file", where=f"{file}:1")
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        problems = _without_union_noise(error.errors(include_url=False))
        first = problems[0]
        path, line = _locate(raw, first["loc"])
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        field = render_path(path) or "(top level)"
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            message = "unknown field"
        elif first["type"] == "missing":
            message = "required field is missing"
        elif first["type"] == "finite_number":
            message = f"{first['input']!r} is not a finite number"
        elif isinstance(first.get("input"), bool) and first["type"] in ("float_type", "int_type"):
            message = f"{str(first['input']).lower()} is not a number"
        raise PackError(f"{field}: {message}{more}", where=f"{file}:{line}" if line else str(file)) from None


def _without_union_noise(problems: list[Any]) -> list[Any]:
    """The errors of a value given as ``number | expression``: a value that is not a text fails the expression
    branch too; that second error says nothing the first does not."""
    numeric = {tuple(p["loc"][:-1]) for p in problems if p["loc"] and p["loc"][-1] in ("float", "int")}
    kept = [
        p
        for p in problems
        if not (p["type"] == "string_type" and p["loc"] and p["loc"][-1] == "str" and tuple(p["loc"][:-1]) in numeric)
    ]
    return kept or problems


def _locate(raw: Any, loc: Sequence[int | str]) -> tuple[list[int | str], int | None]:
    """The part of a pydantic error location that exists in the file, and its line."""
    path: list[int | str] = []
    node = raw
    line: int | None = getattr(raw, "line", None)
    for step in loc:
        if isinstance(node, LineDict) and isinstance(step, str):
            path.append(step)
            if step not in node:
                break
            line = node.key_lines.get(step, line)
            node = node[step]
        elif isinstance(node, LineList) and isinstance(step, int) and 0 <= step < len(node):
            path.append(step)
            line = node.item_lines[step]
            node = node[step]
        else:
            break
    return path, line


def load_pack(folder: Path) -> LoadedPack:
    """One pack folder: ``manifest.yaml`` and ``rules.yaml``, validated against the pack schema."""
    folder = Path(folder)
    if not folder.is_dir():
        raise PackError("not a pack folder (expected a folder with manifest.yaml and rules.yaml)", where=str(folder))
    manifest_file = folder / "manifest.yaml"
    rules_file = folder / "rules.yaml"
    for file in (manifest_file, rules_file):
        if not file.is_file():
            raise PackError(f"missing {file.name}", where=str(folder))
    raw_manifest = load_yaml(manifest_file)
    manifest = _validated(schema.Manifest, raw_manifest, manifest_file)
    if manifest.id != folder.name:
        line = raw_manifest.key_lines.get("id") if isinstance(raw_manifest, LineDict) else None
        raise PackError(
            f"id: {manifest.id!r} does not match the folder name {folder.name!r}",
            where=f"{manifest_file}:{line}" if line else str(manifest_file),
        )
    raw_rules = load_yaml(rules_file)
    rules = _validated(schema.PackRules, raw_rules, rules_file)
    seen: dict[str, str] = {}
    for section in (*schema.PackRules.SECTIONS, *schema.PackRules.ALLIANCE_SECTIONS):
        for i, entry in enumerate(getattr(rules, section)):
            if entry.id in seen:
                _, line = _locate(raw_rules, [section, i, "id"])
                raise PackError(
                    f"{section}[{i}].id: {entry.id!r} is already the id of an entry in {seen[entry.id]}",
                    where=f"{rules_file}:{line}",
                    hint="rule ids are unique within a pack",
                )
            seen[entry.id] = section
    if manifest.scope != "alliance":
        for section in schema.PackRules.ALLIANCE_SECTIONS:
            if getattr(rules, section):
                _, line = _locate(raw_rules, [section])
                raise PackError(
                    f"{section}: only an alliance pack (manifest scope: alliance) has {section}",
                    where=f"{rules_file}:{line}",
                )
    return LoadedPack(manifest=manifest, rules=rules, folder=folder, raw_rules=raw_rules, raw_manifest=raw_manifest)


def load_regimes(file: Path) -> list[schema.RegimeDef]:
    raw = load_yaml(file)
    regimes = _validated(schema.RegimeFile, raw, file).regimes
    seen: set[str] = set()
    for i, regime in enumerate(regimes):
        if regime.name in seen:
            _path, line = _locate(raw, ["regimes", i, "name"])
            raise PackError(f"regime {regime.name!r} is defined twice", where=f"{file}:{line}")
        seen.add(regime.name)
    return regimes


def load_jurisdictions(folders: Sequence[Path]) -> list[schema.JurisdictionDef]:
    """The jurisdictions declared in ``jurisdictions.yaml`` under the given folders (a later folder may not
    redefine one)."""
    found: dict[str, tuple[schema.JurisdictionDef, Path]] = {}
    for root in folders:
        file = Path(root) / "jurisdictions.yaml"
        if not file.exists():
            continue
        raw = load_yaml(file)
        for i, item in enumerate(_validated(schema.JurisdictionFile, raw, file).jurisdictions):
            if item.code in found:
                _path, line = _locate(raw, ["jurisdictions", i, "code"])
                raise PackError(
                    f"jurisdiction {item.code!r} is also defined in {found[item.code][1]}", where=f"{file}:{line}"
                )
            found[item.code] = (item, file)
    return [item for item, _ in found.values()]


def load_pack_folders(folders: Sequence[Path]) -> tuple[dict[str, LoadedPack], list[schema.RegimeDef], dict[str, Path]]:
    """Every pack under the given folders (each a folder of pack folders, optionally with regimes.yaml)."""
    packs: dict[str, LoadedPack] = {}
    regimes: list[schema.RegimeDef] = []
    regime_files: dict[str, Path] = {}
    for root in folders:
        root = Path(root)
        if not root.is_dir():
            raise PackError("not a folder of packs", where=str(root))
        for child in sorted(root.iterdir()):
            if child.is_dir() and (child / "manifest.yaml").exists():
                pack = load_pack(child)
                if pack.manifest.id in packs:
                    raise PackError(
                        f"pack id {pack.manifest.id!r} is also defined in {packs[pack.manifest.id].folder}",
                        where=str(child / "manifest.yaml"),
                    )
                packs[pack.manifest.id] = pack
        regimes_file = root / "regimes.yaml"
        if regimes_file.exists():
            for regime in load_regimes(regimes_file):
                if regime.name in regime_files:
                    raise PackError(
                        f"regime {regime.name!r} is also defined in {regime_files[regime.name]}",
                        where=str(regimes_file),
                    )
                regimes.append(regime)
                regime_files[regime.name] = regimes_file
    return packs, regimes, regime_files

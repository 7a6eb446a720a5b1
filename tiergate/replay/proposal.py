"""Proposal packs: a change to a regime written as a pack of its own, so that it can be diffed, replayed
against past shipments and, once adopted, shipped like any other pack.

``tiergate packs propose --base REGIME --set NAME=EXPR ... --add GROUP=CC --remove GROUP=CC --effective DATE
--out DIR`` writes ``DIR/<id>/manifest.yaml`` and ``rules.yaml`` (parameter overrides and country-group
amendments, each marked as a proposal, not law) and adds the regime ``<id>`` (the base stack plus the proposal)
to ``DIR/regimes.yaml``. The regime is undated: ``--as-of`` never picks it; ``--regime <id>`` and
``tiergate replay --to <id> --packs DIR`` evaluate it. Everything is checked before anything is written: an
unknown regime, parameter, group or country, an expression that names an unknown quantity, and a circular
definition are refused with the ``--set`` that caused them; the new stack is then compiled from the written
files in a scratch folder, and only a stack that compiles is moved into place.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from rapidfuzz import fuzz, process

from tiergate.classify.metrics import fmt
from tiergate.errors import InputError, PackError, TiergateError
from tiergate.rules import expr
from tiergate.rules.book import Rulebook, load_rulebook
from tiergate.rules.compile import catalogue_quantities

PROPOSAL_CITATION = "Proposal, not in force (written by tiergate packs propose)"
_PACK_ID = re.compile(r"^[a-z0-9][a-z0-9.-]*$")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class Setting:
    """``--set NAME=EXPR``: a new value (a number or an expression) for a parameter of the base regime."""

    name: str
    value: float | str
    was: float | str
    was_value: float
    unit: str


@dataclass(frozen=True, slots=True)
class Amendment:
    """``--add GROUP=CC`` or ``--remove GROUP=CC``: a change to the members of a country group."""

    group: str
    add: tuple[str, ...]
    remove: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Proposal:
    pack_id: str
    base: str
    effective: dt.date
    settings: tuple[Setting, ...]
    amendments: tuple[Amendment, ...]
    manifest: dict[str, Any]
    rules: dict[str, Any]
    regime: dict[str, Any]

    def describe(self) -> list[str]:
        lines = [f"Proposal {self.pack_id} on top of {self.base}, effective {self.effective}:"]
        for s in self.settings:
            lines.append(f"  {s.name}: {_shown(s.was)} -> {_shown(s.value)}{(' ' + s.unit) if s.unit else ''}")
        for a in self.amendments:
            parts = [*(f"+{c}" for c in a.add), *(f"-{c}" for c in a.remove)]
            lines.append(f"  country group {a.group}: {' '.join(parts)}")
        return lines


def _shown(value: float | str) -> str:
    return value if isinstance(value, str) else fmt(float(value))


def parse_assignment(text: str, option: str) -> tuple[str, str]:
    """``NAME=VALUE`` of an option, both parts stripped and non-empty."""
    name, sep, value = text.partition("=")
    name, value = name.strip(), value.strip()
    if not sep or not name or not value:
        raise InputError(f"{option} {text!r}: expected NAME=VALUE", hint=f"e.g. {option} tpp_a1_min=0.3*frontier_tpp")
    return name, value


def _number_or_expression(text: str, where: str) -> float | str:
    try:
        number = float(text)
    except ValueError:
        try:
            expr.names_in(text)
        except expr.ExpressionError as error:
            raise InputError(str(error), where=where) from None
        return text
    if number != number or number in (float("inf"), float("-inf")):
        raise InputError(f"{text!r} is not a finite number", where=where)
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def _suggest(name: str, choices: Sequence[str]) -> str:
    found = [c for c, score, _ in process.extract(name, list(choices), scorer=fuzz.WRatio, limit=3) if score >= 60]
    return f"did you mean {', '.join(found)}?" if found else f"known: {', '.join(sorted(choices))}"


def _parameter_specs(book: Rulebook, base: str) -> dict[str, Any]:
    """The parameters of the base regime's stack as its packs write them (the last pack that sets one wins)."""
    specs: dict[str, Any] = {}
    for pack_id in book.regime(base).packs:
        for param in book.packs[pack_id].rules.parameters:
            specs[param.name] = param
    return specs


def _cycle(graph: Mapping[str, set[str]]) -> list[str] | None:
    """A dependency cycle among parameters, as a path that returns to its start; None when there is none."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for child in sorted(graph.get(node, ())):
            if child not in graph:
                continue
            if state.get(child) == 1:
                return [*path[path.index(child) :], child]
            if state.get(child) is None:
                found = visit(child)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if state.get(node) is None:
            found = visit(node)
            if found:
                return found
    return None


def build_proposal(
    book: Rulebook,
    base: str,
    *,
    sets: Sequence[tuple[str, str]] = (),
    add: Sequence[tuple[str, str]] = (),
    remove: Sequence[tuple[str, str]] = (),
    effective: dt.date,
    pack_id: str | None = None,
    title: str | None = None,
) -> Proposal:
    """The proposal pack (manifest, rules) and its regime, checked against the base regime."""
    regime = book.regime(base)
    if not sets and not add and not remove:
        raise InputError(
            "a proposal changes something", hint="give --set NAME=EXPR, --add GROUP=CC or --remove GROUP=CC"
        )
    pack_id = pack_id or f"proposal-{base}-{effective.isoformat()}"
    if not _PACK_ID.match(pack_id) or len(pack_id) > 80:
        raise InputError(
            f"--id {pack_id!r}: a pack id is lower-case letters, digits, '.' and '-' (at most 80)", where="--id"
        )
    if pack_id in book.packs or pack_id in book.regimes:
        raise InputError(f"--id {pack_id!r}: a pack or regime of that name is already loaded", where="--id")
    full = book.full(base)
    specs = _parameter_specs(book, base)
    quantities = catalogue_quantities(book.catalogue, full.bit_lengths)

    settings: list[Setting] = []
    new_values: dict[str, float | str] = {}
    for name, text in sets:
        where = f"--set {name}"
        if name in quantities and name not in specs:
            raise InputError(
                f"{name} is a catalogue quantity (computed from the catalogue), not a parameter",
                where=where,
                hint="set a parameter that uses it, e.g. tpp_a1_min=0.3*frontier_tpp",
            )
        if not _NAME.match(name) or name not in specs:
            raise InputError(
                f"unknown parameter {name!r} of regime {base}", where=where, hint=_suggest(name, list(specs))
            )
        if name in new_values:
            raise InputError(f"{name} is set twice", where=where)
        value = _number_or_expression(text, where)
        if isinstance(value, str):
            for ref in sorted(expr.names_in(value)):
                if ref not in specs and ref not in quantities:
                    raise InputError(
                        f"{value!r} names {ref!r}, which is neither a parameter of {base} nor a catalogue quantity",
                        where=where,
                        hint=_suggest(ref, [*specs, *quantities]),
                    )
        new_values[name] = value
        spec = specs[name]
        settings.append(Setting(name, value, spec.value, full.parameters[name], spec.unit))

    graph: dict[str, set[str]] = {}
    for name, spec in specs.items():
        value = new_values.get(name, spec.value)
        graph[name] = expr.names_in(value) if isinstance(value, str) else set()
    cycle = _cycle(graph)
    if cycle:
        culprit = next((n for n in cycle if n in new_values), cycle[0])
        raise InputError(
            f"circular definition: {' -> '.join(cycle)}",
            where=f"--set {culprit}",
            hint="a parameter cannot depend on itself, directly or through others",
        )

    changes: dict[str, tuple[list[str], list[str]]] = {}
    for option, pairs in (("--add", add), ("--remove", remove)):
        for group, codes_text in pairs:
            where = f"{option} {group}"
            found = full.groups.get(group)
            if found is None:
                raise InputError(
                    f"unknown country group {group!r} of regime {base}",
                    where=where,
                    hint=_suggest(group, list(full.groups)),
                )
            if found.members is None:
                raise InputError(
                    f"country group {group!r} is defined as {'everyone' if found.everyone else 'a union of groups'}, "
                    "not by listed members",
                    where=where,
                    hint="amend a group that lists its members (its complement follows)",
                )
            members = {m.code for m in found.members}
            for raw in codes_text.split(","):
                code = raw.strip().upper()
                if len(code) != 2 or not code.isalpha() or not book_is_country(book, code):
                    raise InputError(f"{raw.strip()!r} is not an ISO 3166-1 alpha-2 country code", where=where)
                adding, removing = changes.setdefault(group, ([], []))
                if option == "--add":
                    if code in members or code in adding:
                        raise InputError(f"{code} is already a member of {group}", where=where)
                    adding.append(code)
                else:
                    if code not in members or code in removing:
                        raise InputError(f"{code} is not a member of {group}", where=where)
                    removing.append(code)
    amendments = tuple(Amendment(g, tuple(a), tuple(r)) for g, (a, r) in changes.items())

    proposal_summary = "; ".join(
        [
            *(f"{s.name} = {_shown(s.value)} (was {_shown(s.was)})" for s in settings),
            *(f"{a.group}: " + " ".join([*(f"+{c}" for c in a.add), *(f"-{c}" for c in a.remove)]) for a in amendments),
        ]
    )
    base_manifest = book.packs[regime.packs[-1]].manifest
    manifest: dict[str, Any] = {
        "id": pack_id,
        "jurisdiction": base_manifest.jurisdiction,
        "title": title or f"Proposal on top of {base}: {proposal_summary}"[:300],
        "citation": PROPOSAL_CITATION,
        "effective_from": effective,
        "supersedes": base,
        "revision": 1,
        "status": "derived",
        "summary": f"A proposed change to regime {base}, effective {effective.isoformat()}: {proposal_summary}. "
        "Not law: evaluate it with tiergate replay and tiergate packs diff before it is adopted.",
    }
    rules: dict[str, Any] = {}
    if settings:
        rules["parameters"] = [
            {
                "name": s.name,
                "value": s.value,
                **({"unit": s.unit} if s.unit else {}),
                "summary": f"Proposed: {s.name} = {_shown(s.value)} (in {base}: {_shown(s.was)}"
                + (f" = {fmt(s.was_value)}" if isinstance(s.was, str) else "")
                + ").",
                "citation": PROPOSAL_CITATION,
                "status": "derived",
            }
            for s in settings
        ]
    if amendments:
        rules["country_groups"] = [
            {
                "id": a.group,
                **({"add": list(a.add)} if a.add else {}),
                **({"remove": list(a.remove)} if a.remove else {}),
                "summary": f"Proposed change to the members of {a.group} "
                f"(in {base}: {len(full.groups[a.group].members or ())} members).",
                "citation": PROPOSAL_CITATION,
                "status": "derived",
            }
            for a in amendments
        ]
    regime_entry = {
        "name": pack_id,
        "title": f"{regime.title} + proposal {pack_id}"[:300],
        "packs": [*regime.packs, pack_id],
        "summary": f"Scenario: {base} with proposal {pack_id} (effective {effective.isoformat()}). Undated, so "
        "--as-of never picks it; name it with --regime or tiergate replay --to.",
    }
    return Proposal(pack_id, base, effective, tuple(settings), amendments, manifest, rules, regime_entry)


def book_is_country(book: Rulebook, code: str) -> bool:
    checker = getattr(book, "_is_country", None)
    return bool(checker(code)) if checker is not None else True


def _yaml(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)


def write_proposal(proposal: Proposal, out: Path, book: Rulebook) -> Path:
    """Write the proposal pack and its regime under ``out`` (created if needed); refuse to overwrite a pack.
    The new folder of packs is loaded and the proposal's stack compiled before anything is moved into place."""
    out = Path(out)
    target = out / proposal.pack_id
    if target.exists():
        raise InputError(f"{target} already exists", where="--out", hint="give another --id, or remove the folder")
    if out.exists() and not out.is_dir():
        raise InputError("not a folder", where=str(out))
    regimes_file = out / "regimes.yaml"
    existing: list[dict[str, Any]] = []
    if regimes_file.exists():
        try:
            loaded = yaml.safe_load(regimes_file.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as error:
            raise InputError(f"cannot read the folder's regimes: {error}", where=str(regimes_file)) from None
        if not isinstance(loaded, dict) or not isinstance(loaded.get("regimes", []), list):
            raise InputError("expected a mapping with a list `regimes`", where=str(regimes_file))
        existing = [
            r for r in loaded.get("regimes", []) if not (isinstance(r, dict) and r.get("name") == proposal.pack_id)
        ]
    regimes_text = _yaml({"regimes": [*existing, proposal.regime]})
    header = (
        f"# Proposal pack written by tiergate packs propose (base regime {proposal.base}). Not law.\n"
        f"# Evaluate: tiergate packs diff {proposal.base} {proposal.pack_id} --packs {out}\n"
        f"#           tiergate replay HISTORY --from {proposal.base} --to {proposal.pack_id} --packs {out}\n"
    )
    out.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".proposal-", dir=out))
    try:
        folder = scratch / "packs"
        (folder / proposal.pack_id).mkdir(parents=True)
        (folder / proposal.pack_id / "manifest.yaml").write_text(header + _yaml(proposal.manifest), encoding="utf-8")
        (folder / proposal.pack_id / "rules.yaml").write_text(header + _yaml(proposal.rules), encoding="utf-8")
        (folder / "regimes.yaml").write_text(regimes_text, encoding="utf-8")
        for child in out.iterdir():  # the folder's other packs, so that its regimes load as they will
            if child.is_dir() and (child / "manifest.yaml").exists():
                shutil.copytree(child, folder / child.name)
        try:
            extras = [f for f in book_extra_folders(book) if f.resolve() != out.resolve()]
            checked = load_rulebook([*extras, folder], catalogue=book.catalogue)
            checked.full(proposal.pack_id)
        except TiergateError as error:
            raise PackError(
                f"the proposal does not compile: {error.message}", where=error.where, hint=error.hint
            ) from None
        os.replace(folder / proposal.pack_id, target)
        os.replace(folder / "regimes.yaml", regimes_file)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def book_extra_folders(book: Rulebook) -> list[Path]:
    """The extra pack folders the rulebook was loaded from (besides the packaged packs)."""
    sources = book.sources
    return list(sources[0]) if sources else []

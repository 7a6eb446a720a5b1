"""Merging a stack of loaded packs into a :class:`~tiergate.rules.ruleset.Ruleset`.

Later packs amend earlier ones: an entry with the id of an earlier entry replaces it (the rule id
becomes ``<later pack>/<id>``), ``remove`` deletes entries, a country group given with
``add``/``remove`` amends the earlier group of that id. Every reference is checked here, and an
inconsistency is reported with the pack file, line and field.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tiergate.catalog import Catalogue
from tiergate.catalog.metrics import tpp
from tiergate.errors import PackError
from tiergate.rules import expr, schema
from tiergate.rules import ruleset as rs
from tiergate.rules.source import line_of, render_path


@dataclass(frozen=True)
class LoadedPack:
    manifest: schema.Manifest
    rules: schema.PackRules
    folder: Path
    raw_rules: Any
    raw_manifest: Any = None

    @property
    def rules_file(self) -> Path:
        return self.folder / "rules.yaml"

    def where(self, path: Sequence[int | str], field: str = "") -> str:
        """``file:line: path.field``, with the line of the field itself when the file has it."""
        steps: list[int | str] = [*path]
        for part in re.findall(r"[^.\[\]]+|\[\d+\]", field):
            steps.append(int(part[1:-1]) if part.startswith("[") else part)
        line = line_of(self.raw_rules, steps)
        location = f"{self.rules_file}:{line}" if line else str(self.rules_file)
        return f"{location}: {render_path(path)}{'.' + field if field else ''}"


_SECTIONS = schema.PackRules.SECTIONS


@dataclass
class _Entry:
    pack: LoadedPack
    section: str
    index: int
    spec: Any

    @property
    def rule_id(self) -> str:
        return f"{self.pack.manifest.id}/{self.spec.id}"

    def where(self, field: str = "") -> str:
        return self.pack.where([self.section, self.index], field)

    def provenance(self) -> rs.Provenance:
        spec = self.spec
        return rs.Provenance(self.rule_id, " ".join(spec.summary.split()), spec.citation, spec.status, spec.source)


DATED_QUANTITIES = frozenset({"frontier_tpp"})
"""Catalogue quantities that depend on the date: taken over the chips released on or before it."""


def frontier_chip(
    catalogue: Catalogue, bit_lengths: Mapping[str, int | None], as_of: dt.date | None = None
) -> tuple[float, str] | None:
    """The highest TPP in the catalogue and the id of the chip that has it (ties: the earliest released, then
    the id), over the chips released on or before ``as_of`` (every chip when ``as_of`` is None; a chip
    without a release date counts at every date). None when no chip with a TPP qualifies."""
    candidates = []
    for chip in catalogue:
        if as_of is not None and chip.released is not None and chip.released > as_of:
            continue
        value = tpp(chip, bit_lengths).value
        if value is not None and chip.id is not None:
            candidates.append((-value, chip.released or dt.date.min, chip.id))
    best = min(candidates, default=None)
    return (-best[0], best[2]) if best is not None else None


def catalogue_quantities(
    catalogue: Catalogue, bit_lengths: Mapping[str, int | None], as_of: dt.date | None = None
) -> dict[str, float]:
    """Quantities that thresholds may name: the TPP of the strongest catalogue chip (``frontier_tpp``, as of
    ``as_of`` when given: over the chips released by then) and of the H100 SXM (``h100_tpp``, a fixed unit)."""
    frontier = frontier_chip(catalogue, bit_lengths, as_of)
    quantities = {"frontier_tpp": frontier[0]} if frontier is not None else {}
    h100 = catalogue.get("nvidia-h100-sxm")
    if h100 is not None:
        h100_tpp = tpp(h100, bit_lengths).value
        if h100_tpp is not None:
            quantities["h100_tpp"] = h100_tpp
    return quantities


def compile_ruleset(
    regime: str,
    title: str,
    packs: Sequence[LoadedPack],
    catalogue: Catalogue,
    is_country: Callable[[str], bool] | None = None,
    *,
    as_of: dt.date | None = None,
) -> rs.Ruleset:
    """The merged ruleset of a stack. Catalogue quantities (``frontier_tpp``) are taken as of ``as_of`` when
    given, else over the whole catalogue; the ruleset records which of them its thresholds used."""
    if not packs:
        raise PackError(f"regime {regime!r} has no pack in force")
    bit_lengths: dict[str, int | None] = {}
    groups: dict[str, tuple[LoadedPack, int, schema.CountryGroup, list[schema.CountryCode | schema.Membership]]] = {}
    treated: dict[str, tuple[LoadedPack, int, schema.TreatedAs]] = {}
    params: dict[str, tuple[LoadedPack, int, schema.Parameter]] = {}
    entries: dict[str, dict[str, _Entry]] = {section: {} for section in _SECTIONS}

    for pack in packs:
        rules = pack.rules
        if rules.bit_lengths:
            bit_lengths.update({str(k): v for k, v in rules.bit_lengths.items()})
        for i, group in enumerate(rules.country_groups):
            if group.is_amendment:
                if group.id not in groups:
                    raise PackError(
                        f"amends country group {group.id!r}, which no earlier pack of the stack defines",
                        where=pack.where(["country_groups", i], "id"),
                    )
                _, _, base, members = groups[group.id]
                removed = set(group.remove)
                kept = [m for m in members if (m if isinstance(m, str) else m.code) not in removed]
                groups[group.id] = (pack, i, base, kept + list(group.add))
            else:
                groups[group.id] = (pack, i, group, list(group.members or []))
        for i, item in enumerate(rules.treated_as):
            treated[item.code] = (pack, i, item)
        for i, param in enumerate(rules.parameters):
            params[param.name] = (pack, i, param)
        for section in _SECTIONS:
            for i, spec in enumerate(getattr(rules, section)):
                for other in _SECTIONS:
                    if other != section and spec.id in entries[other]:
                        raise PackError(
                            f"id {spec.id!r} is already a {other} entry in the stack",
                            where=pack.where([section, i], "id"),
                        )
                entries[section][spec.id] = _Entry(pack, section, i, spec)
        for i, removed_id in enumerate(rules.remove):
            for section in _SECTIONS:
                if removed_id in entries[section]:
                    del entries[section][removed_id]
                    break
            else:
                raise PackError(
                    f"removes {removed_id!r}, which no earlier pack of the stack defines",
                    where=pack.where(["remove", i]),
                )

    if not bit_lengths:
        raise PackError(f"regime {regime!r}: no pack sets bit_lengths", where=str(packs[0].rules_file))

    # Parameters, possibly expressions over each other and over catalogue quantities.
    quantities = catalogue_quantities(catalogue, bit_lengths, as_of)
    resolved: dict[str, float] = {}
    used: set[str] = set()

    def resolve_param(name: str, chain: tuple[str, ...]) -> float:
        if name in resolved:
            return resolved[name]
        pack, i, param = params[name]
        where = pack.where(["parameters", i], "value")
        if name in chain:
            raise PackError(f"parameter {name!r} depends on itself ({' -> '.join((*chain, name))})", where=where)
        if isinstance(param.value, str):
            try:
                for ref in expr.names_in(param.value):
                    if ref in params:
                        resolve_param(ref, (*chain, name))
                value = expr.evaluate(param.value, _Recording({**quantities, **resolved}, used))
            except expr.ExpressionError as error:
                raise PackError(str(error), where=where) from None
        else:
            value = _finite(param.value, where)
        resolved[name] = value
        return value

    for name in params:
        resolve_param(name, ())
    values = _Recording({**quantities, **resolved}, used)

    def threshold(value: schema.Threshold, where: str) -> float:
        if isinstance(value, str):
            try:
                return expr.evaluate(value, values)
            except expr.ExpressionError as error:
                raise PackError(str(error), where=where) from None
        return _finite(value, where)

    # Country groups.
    def check_country(code: str, where: str) -> None:
        if is_country is not None and not is_country(code):
            raise PackError(f"{code!r} is not an ISO 3166-1 alpha-2 country code", where=where)

    compiled_groups: dict[str, rs.Group] = {}
    for group_id, (pack, i, spec, members) in groups.items():
        where = pack.where(["country_groups", i])
        compiled_members: tuple[rs.Member, ...] | None = None
        if spec.members is not None or spec.is_amendment:
            out = []
            for member in members:
                if isinstance(member, str):
                    check_country(member, where)
                    out.append(rs.Member(member))
                else:
                    check_country(member.code, where)
                    out.append(rs.Member(member.code, member.from_, member.until))
            compiled_members = tuple(out)
        prov = rs.Provenance(
            f"{pack.manifest.id}/{group_id}", " ".join(spec.summary.split()), spec.citation, spec.status, spec.source
        )
        compiled_groups[group_id] = rs.Group(
            group_id,
            spec.title or group_id,
            compiled_members,
            tuple(spec.union) if spec.union is not None else None,
            spec.everyone,
            tuple(spec.minus),
            prov,
        )
    for pack, i, spec, _ in groups.values():
        for ref in [*(spec.union or []), *spec.minus]:
            _check_ref(ref, compiled_groups, is_country, pack.where(["country_groups", i], "union/minus"))
    _check_acyclic(compiled_groups, groups)

    def test(value: schema.GroupTest | None, where: str) -> rs.GroupTest | None:
        if value is None:
            return None
        for ref in [*(value.in_ or []), *value.not_in]:
            _check_ref(ref, compiled_groups, is_country, where)
        parts = []
        if value.in_ is not None:
            parts.append("in " + ", ".join(value.in_))
        if value.not_in:
            parts.append("not in " + ", ".join(value.not_in))
        return rs.GroupTest(
            frozenset(value.in_) if value.in_ is not None else None, frozenset(value.not_in), " and ".join(parts)
        )

    def selector(value: schema.ItemSelector, where: str) -> rs.ItemSelector:
        if value.chips:
            for chip_id in value.chips:
                if chip_id not in catalogue:
                    raise PackError(
                        f"names chip {chip_id!r}, which the catalogue does not hold",
                        where=where,
                        hint=f"did you mean {', '.join(catalogue.suggest(chip_id)) or 'a catalogue id'}?",
                    )
        return rs.ItemSelector(
            eccns=frozenset(value.eccns) if value.eccns is not None else None,
            kinds=frozenset(value.kinds) if value.kinds is not None else None,
            datacenter=value.datacenter,
            chips=frozenset(c.id for c in (catalogue.resolve(x) for x in value.chips) if c.id) if value.chips else None,
            designer_countries=frozenset(value.designer_countries) if value.designer_countries else None,
            chip_tpp_below=threshold(value.chip_tpp_below, where) if value.chip_tpp_below is not None else None,
            memory_bandwidth_below_gbps=(
                threshold(value.memory_bandwidth_below_gbps, where)
                if value.memory_bandwidth_below_gbps is not None
                else None
            ),
            affixed_to_logic=value.affixed_to_logic,
        )

    def selectors(values: list[schema.ItemSelector], entry: _Entry) -> tuple[rs.ItemSelector, ...]:
        return tuple(selector(v, entry.where(f"items[{k}]")) for k, v in enumerate(values))

    classification = []
    for entry in entries["classification"].values():
        spec = entry.spec
        conditions = []
        for k, cond in enumerate(spec.when):
            where = entry.where(f"when[{k}]")
            value: float | bool | frozenset[str]
            if isinstance(cond.value, bool):
                value = cond.value
                shown = str(value).lower()
            elif isinstance(cond.value, list):
                value = frozenset(cond.value)
                shown = "[" + ", ".join(cond.value) + "]"
            else:
                value = threshold(cond.value, where)
                from tiergate.catalog.metrics import fmt

                shown = fmt(value) if not isinstance(cond.value, str) else f"{cond.value} = {fmt(value)}"
            conditions.append(rs.Condition(cond.metric, cond.op, value, f"{cond.metric} {cond.op} {shown}"))
        classification.append(
            rs.ClassificationRule(
                entry.provenance(),
                spec.applies_to,
                spec.effect,
                spec.eccn,
                spec.paragraph or (spec.eccn or ""),
                frozenset(spec.excludes),
                tuple(conditions),
            )
        )

    requirements = tuple(
        rs.Requirement(
            e.provenance(),
            selectors(e.spec.items, e),
            test(e.spec.destinations, e.where("destinations")),
            test(e.spec.headquarters, e.where("headquarters")),
            e.spec.worldwide,
            frozenset(e.spec.transfers) if e.spec.transfers else None,
            test(e.spec.export_from, e.where("export_from")),
        )
        for e in entries["requirements"].values()
    )
    prohibitions = tuple(
        rs.Prohibition(
            e.provenance(),
            selectors(e.spec.items, e),
            test(e.spec.destinations, e.where("destinations")),
            frozenset(e.spec.unless_end_use),
        )
        for e in entries["prohibitions"].values()
    )

    allocations: dict[str, rs.Allocation] = {}
    for e in entries["allocations"].values():
        spec = e.spec
        drawn = spec.drawn_by
        for k, name in enumerate(drawn.exceptions):
            if name not in entries["exceptions"]:
                raise PackError(
                    f"names exception {name!r}, which the stack does not define",
                    where=e.where(f"drawn_by.exceptions[{k}]"),
                )
        licence = None
        if drawn.licence is not None:
            where = e.where("drawn_by.licence")
            dest = test(drawn.licence.destinations, where)
            assert dest is not None
            licence = (tuple(selector(s, where) for s in drawn.licence.items), dest)
        shares = None
        if spec.shares is not None:
            for ref in (spec.shares.tier1_group, spec.shares.tier2_group):
                _check_ref(ref, compiled_groups, is_country, e.where("shares"))
            shares = rs.UveuShares(
                spec.shares.tier1_group,
                spec.shares.tier2_group,
                spec.shares.tier1_min,
                spec.shares.single_tier2_max,
                spec.shares.us_min_if_us_headquartered,
            )
        for code in spec.doubled_for:
            check_country(code, e.where("doubled_for"))
        allocations[spec.id] = rs.Allocation(
            e.provenance(),
            spec.id,
            spec.kind,
            spec.label,
            threshold(spec.cap_tpp, e.where("cap_tpp")) if spec.cap_tpp is not None else None,
            {year: threshold(v, e.where("cap_tpp_by_year")) for year, v in spec.cap_tpp_by_year.items()}
            if spec.cap_tpp_by_year is not None
            else None,
            spec.period,
            frozenset(spec.doubled_for),
            frozenset(drawn.exceptions),
            licence,
            spec.on_exceed,
            shares,
        )

    exceptions = []
    for e in entries["exceptions"].values():
        spec = e.spec
        if spec.limit is not None and spec.limit not in allocations:
            raise PackError(
                f"limit names allocation {spec.limit!r}, which the stack does not define", where=e.where("limit")
            )
        consignee = None
        if spec.consignee is not None:
            c = spec.consignee
            where = e.where("consignee")
            consignee = rs.ConsigneeTest(
                test(c.located_in, where),
                test(c.headquartered_in, where),
                test(c.headquartered_in_any, where),
                c.located_in_destination,
                c.veu,
            )
        exceptions.append(
            rs.LicenceException(
                e.provenance(),
                spec.symbol,
                spec.precedence,
                selectors(spec.items, e),
                test(spec.destinations, e.where("destinations")),
                frozenset(spec.transfers) if spec.transfers else None,
                consignee,
                frozenset(spec.end_use) if spec.end_use is not None else None,
                spec.limit,
                " ".join(spec.notification.split()) if spec.notification else None,
                tuple(spec.conditions),
            )
        )
    exceptions.sort(key=lambda x: x.precedence)

    reviews = [
        rs.ReviewPolicy(
            e.provenance(),
            e.spec.priority,
            e.spec.policy,
            selectors(e.spec.items, e) if e.spec.items is not None else None,
            test(e.spec.destinations, e.where("destinations")),
            test(e.spec.headquarters, e.where("headquarters")),
            frozenset(e.spec.transfers) if e.spec.transfers else None,
            test(e.spec.export_from, e.where("export_from")),
            tuple(e.spec.conditions),
        )
        for e in entries["review_policies"].values()
    ]
    reviews.sort(key=lambda x: -x.priority)

    notices = tuple(
        rs.Notice(
            e.provenance(),
            selectors(e.spec.items, e) if e.spec.items is not None else None,
            test(e.spec.destinations, e.where("destinations")),
            " ".join(e.spec.text.split()),
        )
        for e in entries["notices"].values()
    )

    treated_as: dict[str, tuple[str, rs.Provenance]] = {}
    for code, (pack, i, item) in treated.items():
        where = pack.where(["treated_as", i])
        check_country(item.code, where)
        check_country(item.as_, where)
        treated_as[code] = (
            item.as_,
            rs.Provenance(
                f"{pack.manifest.id}/treated-as-{code.lower()}",
                " ".join(item.summary.split()),
                item.citation,
                item.status,
                item.source,
            ),
        )

    monitoring = _compile_monitoring(packs, threshold, test)

    refs = tuple(
        rs.PackRef(
            p.manifest.id,
            p.manifest.revision,
            p.manifest.title,
            p.manifest.citation,
            p.manifest.effective_from,
            p.manifest.compliance_from,
            p.manifest.effective_until,
            p.manifest.status,
        )
        for p in packs
    )
    return rs.Ruleset(
        regime=regime,
        title=title,
        packs=refs,
        bit_lengths=dict(bit_lengths),
        groups=compiled_groups,
        treated_as=treated_as,
        parameters=dict(values),
        classification=tuple(classification),
        requirements=requirements,
        prohibitions=prohibitions,
        exceptions=tuple(exceptions),
        review_policies=tuple(reviews),
        allocations=allocations,
        notices=notices,
        monitoring=monitoring,
        quantities_used=frozenset(n for n in used if n in quantities and n not in params),
        quantities_as_of=as_of,
    )


class _Recording(dict[str, float]):
    """The quantities an expression may name, noting each one it reads (so that a ruleset knows whether
    its thresholds depend on the catalogue's date-dependent quantities)."""

    def __init__(self, values: Mapping[str, float], used: set[str]) -> None:
        super().__init__(values)
        self.used = used

    def __getitem__(self, name: str) -> float:
        self.used.add(name)
        return super().__getitem__(name)


def _compile_monitoring(
    packs: Sequence[LoadedPack],
    threshold: Callable[[schema.Threshold, str], float],
    test: Callable[[schema.GroupTest | None, str], rs.GroupTest | None],
) -> rs.Monitoring | None:
    """Merge the ``monitoring`` sections of a stack: entries by id, scalar settings by the last pack
    that gives them. ``None`` when no pack of the stack has a monitoring section."""
    thresholds: dict[str, rs.ComputeThreshold] = {}
    caps: dict[str, rs.UsageCap] = {}
    prohibited: dict[str, rs.ProhibitedUse] = {}
    settings: dict[str, Any] = {}
    setters: list[str] = []
    seen = False

    def prov(pack: LoadedPack, entry_id: str, spec: schema.Cited) -> rs.Provenance:
        return rs.Provenance(
            f"{pack.manifest.id}/{entry_id}", " ".join(spec.summary.split()), spec.citation, spec.status, spec.source
        )

    for pack in packs:
        section = pack.rules.monitoring
        if section is None:
            continue
        seen = True
        base = ["monitoring"]
        for i, t in enumerate(section.thresholds):
            where = pack.where([*base, "thresholds", i], "value")
            thresholds[t.id] = rs.ComputeThreshold(
                prov(pack, t.id, t), t.id, t.measure, threshold(t.value, where), t.comparator, t.label,
                t.jurisdiction, t.in_force, t.applies_from,
            )  # fmt: skip
        for i, c in enumerate(section.caps):
            where = pack.where([*base, "caps", i])
            hq = test(c.headquarters, where)
            assert hq is not None
            caps[c.id] = rs.UsageCap(prov(pack, c.id, c), c.id, c.scope, c.unit, threshold(c.cap, where), c.period, hq)
        for i, p in enumerate(section.prohibited_use):
            hq = test(p.headquarters, pack.where([*base, "prohibited_use", i]))
            assert hq is not None
            prohibited[p.id] = rs.ProhibitedUse(prov(pack, p.id, p), p.id, hq)
        for i, removed in enumerate(section.remove):
            if not any(removed in bucket for bucket in (thresholds, caps, prohibited)):
                raise PackError(
                    f"removes monitoring entry {removed!r}, which no earlier pack of the stack defines",
                    where=pack.where([*base, "remove", i]),
                )
            for bucket in (thresholds, caps, prohibited):
                bucket.pop(removed, None)
        given = False
        if section.utilisation is not None:
            u = section.utilisation
            settings["utilisation"] = rs.Utilisation(
                prov(pack, "utilisation", u), u.default, u.low, u.high, dict(u.by_vendor), u.measured_relative_error
            )
            given = True
        if section.restricted_access is not None:
            settings["restricted_access"] = test(section.restricted_access, pack.where([*base, "restricted_access"]))
            given = True
        for name in ("declared_gap_ratio", "projection_days", "window_days"):
            value = getattr(section, name)
            if value is not None:
                settings[name] = tuple(value) if isinstance(value, list) else value
                given = True
        if given:
            setters.append(pack.manifest.id)
    if not seen:
        return None
    missing = [
        name
        for name in ("utilisation", "declared_gap_ratio", "restricted_access", "projection_days", "window_days")
        if name not in settings
    ]
    if missing:
        last = next(p for p in reversed(packs) if p.rules.monitoring is not None)
        raise PackError(
            f"the stack's monitoring sections never set {', '.join(missing)}",
            where=last.where(["monitoring"]),
            hint="set them in the first pack of the stack with a monitoring section",
        )
    return rs.Monitoring(
        thresholds=tuple(thresholds.values()),
        caps=tuple(caps.values()),
        prohibited_use=tuple(prohibited.values()),
        utilisation=settings["utilisation"],
        declared_gap_ratio=float(settings["declared_gap_ratio"]),
        restricted_access=settings["restricted_access"],
        projection_days=int(settings["projection_days"]),
        window_days=settings["window_days"],
        settings_from=tuple(setters),
    )


def _finite(value: object, where: str) -> float:
    """A threshold or parameter given as a number: finite, and never a boolean (the schema refuses both already;
    this holds for packs built in code too)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise PackError(f"{value!r} is not a finite number", where=where, hint="give a number, or an expression")
    return float(value)


def _check_ref(ref: str, groups: Mapping[str, rs.Group], is_country: Callable[[str], bool] | None, where: str) -> None:
    if ref in groups:
        return
    if len(ref) == 2 and ref.isalpha() and ref.isupper():
        if is_country is None or is_country(ref):
            return
        raise PackError(f"{ref!r} is not an ISO 3166-1 alpha-2 country code", where=where)
    known = ", ".join(sorted(groups))
    raise PackError(f"unknown country group {ref!r}", where=where, hint=f"known groups: {known}")


def _check_acyclic(groups: Mapping[str, rs.Group], origin: Mapping[str, Any]) -> None:
    state: dict[str, int] = {}

    def visit(ref: str, path: tuple[str, ...]) -> None:
        if ref not in groups:
            return
        if state.get(ref) == 2:
            return
        if state.get(ref) == 1:
            pack, i, _, _ = origin[path[0]]
            raise PackError(
                f"country group {path[0]!r} is defined in terms of itself ({' -> '.join((*path, ref))})",
                where=pack.where(["country_groups", i]),
            )
        state[ref] = 1
        group = groups[ref]
        for child in [*(group.union or ()), *group.minus]:
            visit(child, (*path, ref))
        state[ref] = 2

    for ref in groups:
        visit(ref, ())

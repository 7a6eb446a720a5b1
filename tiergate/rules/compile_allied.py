"""Merging a jurisdiction's stack of alliance packs into :class:`~tiergate.rules.allied.AlliedRules`.

As for the US regimes, later packs amend earlier ones entry by entry (same ``id`` replaces, ``remove``
deletes, a country group given with ``add``/``remove`` amends the earlier one). Every jurisdiction's
territory is a group ``territory:<CODE>`` (``territory:EU`` is the 27 Member States), so that a pack says
"outside the EU" as ``not_in: ["territory:EU"]`` from the one list in ``jurisdictions.yaml``. Every
reference is checked, and a problem is reported with the pack file, line and field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tiergate.errors import PackError
from tiergate.rules import allied as al
from tiergate.rules import expr, schema
from tiergate.rules import ruleset as rs
from tiergate.rules.compile import LoadedPack, _check_acyclic
from tiergate.rules.source import render_path

SECTIONS = schema.PackRules.ALLIANCE_SECTIONS


def territory_groups(jurisdictions: Sequence[al.Jurisdiction]) -> dict[str, rs.Group]:
    """The ``territory:<CODE>`` group of every jurisdiction."""
    out = {}
    for j in jurisdictions:
        prov = rs.Provenance(f"jurisdictions/{j.code.lower()}", f"The territory of {j.title}.", j.citation, "verified")
        out[f"territory:{j.code}"] = rs.Group(
            f"territory:{j.code}",
            f"territory of {j.code}",
            tuple(rs.Member(c) for c in sorted(j.territory)),
            None,
            False,
            (),
            prov,
        )
    return out


def compile_allied(
    jurisdiction: al.Jurisdiction,
    packs: Sequence[LoadedPack],
    jurisdictions: Sequence[al.Jurisdiction],
    *,
    us_groups: frozenset[str] = frozenset(),
    is_country: Callable[[str], bool] | None = None,
) -> al.AlliedRules:
    """The merged stack ``packs`` (in order) of ``jurisdiction``'s law. ``us_groups`` names the groups of the
    US packs that a US stack may test (its memberships are taken from the US ruleset when deciding)."""
    if not packs:
        raise PackError(f"jurisdiction {jurisdiction.code!r}: no pack in the stack")
    uses_us = jurisdiction.code == "US"
    groups: dict[str, tuple[LoadedPack, int, schema.CountryGroup, list[Any]]] = {}
    params: dict[str, tuple[LoadedPack, int, schema.Parameter]] = {}
    entries: dict[str, dict[str, tuple[LoadedPack, int, Any]]] = {section: {} for section in SECTIONS}
    for pack in packs:
        rules = pack.rules
        for section in schema.PackRules.SECTIONS:
            if getattr(rules, section):
                raise PackError(
                    f"{section}: an alliance pack has no {section} (those are the US advanced-computing sections)",
                    where=pack.where([section]),
                    hint="use controls, general_authorisations, catch_all, reach and advisories",
                )
        for name in ("bit_lengths", "monitoring"):
            if getattr(rules, name):
                raise PackError(f"{name}: not part of an alliance pack", where=pack.where([name]))
        if rules.reach and not uses_us:
            raise PackError(
                "reach: only a pack of jurisdiction US says how US law reaches", where=pack.where(["reach"])
            )
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
        for i, param in enumerate(rules.parameters):
            params[param.name] = (pack, i, param)
        for section in SECTIONS:
            for i, spec in enumerate(getattr(rules, section)):
                for other in SECTIONS:
                    if other != section and spec.id in entries[other]:
                        raise PackError(
                            f"id {spec.id!r} is already a {other} entry in the stack",
                            where=pack.where([section, i], "id"),
                        )
                entries[section][spec.id] = (pack, i, spec)
        for i, removed_id in enumerate(rules.remove):
            for section in SECTIONS:
                if removed_id in entries[section]:
                    del entries[section][removed_id]
                    break
            else:
                raise PackError(
                    f"removes {removed_id!r}, which no earlier pack of the stack defines",
                    where=pack.where(["remove", i]),
                )

    values: dict[str, float] = {}

    def resolve(name: str, chain: tuple[str, ...]) -> float:
        if name in values:
            return values[name]
        pack, i, param = params[name]
        where = pack.where(["parameters", i], "value")
        if name in chain:
            raise PackError(f"parameter {name!r} depends on itself ({' -> '.join((*chain, name))})", where=where)
        if isinstance(param.value, str):
            try:
                for ref in expr.names_in(param.value):
                    if ref in params:
                        resolve(ref, (*chain, name))
                value = expr.evaluate(param.value, values)
            except expr.ExpressionError as error:
                raise PackError(str(error), where=where) from None
        else:
            value = float(param.value)
        values[name] = value
        return value

    for name in params:
        resolve(name, ())

    def number(value: schema.Threshold, where: str) -> float:
        if isinstance(value, str):
            try:
                return expr.evaluate(value, values)
            except expr.ExpressionError as error:
                raise PackError(str(error), where=where) from None
        return float(value)

    def check_country(code: str, where: str) -> None:
        if is_country is not None and not is_country(code):
            raise PackError(f"{code!r} is not an ISO 3166-1 alpha-2 country code", where=where)

    compiled: dict[str, rs.Group] = dict(territory_groups(jurisdictions))
    for group_id, (pack, i, gspec, members) in groups.items():
        where = pack.where(["country_groups", i])
        if group_id in compiled:
            raise PackError(f"group {group_id!r} is defined by jurisdictions.yaml", where=where)
        out_members: tuple[rs.Member, ...] | None = None
        if gspec.members is not None or gspec.is_amendment:
            found = []
            for member in members:
                code = member if isinstance(member, str) else member.code
                check_country(code, where)
                found.append(
                    rs.Member(member) if isinstance(member, str) else rs.Member(member.code, member.from_, member.until)
                )
            out_members = tuple(found)
        compiled[group_id] = rs.Group(
            group_id,
            gspec.title or group_id,
            out_members,
            tuple(gspec.union) if gspec.union is not None else None,
            gspec.everyone,
            tuple(gspec.minus),
            rs.Provenance(
                f"{pack.manifest.id}/{group_id}",
                " ".join(gspec.summary.split()),
                gspec.citation,
                gspec.status,
                gspec.source,
            ),
        )

    def ref_ok(ref: str, where: str) -> None:
        if ref in compiled or (uses_us and ref in us_groups):
            return
        if len(ref) == 2 and ref.isalpha() and ref.isupper():
            check_country(ref, where)
            return
        known = sorted(set(compiled) | (us_groups if uses_us else set()))
        raise PackError(f"unknown country group {ref!r}", where=where, hint=f"known groups: {', '.join(known)}")

    for pack, i, gspec, _ in groups.values():
        for ref in [*(gspec.union or []), *gspec.minus]:
            ref_ok(ref, pack.where(["country_groups", i], "union/minus"))
    _check_acyclic(compiled, {k: v for k, v in groups.items()})

    def test(value: schema.GroupTest | None, where: str) -> rs.GroupTest | None:
        if value is None:
            return None
        for ref in [*(value.in_ or []), *value.not_in]:
            ref_ok(ref, where)
        parts = []
        if value.in_ is not None:
            parts.append("in " + ", ".join(value.in_))
        if value.not_in:
            parts.append("not in " + ", ".join(value.not_in))
        return rs.GroupTest(
            frozenset(value.in_) if value.in_ is not None else None, frozenset(value.not_in), " and ".join(parts)
        )

    def selector(value: schema.AlliedSelector, where: str) -> al.AlliedSelector:
        for category in value.categories or []:
            from tiergate.catalog.model import EQUIPMENT_CATEGORIES

            if category not in EQUIPMENT_CATEGORIES:
                raise PackError(
                    f"unknown equipment category {category!r}",
                    where=where,
                    hint=f"known: {', '.join(EQUIPMENT_CATEGORIES)}",
                )
        tests = []
        for k, t in enumerate(value.when):
            if isinstance(t.value, str):
                if t.value not in values:
                    raise PackError(f"when[{k}].value: unknown parameter {t.value!r}", where=where)
                shown = f"{t.value} = {values[t.value]:g}"
                resolved: float | bool = values[t.value]
            else:
                resolved = t.value
                shown = str(t.value).lower() if isinstance(t.value, bool) else f"{t.value:g}"
            tests.append(al.ParamTest(t.param, t.op, resolved, f"{t.param} {t.op} {shown}"))
        return al.AlliedSelector(
            kinds=frozenset(value.kinds) if value.kinds is not None else None,
            categories=frozenset(value.categories) if value.categories is not None else None,
            equipment=frozenset(value.equipment) if value.equipment is not None else None,
            us_eccns=tuple(value.us_eccns) if value.us_eccns is not None else None,
            except_us_eccns=tuple(value.except_us_eccns),
            catalogued=value.catalogued,
            when=tuple(tests),
        )

    def selectors(values_: list[schema.AlliedSelector] | None, where: str) -> tuple[al.AlliedSelector, ...] | None:
        if values_ is None:
            return None
        return tuple(selector(v, f"{where}[{k}]") for k, v in enumerate(values_))

    def prov(pack: LoadedPack, spec: Any) -> rs.Provenance:
        summary = " ".join(spec.summary.split())
        return rs.Provenance(f"{pack.manifest.id}/{spec.id}", summary, spec.citation, spec.status, spec.source)

    def gap(spec: Any) -> str | None:
        return " ".join(spec.gap.split()) if spec.gap else None

    controls = []
    for pack, i, spec in entries["controls"].values():
        at = pack.where(["controls", i])
        items = selectors(spec.items, pack.where(["controls", i], "items"))
        assert items is not None
        controls.append(
            al.Control(
                prov(pack, spec),
                spec.id,
                spec.entry,
                items,
                test(spec.destinations, at),
                frozenset(spec.end_use) if spec.end_use is not None else None,
                spec.result,
                spec.review_policy,
                gap(spec),
            )
        )
    control_ids = {c.id for c in controls}
    authorisations = []
    for pack, i, spec in entries["general_authorisations"].values():
        for k, ref in enumerate([*(spec.covers or []), *spec.excludes]):
            if ref not in control_ids:
                raise PackError(
                    f"names control {ref!r}, which the stack does not define",
                    where=pack.where(
                        ["general_authorisations", i], "covers" if k < len(spec.covers or []) else "excludes"
                    ),
                    hint=f"controls: {', '.join(sorted(control_ids)) or 'none'}",
                )
        dest = test(spec.destinations, pack.where(["general_authorisations", i], "destinations"))
        assert dest is not None
        authorisations.append(
            al.GeneralAuthorisation(
                prov(pack, spec),
                spec.id,
                spec.symbol,
                frozenset(spec.covers) if spec.covers is not None else None,
                frozenset(spec.excludes),
                dest,
                tuple(" ".join(c.split()) for c in spec.conditions),
                gap(spec),
            )
        )
    catch_all = tuple(
        al.CatchAll(
            prov(pack, spec),
            spec.id,
            spec.list_code,
            selectors(spec.items, pack.where(["catch_all", i], "items")),
            test(spec.destinations, pack.where(["catch_all", i], "destinations")),
            spec.result,
            spec.review_policy,
            " ".join(spec.unless.split()) if spec.unless else None,
        )
        for pack, i, spec in entries["catch_all"].values()
    )
    reach = []
    for pack, i, spec in entries["reach"].values():
        where = pack.where(["reach", i])
        reach.append(
            al.ReachHook(
                prov(pack, spec),
                spec.id,
                spec.hook,
                spec.label,
                selectors(spec.items, pack.where(["reach", i], "items")),
                test(spec.destinations, where),
                test(spec.headquarters, where),
                spec.worldwide,
                frozenset(spec.end_use) if spec.end_use is not None else None,
                test(spec.excluded_if_exported_from, where),
                spec.excluded_if_exporter_controls,
                number(spec.threshold_pct, where) if spec.threshold_pct is not None else None,
                tuple(
                    (dest, number(lower.threshold_pct, where))
                    for lower in spec.lower_thresholds
                    if (dest := test(lower.destinations, where)) is not None
                ),
                " ".join(spec.notice.split()) if spec.notice else None,
                gap(spec),
            )
        )
    advisories = tuple(
        al.Advisory(
            prov(pack, spec),
            spec.id,
            selectors(spec.items, pack.where(["advisories", i], "items")),
            test(spec.destinations, pack.where(["advisories", i], "destinations")),
            " ".join(spec.text.split()),
        )
        for pack, i, spec in entries["advisories"].values()
    )
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
    holder = rs.Ruleset(
        regime=f"{jurisdiction.code.lower()}:{packs[-1].manifest.id}",
        title=jurisdiction.title,
        packs=refs,
        bit_lengths={},
        groups=compiled,
        treated_as={},
        parameters=values,
        classification=(),
        requirements=(),
        prohibitions=(),
        exceptions=(),
        review_policies=(),
        allocations={},
        notices=(),
    )
    return al.AlliedRules(
        jurisdiction=jurisdiction,
        groups=holder,
        controls=tuple(controls),
        general_authorisations=tuple(authorisations),
        catch_all=catch_all,
        reach=tuple(reach),
        advisories=advisories,
        uses_us_groups=uses_us,
    )


def where_of(pack: LoadedPack, path: Sequence[int | str]) -> str:
    return f"{pack.rules_file}: {render_path(path)}"


def describe(rules: al.AlliedRules) -> Mapping[str, Any]:
    """The stack's entries as plain data (``tiergate packs show`` of a jurisdiction)."""

    def row(kind: str, p: rs.Provenance, label: str, gap: str | None = None) -> dict[str, Any]:
        return {
            "kind": kind,
            "id": p.rule_id,
            "label": label,
            "summary": p.summary,
            "citation": p.citation,
            "status": p.status,
            **({"gap": gap} if gap else {}),
        }

    return {
        "jurisdiction": rules.code,
        "title": rules.jurisdiction.title,
        "authority": rules.jurisdiction.authority,
        "packs": list(rules.pack_labels),
        "parameters": dict(rules.groups.parameters),
        "rules": [
            *(row("control", c.provenance, f"{c.entry} ({c.result})", c.gap) for c in rules.controls),
            *(row("general_auth", g.provenance, g.symbol, g.gap) for g in rules.general_authorisations),
            *(row("catch_all", c.provenance, c.list_code) for c in rules.catch_all),
            *(row("reach", r.provenance, r.label, r.gap) for r in rules.reach),
            *(row("advisory", a.provenance, "") for a in rules.advisories),
        ],
    }

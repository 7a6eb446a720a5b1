"""What changed between two rulesets: thresholds, country groups, rules, exceptions and caps."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from tiergate.catalog.metrics import fmt
from tiergate.rules import ruleset as rs


def _entry_id(rule_id: str) -> str:
    return rule_id.split("/", 1)[1] if "/" in rule_id else rule_id


def _comparable(entry: Any) -> Any:
    """An entry without the pack-qualified parts of its provenance, for comparison."""
    if dataclasses.is_dataclass(entry) and not isinstance(entry, type):
        values = {}
        for f in dataclasses.fields(entry):
            value = getattr(entry, f.name)
            if isinstance(value, rs.Provenance):
                value = (value.summary, value.citation, value.status)
            else:
                value = _comparable(value)
            values[f.name] = value
        return tuple(sorted(values.items(), key=lambda kv: kv[0]))
    if isinstance(entry, tuple | list):
        return tuple(_comparable(v) for v in entry)
    if isinstance(entry, frozenset):
        return tuple(sorted(map(str, entry)))
    if isinstance(entry, dict):
        return tuple(sorted((str(k), _comparable(v)) for k, v in entry.items()))
    return entry


def _members(group: rs.Group, day: dt.date | None) -> set[str] | None:
    if group.members is None:
        return None
    return {m.code for m in group.members if day is None or m.on(day)}


def _describe_group(group: rs.Group) -> str:
    if group.everyone:
        return "everyone" + (f" minus {', '.join(group.minus)}" if group.minus else "")
    if group.union is not None:
        return "union of " + ", ".join(group.union) + (f" minus {', '.join(group.minus)}" if group.minus else "")
    return f"{len(group.members or ())} members"


def diff_rulesets(a: rs.Ruleset, b: rs.Ruleset, day: dt.date | None = None) -> dict[str, Any]:
    """A structured diff of ``a`` -> ``b``; ``day`` evaluates dated group memberships on that day."""
    out: dict[str, Any] = {
        "from": a.regime,
        "to": b.regime,
        "parameters": [],
        "country_groups": [],
        "rules": [],
        "caps": [],
    }
    for name in sorted(set(a.parameters) | set(b.parameters)):
        old, new = a.parameters.get(name), b.parameters.get(name)
        if old != new:
            out["parameters"].append({"name": name, "from": old, "to": new})
    for gid in sorted(set(a.groups) | set(b.groups)):
        ga, gb = a.groups.get(gid), b.groups.get(gid)
        if ga is None or gb is None:
            present = gb or ga
            assert present is not None
            out["country_groups"].append(
                {"group": gid, "change": "added" if ga is None else "removed", "definition": _describe_group(present)}
            )
            continue
        ma, mb = _members(ga, day), _members(gb, day)
        if ma is not None and mb is not None:
            dated_a = {(m.code, m.start, m.until) for m in ga.members or ()}
            dated_b = {(m.code, m.start, m.until) for m in gb.members or ()}
            if ma != mb or dated_a != dated_b:
                out["country_groups"].append(
                    {
                        "group": gid,
                        "change": "members",
                        "added": sorted(mb - ma),
                        "removed": sorted(ma - mb),
                        "dated": sorted(f"{c} {s or ''}..{u or ''}" for c, s, u in dated_a ^ dated_b),
                    }
                )
        elif _describe_group(ga) != _describe_group(gb):
            out["country_groups"].append(
                {"group": gid, "change": "definition", "from": _describe_group(ga), "to": _describe_group(gb)}
            )
    sections: dict[str, tuple[Any, ...]] = {}
    for label, getter in (
        ("classification", lambda r: r.classification),
        ("requirement", lambda r: r.requirements),
        ("prohibition", lambda r: r.prohibitions),
        ("exception", lambda r: r.exceptions),
        ("review_policy", lambda r: r.review_policies),
        ("allocation", lambda r: tuple(r.allocations.values())),
        ("notice", lambda r: r.notices),
    ):
        sections[label] = (getter(a), getter(b))
    for label, (ea, eb) in sections.items():
        by_a = {_entry_id(e.provenance.rule_id): e for e in ea}
        by_b = {_entry_id(e.provenance.rule_id): e for e in eb}
        for key in sorted(set(by_a) | set(by_b)):
            x, y = by_a.get(key), by_b.get(key)
            if x is None:
                assert y is not None
                out["rules"].append(
                    {"kind": label, "id": y.provenance.rule_id, "change": "added", "summary": y.provenance.summary}
                )
            elif y is None:
                out["rules"].append(
                    {"kind": label, "id": x.provenance.rule_id, "change": "removed", "summary": x.provenance.summary}
                )
            elif _comparable(x) != _comparable(y):
                out["rules"].append(
                    {
                        "kind": label,
                        "id": y.provenance.rule_id,
                        "change": "changed",
                        "was": x.provenance.rule_id,
                        "summary": y.provenance.summary,
                    }
                )
    for key in sorted(set(a.allocations) | set(b.allocations)):
        xa, xb = a.allocations.get(key), b.allocations.get(key)
        cap_a = (
            None if xa is None else (xa.cap_tpp if xa.cap_tpp is not None else dict(xa.cap_tpp_by_year or {}) or None)
        )
        cap_b = (
            None if xb is None else (xb.cap_tpp if xb.cap_tpp is not None else dict(xb.cap_tpp_by_year or {}) or None)
        )
        if cap_a != cap_b:
            out["caps"].append({"allocation": key, "from": cap_a, "to": cap_b})
    return out


def render_diff(diff: dict[str, Any]) -> list[str]:
    lines = [f"Changes from {diff['from']} to {diff['to']}:"]

    def val(v: Any) -> str:
        if v is None:
            return "(absent)"
        if isinstance(v, float):
            return fmt(v)
        if isinstance(v, dict):
            return ", ".join(f"{k}: {fmt(x)}" for k, x in v.items())
        return str(v)

    if diff["parameters"]:
        lines.append("Thresholds and parameters:")
        lines += [f"  {p['name']}: {val(p['from'])} -> {val(p['to'])}" for p in diff["parameters"]]
    if diff["country_groups"]:
        lines.append("Country groups:")
        for g in diff["country_groups"]:
            if g["change"] == "members":
                parts = []
                if g["added"]:
                    parts.append("+" + ", +".join(g["added"]))
                if g["removed"]:
                    parts.append("-" + ", -".join(g["removed"]))
                if g["dated"] and not parts:
                    parts.append("dated membership changed: " + "; ".join(g["dated"]))
                lines.append(f"  {g['group']}: {' '.join(parts)}")
            elif g["change"] == "definition":
                lines.append(f"  {g['group']}: {g['from']} -> {g['to']}")
            else:
                lines.append(f"  {g['group']}: {g['change']} ({g['definition']})")
    if diff["caps"]:
        lines.append("Caps:")
        lines += [f"  {c['allocation']}: {val(c['from'])} -> {val(c['to'])} TPP" for c in diff["caps"]]
    if diff["rules"]:
        lines.append("Rules, exceptions and policies:")
        for r in diff["rules"]:
            sign = {"added": "+", "removed": "-", "changed": "~"}[r["change"]]
            was = f" (was {r['was']})" if r.get("was") and r["was"] != r["id"] else ""
            lines.append(f"  {sign} {r['kind']} {r['id']}{was}: {r['summary']}")
    if len(lines) == 1:
        lines.append("  no differences")
    return lines

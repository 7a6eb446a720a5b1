"""One decision for a transaction that engages more than US law alone: each jurisdiction that reaches it
answers on its own, and the top-level answer is the strictest of them.

Pure: the US ruleset, the US reach stack, each allied law in force (compiled alliance packs), the
listings screening found and the denial notices are passed in. The steps of the legal reasoning, each
its own function:

1. the facts of each item (its class, its US classification for chips, its origin);
2. which laws apply: the law of the exporting country's territory (national, then the EU's for a
   Member State), and US law through the hooks of ``tiergate.decide.reach``; every law applies together,
   none replaces another;
3. each law's answer for each item (``tiergate.decide.allied``; chips that US law reaches are decided by
   the US regime, ``tiergate.decide.decide``, so that US answers stay exactly what they were);
4. the combined answer: the strictest outcome (prohibited > licence, a definite one before a review >
   an authorisation > no licence); every required licence is listed with its jurisdiction, and a
   general authorisation of one jurisdiction never cancels another's licence requirement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from tiergate.catalog.model import Chip, Equipment
from tiergate.classify import classify
from tiergate.classify.model import Classification, ModelWeights, System
from tiergate.decide import decide, parties_of
from tiergate.decide.allied import (
    Findings,
    ItemAnswer,
    ItemFacts,
    advisories,
    decide_item,
    denial_notice,
    item_keys,
    matching_denials,
    summarise,
)
from tiergate.decide.model import (
    OUTCOMES,
    POLICIES,
    Decision,
    DenialNotice,
    ItemDecision,
    JurisdictionDecision,
    Listing,
    Transaction,
)
from tiergate.decide.reach import Reach, us_reach
from tiergate.decide.route import route
from tiergate.errors import InputError
from tiergate.rules.allied import AlliedRules, Jurisdiction
from tiergate.rules.ruleset import Ruleset

__all__ = ["Law", "decide_combined", "item_facts"]


@dataclass(frozen=True, slots=True)
class Law:
    """A law that an export from its territory engages: the compiled stack in force, or ``None`` when
    Tiergate holds no pack of it for the date (``jurisdiction.before_first_pack`` says what that means)."""

    jurisdiction: Jurisdiction
    rules: AlliedRules | None


# ---------------------------------------------------------------- step 1: facts


def item_facts(txn: Transaction, us: Ruleset) -> tuple[list[ItemFacts], list[Classification | None]]:
    """The facts of every item, with the US classification of the chip-like ones."""
    facts: list[ItemFacts] = []
    classes: list[Classification | None] = []
    for i, line in enumerate(txn.items):
        origin = line.origin
        item = line.item
        given = origin is not None
        country = origin.country if origin is not None else None
        content = origin.us_content_pct if origin is not None else None
        tech = origin.made_with_us_technology if origin is not None else None
        if isinstance(item, Equipment):
            classes.append(None)
            facts.append(
                ItemFacts(
                    i,
                    "equipment",
                    item.label,
                    item.id,
                    item.category,
                    item.us_eccn,
                    dict(item.parameters),
                    country or item.made_in,
                    content,
                    tech,
                    given,
                    line.quantity,
                    tuple(f"catalogue {item.id}: {r}" for r in item.recalled) if item.id else (),
                )
            )
            continue
        cls = classify(item, us)
        classes.append(cls)
        made_in = item.designer_country if isinstance(item, Chip) and item.kind == "hbm" else None
        facts.append(
            ItemFacts(
                i,
                cls.kind,
                cls.name,
                cls.chip_id if isinstance(item, (Chip, System)) else None,
                None,
                cls.eccn,
                {},
                country or (made_in if given else None),
                content,
                tech,
                given,
                line.quantity,
            )
        )
    return facts, classes


# ---------------------------------------------------------------- step 3: each law


def _eu_members(laws: Sequence[Law]) -> frozenset[str]:
    """The EU Member States (the EU law's territory), when EU law is among ``laws``."""
    return next((law.jurisdiction.territory for law in laws if law.jurisdiction.code == "EU"), frozenset())


def _law_answer(
    law: Law,
    txn: Transaction,
    facts: Sequence[ItemFacts],
    *,
    listings: Sequence[Listing],
    denials: Sequence[DenialNotice],
    eu_members: frozenset[str],
) -> tuple[JurisdictionDecision, list[ItemAnswer], Findings]:
    """One allied law's answer (reached through the exporter's territory)."""
    j = law.jurisdiction
    tag = f"[{j.code}]"
    out = Findings()
    if law.rules is None:
        if j.before_first_pack == "not_engaged":
            out.lines.append(f"{tag} {j.title}: no measure of this law before {j.first_pack}; not engaged.")
            return _not_reached(j, f"no measure before {j.first_pack}"), [], out
        answers = [ItemAnswer("license_required", "license", None, True, None, None) for _ in facts]
        start = f"before {j.first_pack}" if j.first_pack else "at all"
        gap = f"Tiergate holds no pack of {j.title} {start}: confirm whether a licence is needed."
        out.lines.append(f"{tag} Review: {gap}")
        out.recalled.append(f"{j.code} law {start}: not encoded")
        return _answer(j, (), f"export from {j.code}", answers, out, [gap]), answers, out
    rules = law.rules
    key: tuple[object, ...] | None = None
    if not listings and not denials:  # the same law, destination and items answer the same: memoised
        key = (
            "law-answer",
            txn.export_from,
            txn.destination,
            rules.groups.epoch(txn.date),
            txn.end_use,
            tuple(
                (f.index, f.kind, f.catalogue_id, f.category, f.us_eccn, tuple(sorted(f.parameters.items())),
                 f.origin, f.us_content_pct, f.made_with_us_technology, f.origin_given)
                for f in facts
            ),
        )  # fmt: skip
        cached = rules.groups.memo.get(key)
        if isinstance(cached, tuple):
            return cached
    result = _law_answer_of(law, rules, txn, facts, listings=listings, denials=denials, eu_members=eu_members)
    if key is not None:
        rules.groups.memo[key] = result
    return result


def _law_answer_of(
    law: Law,
    rules: AlliedRules,
    txn: Transaction,
    facts: Sequence[ItemFacts],
    *,
    listings: Sequence[Listing],
    denials: Sequence[DenialNotice],
    eu_members: frozenset[str],
) -> tuple[JurisdictionDecision, list[ItemAnswer], Findings]:
    j = law.jurisdiction
    tag = f"[{j.code}]"
    out = Findings()
    if txn.destination in j.territory:
        out.lines.append(
            f"{tag} {txn.export_from} to {txn.destination} stays within the territory of {j.code} law: not an "
            f"export under it."
        )
        return _not_reached(j, None, rules.pack_labels), [], out
    dest = rules.groups.memberships(txn.destination, txn.date)
    out.lines.append(
        f"{tag} {j.title} reaches it: an export from {txn.export_from} ({', '.join(rules.pack_labels)}; licensing "
        f"authority: {j.authority})."
    )

    def eu_side(code: str) -> bool:
        return code == "EU" or code in eu_members or (code == j.code and (j.code == "EU" or j.member_of == "EU"))

    answers = [
        decide_item(
            rules, f, dest, txn, listings=listings, denials=denials, out=out, tag=tag, deciding=j.code, eu_side=eu_side
        )
        for f in facts
    ]
    notices = [*out.notices, *advisories(rules, facts, dest)]
    return _answer(j, rules.pack_labels, f"export from {j.code}", answers, out, notices, rules), answers, out


def _not_reached(j: Jurisdiction, why: str | None, packs: tuple[str, ...] = ()) -> JurisdictionDecision:
    return JurisdictionDecision(
        j.code, j.title, packs, False, why, "no_license_required", None, None, False, j.authority, (), (), (), ()
    )


def _answer(
    j: Jurisdiction,
    packs: tuple[str, ...],
    hook: str,
    answers: Sequence[ItemAnswer],
    out: Findings,
    notices: Sequence[str],
    rules: AlliedRules | None = None,
) -> JurisdictionDecision:
    outcome, authorization, policy, indeterminate = summarise(answers)
    if outcome == "no_license_required":
        authorization = "NLR"
    fired = tuple(dict.fromkeys(r for a in answers for r in a.rules))
    citations = tuple(dict.fromkeys(c for r in fired if rules is not None and (c := rules.citation_of(r))))
    summary = {
        "no_license_required": "no licence required",
        "authorized": f"authorised under {authorization}",
        "license_required": "licence required"
        + (f", review policy {policy.replace('_', ' ')}" if policy else "")
        + (" (review: scope not confirmed)" if indeterminate else ""),
        "prohibited": "prohibited",
    }[outcome]
    out.lines.append(f"[{j.code}] Answer: {summary}.")
    return JurisdictionDecision(
        j.code,
        j.title,
        packs,
        True,
        hook,
        outcome,
        authorization,
        policy,
        indeterminate,
        j.authority,
        tuple(a.as_item(i) for i, a in enumerate(answers)),
        fired,
        citations,
        tuple(dict.fromkeys(notices)),
    )


# ---------------------------------------------------------------- step 3: US law


@dataclass(slots=True)
class _UsPart:
    decision: JurisdictionDecision
    answers: list[ItemAnswer]
    sub: Decision | None
    mapping: list[int]
    out: Findings


def _us_answer(
    txn: Transaction,
    us: Ruleset,
    reach: AlliedRules | None,
    us_law: Jurisdiction,
    facts: Sequence[ItemFacts],
    exporter_controls: Sequence[bool],
    classes: Sequence[Classification | None],
    *,
    balances: Mapping[str, float] | None,
    selection: str | None,
    explain: bool,
    listings: Sequence[Listing],
    denials: Sequence[DenialNotice],
) -> _UsPart:
    out = Findings()
    day = txn.date

    def member(code: str) -> frozenset[str]:
        own = reach.groups.memberships(code, day) if reach is not None else frozenset()
        return own | us.memberships(code, day)

    party = parties_of(txn, us)
    reaches: list[Reach] = [
        us_reach(
            f,
            txn,
            reach,
            member,
            exporter_controls=exporter_controls[f.index],
            prohibition=None if (cls := classes[f.index]) is None else route(cls, party, us).prohibition,
        )
        for f in facts
    ]
    for r in reaches:
        out.lines.extend(r.lines)
        out.recalled.extend(r.recalled)
        out.notices.extend(r.notices)
    answers = [ItemAnswer(hook=r.hook, rules=list(r.rules)) for r in reaches]
    chips = [f.index for f in facts if f.kind != "equipment" and reaches[f.index].state != "not_reached"]
    sub = None
    if chips:
        sub = decide(
            replace(txn, items=tuple(txn.items[i] for i in chips)),
            us,
            balances=balances,
            selection=selection,
            explain=explain,
        )
        if chips != list(range(len(txn.items))):
            out.lines.append(
                "[US] The US regime's lines below number the items it decides: "
                + ", ".join(f"{k} is item {i}" for k, i in enumerate(chips))
                + "."
            )
        out.lines.extend(_us_lines(sub.explanation))
        for k, i in enumerate(chips):
            item = sub.items[k]
            a = answers[i]
            a.outcome, a.authorization, a.review_policy = item.outcome, item.authorization, item.review_policy
            a.entry = item.eccn if item.eccn != "not_controlled" else None
            a.rules.extend(item.rules)
            a.indeterminate = reaches[i].state == "indeterminate" and item.outcome == "license_required"
            if a.indeterminate:
                a.authorization = "license"
    eu_members: frozenset[str] = frozenset()
    for f in facts:
        r = reaches[f.index]
        if f.kind != "equipment" or r.state == "not_reached":
            continue
        a = answers[f.index]
        if reach is None:
            a.outcome, a.authorization, a.indeterminate = "license_required", "license", True
            out.lines.append(f"[US] Item {f.index}: no US pack for equipment is in force on {day}: review.")
            continue
        dest = member(txn.destination)
        a2 = decide_item(
            reach,
            f,
            dest,
            txn,
            listings=listings,
            denials=(),
            out=out,
            tag="[US]",
            deciding="US",
            eu_side=lambda code: code in eu_members,
        )
        a.outcome, a.authorization, a.review_policy, a.entry = a2.outcome, a2.authorization, a2.review_policy, a2.entry
        a.rules.extend(a2.rules)
        a.indeterminate = a2.indeterminate or (r.state == "indeterminate" and a2.outcome == "license_required")
        if f.us_eccn is None and a2.outcome == "no_license_required":
            a.outcome, a.authorization, a.indeterminate = "license_required", "license", True
            out.lines.append(
                f"[US] Item {f.index}: review: its US ECCN is not established, so the US controls cannot be "
                f"ruled out; give us_eccn."
            )
    for f in facts:
        for denial in matching_denials(denials, txn, item_keys(f, [answers[f.index].entry or ""])):
            out.notices.append(f"Item {f.index}: " + denial_notice(denial, "US", lambda code: False))
    reached = any(r.state != "not_reached" for r in reaches)
    hooks = list(dict.fromkeys(r.hook for r in reaches if r.hook))
    if not reached:
        out.lines.append("[US] US law does not reach the transaction.")
        decision = replace(
            _not_reached(us_law, "no US hook reaches the items", us.pack_labels + (reach.pack_labels if reach else ())),
            notices=tuple(dict.fromkeys(out.notices)),
        )
        return _UsPart(decision, [ItemAnswer() for _ in facts], sub, chips, out)
    packs = us.pack_labels + (reach.pack_labels if reach is not None else ())
    decision = _answer(us_law, packs, "; ".join(hooks) or "indeterminate", answers, out, out.notices, reach)
    citations = tuple(dict.fromkeys((*(sub.citations if sub else ()), *decision.citations)))
    return _UsPart(replace(decision, citations=citations), answers, sub, chips, out)


def _us_lines(lines: Sequence[str]) -> list[str]:
    """The US regime's explanation as part of a combined one: tagged, and its outcome line named the US's."""
    out = []
    for line in lines:
        if line.startswith("Relies on recalled"):  # the combined explanation lists them all once
            continue
        if line.startswith("Outcome: "):
            line = "Answer: " + line.removeprefix("Outcome: ")
        out.append(f"[US] {line}")
    return out


# ---------------------------------------------------------------- step 4: combined


def _rank(j: JurisdictionDecision) -> tuple[int, int, int]:
    policy = POLICIES.index(j.review_policy) if j.review_policy else -1
    return (OUTCOMES.index(j.outcome), 0 if j.indeterminate else 1, policy)


def decide_combined(
    txn: Transaction,
    us: Ruleset,
    laws: Sequence[Law],
    us_law: Jurisdiction,
    us_reach_rules: AlliedRules | None,
    *,
    balances: Mapping[str, float] | None = None,
    selection: str | None = None,
    explain: bool = True,
    listings: Sequence[Listing] = (),
    denials: Sequence[DenialNotice] = (),
) -> Decision:
    """The combined decision for ``txn``: every law in ``laws`` (reached by the exporter's territory) and US
    law (``us`` for chips, ``us_reach_rules`` for its reach and its equipment controls)."""
    if not txn.items:
        raise InputError("a transaction needs at least one item", where=f"transaction {txn.id or ''}".strip())
    facts, classes = item_facts(txn, us)
    eu_members = _eu_members(laws)
    allied = [_law_answer(law, txn, facts, listings=listings, denials=denials, eu_members=eu_members) for law in laws]
    controls = [any(answers[f.index].caught_by_control for _, answers, _ in allied if answers) for f in facts]
    us_part = _us_answer(
        txn,
        us,
        us_reach_rules,
        us_law,
        facts,
        controls,
        classes,
        balances=balances,
        selection=selection,
        explain=explain,
        listings=listings,
        denials=denials,
    )
    parts = [(d, a, o) for d, a, o in allied] + [(us_part.decision, us_part.answers, us_part.out)]
    return _combine(txn, us, facts, parts, us_part, selection=selection, explain=explain)


def _combine(
    txn: Transaction,
    us: Ruleset,
    facts: Sequence[ItemFacts],
    parts: Sequence[tuple[JurisdictionDecision, list[ItemAnswer], Findings]],
    us_part: _UsPart,
    *,
    selection: str | None,
    explain: bool,
) -> Decision:
    decisions = [d for d, _, _ in parts]
    engaged = [d for d in decisions if d.reached]
    strictest = max(engaged, key=_rank) if engaged else decisions[-1]
    final = strictest.outcome
    first = next(d for d in engaged or decisions if d.outcome == final)
    policies = [d.review_policy for d in engaged if d.outcome == "license_required" and d.review_policy]
    final_policy = max(policies, key=POLICIES.index) if final == "license_required" and policies else None
    items = [_item(f, parts, us_part, txn) for f in facts]
    rules = tuple(dict.fromkeys(r for d in engaged for r in d.rules))
    citations = tuple(dict.fromkeys(c for d in engaged for c in d.citations))
    conditions = [*(us_part.sub.conditions if us_part.sub else ())]
    recalled = [*(us_part.sub.recalled if us_part.sub else ())]
    for d, _, out in parts:
        if d.reached:
            conditions.extend(out.conditions)
            recalled.extend(out.recalled)
        conditions.extend(f"{d.jurisdiction}: {n}" for n in d.notices if n.startswith(("Item", "CONSULT", "UNDERCUT")))
    for f in facts:
        recalled.extend(f.recalled)
    lines: list[str] = []
    if explain:
        lines = _explanation(txn, us, facts, parts, selection, final, first, final_policy, strictest, recalled)
    tpp_total = sum(i.tpp_total for i in items if i.tpp_total is not None)
    return Decision(
        id=txn.id,
        regime=us.regime,
        packs=tuple(dict.fromkeys(p for d in decisions for p in d.packs)),
        date=txn.date,
        outcome=final,
        authorization={"no_license_required": "NLR", "license_required": "license", "prohibited": None}.get(
            final, first.authorization
        ),
        review_policy=final_policy,
        items=tuple(items),
        tpp_total=tpp_total,
        allocations=us_part.sub.allocations if us_part.sub else (),
        rules=rules,
        citations=citations,
        explanation=tuple(lines),
        conditions=tuple(dict.fromkeys(conditions)),
        recalled=tuple(dict.fromkeys(recalled)),
        provisional=any(d.indeterminate for d in engaged if d.outcome == final)
        or (us_part.sub.provisional if us_part.sub else False)
        or any(i.provisional for i in items),
        jurisdictions=tuple(decisions),
    )


def _item(
    f: ItemFacts,
    parts: Sequence[tuple[JurisdictionDecision, list[ItemAnswer], Findings]],
    us_part: _UsPart,
    txn: Transaction,
) -> ItemDecision:
    """The item's strictest answer across the laws that reach it, with the US figures for a chip."""
    answers = [(d, a[f.index]) for d, a, _ in parts if d.reached and a]
    best = (
        max((a for _, a in answers), key=lambda a: (OUTCOMES.index(a.outcome), 0 if a.indeterminate else 1))
        if answers
        else ItemAnswer()
    )
    rules = tuple(dict.fromkeys(r for _, a in answers for r in a.rules))
    sub_item = None
    if us_part.sub is not None and f.index in us_part.mapping:
        sub_item = us_part.sub.items[us_part.mapping.index(f.index)]
    line = txn.items[f.index]
    if sub_item is not None:
        return replace(
            sub_item,
            index=f.index,
            outcome=best.outcome,
            authorization=_item_authorization(best),
            review_policy=best.review_policy if best.outcome == "license_required" else None,
            provisional=sub_item.provisional or best.indeterminate,
            rules=rules,
        )
    item = line.item
    eccn = f.us_eccn or "unknown"
    tpp = None
    if not isinstance(item, (Equipment, ModelWeights)) and f.us_eccn is not None:
        eccn = f.us_eccn
    return ItemDecision(
        index=f.index,
        kind=f.kind,
        name=f.name,
        chip=f.catalogue_id if f.kind != "equipment" else None,
        eccn=eccn,
        paragraph=None,
        tpp=tpp,
        performance_density=None,
        quantity=line.quantity,
        tpp_total=None,
        outcome=best.outcome,
        authorization=_item_authorization(best),
        review_policy=best.review_policy if best.outcome == "license_required" else None,
        provisional=best.indeterminate,
        rules=rules,
    )


def _kind(d: JurisdictionDecision) -> str:
    return "prohibited" if d.outcome == "prohibited" else "review" if d.indeterminate else "licence"


def _item_authorization(answer: ItemAnswer) -> str | None:
    return {"no_license_required": "NLR", "license_required": "license", "prohibited": None}.get(
        answer.outcome, answer.authorization
    )


def _explanation(
    txn: Transaction,
    us: Ruleset,
    facts: Sequence[ItemFacts],
    parts: Sequence[tuple[JurisdictionDecision, list[ItemAnswer], Findings]],
    selection: str | None,
    final: str,
    first: JurisdictionDecision,
    final_policy: str | None,
    strictest: JurisdictionDecision,
    recalled: Sequence[str],
) -> list[str]:
    c = txn.consignee
    laws = ", ".join(d.jurisdiction for d, _, _ in parts)
    lines = [
        f"Transaction {txn.id or '(no id)'}: export from {txn.export_from} to {txn.destination} on {txn.date} for "
        f"ultimate consignee {c.name!r} (located {c.country}, headquarters {c.headquarters}"
        f"{', ultimate parent ' + c.parent_headquarters if c.parent_headquarters else ''})"
        f"{', end use ' + txn.end_use if txn.end_use else ''}; laws considered: {laws}; US regime {us.regime}."
    ]
    if selection:
        lines.append(selection)
    for f in facts:
        made = f" made in {f.origin}" if f.origin else ""
        extra = []
        if f.us_content_pct is not None:
            extra.append(f"US-origin content {f.us_content_pct:g} %")
        if f.made_with_us_technology is not None:
            extra.append("made with US technology" if f.made_with_us_technology else "not made with US technology")
        what = f"category {f.category}; US ECCN {f.us_eccn or 'not established'}" if f.kind == "equipment" else f.kind
        lines.append(
            f"Item {f.index}: {f.quantity:,} x {f.name} ({what}{';' + made if made else ''}"
            f"{'; ' + ', '.join(extra) if extra else ''})."
        )
    for d, _, out in parts:
        lines.extend(out.lines)
        lines.extend(f"[{d.jurisdiction}] Note: {n}" for n in d.notices)
    needed = [d for d, _, _ in parts if d.reached and d.outcome in ("license_required", "prohibited")]
    if needed:
        lines.append(
            "Licences required: "
            + "; ".join(
                f"{d.jurisdiction} ({_kind(d)}{', ' + d.review_policy.replace('_', ' ') if d.review_policy else ''}; "
                f"{d.authority})"
                for d in needed
            )
            + ". A general authorisation of one jurisdiction never cancels another's licence requirement."
        )
    summary = {
        "no_license_required": "No licence required in any jurisdiction that reaches the transaction.",
        "authorized": f"Authorised under {first.authorization} ({first.jurisdiction}).",
        "license_required": f"Licence required ({strictest.jurisdiction} the strictest"
        + (", a review: scope not confirmed" if strictest.indeterminate else "")
        + ")"
        + (f"; review policy: {final_policy.replace('_', ' ')}." if final_policy else "."),
        "prohibited": f"Prohibited ({strictest.jurisdiction}).",
    }[final]
    lines.append(f"Outcome: {summary}")
    if recalled:
        lines.append(
            "Relies on recalled (unverified) facts; confirm before relying on this answer: "
            + "; ".join(dict.fromkeys(recalled))
            + "."
        )
    return lines

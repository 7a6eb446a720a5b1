"""Licence determination: a transaction and a ruleset in, a decision with its explanation out.

Pure: everything it needs (the ruleset, allocation balances, the date inside the transaction) is
passed in. The order of the determination, for each item:

1. a prohibition that reaches the item (e.g. General Prohibition 10 guidance) -> ``prohibited``;
2. no licence requirement reaches it -> ``no_license_required`` (NLR);
3. the first licence exception or VEU authorisation it is eligible for, in the pack's precedence
   order -> ``authorized``; an exception with a quantity limit (LPP) or a capped allocation (NVEU)
   counts the whole transaction's draw against the cap, or the remaining balance when balances are
   given, and is passed over when the draw does not fit;
4. otherwise ``license_required``, with the review policy of highest priority that matches (ties:
   the most restrictive); a licensed export that draws a capped allocation (the Tier 2 country
   allocation) beyond its cap or balance is reviewed under that allocation's ``on_exceed`` policy.

The transaction's outcome is the most restrictive of its items'; its authorisation is that of the
first item with that outcome; its review policy the most restrictive among licence-required items.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from tiergate.classify import classify
from tiergate.classify.metrics import fmt
from tiergate.classify.model import Classification
from tiergate.decide.model import (
    OUTCOMES,
    POLICIES,
    AllocationDraw,
    Consignee,
    Decision,
    ItemDecision,
    LineItem,
    Transaction,
)
from tiergate.decide.route import DEFAULT_POLICY, Parties, Route, parties, route
from tiergate.errors import InputError
from tiergate.rules.ruleset import (
    Allocation,
    ClassificationRule,
    LicenceException,
    Notice,
    Prohibition,
    Requirement,
    ReviewPolicy,
    Ruleset,
    UveuShares,
    compare,
)

__all__ = [
    "Consignee",
    "Decision",
    "LineItem",
    "Transaction",
    "allocation_account",
    "decide",
    "drawable_allocations",
    "parties_of",
    "uveu_headroom",
]

NOT_AN_EXPORT = ("core/not-an-export", "15 CFR 734.13-734.16 (definitions of export, reexport and transfer)")


def allocation_account(allocation: Allocation, consignee: Consignee, destination: str, day: dt.date) -> str:
    """The ledger account an allocation draws for a consignee, destination and date. A UVEU's location
    accounts are keyed by the entity (its headquarters), so that its installed base adds up across them."""
    prefix = allocation.label.split(":", 1)[0]
    consignee_key = consignee.entity_key if allocation.kind == "uveu_location" else consignee.key
    if allocation.kind == "consignee_year":
        return f"{prefix}:{consignee_key}:{day.year}"
    if allocation.kind == "country_period":
        return f"{prefix}:{destination}:{allocation.period}"
    if allocation.kind == "nveu_country_quarter":
        return f"{prefix}:{consignee_key}:{destination}:{day.year}Q{(day.month - 1) // 3 + 1}"
    return f"{prefix}:{consignee_key}:{destination}"


def uveu_headroom(
    shares: UveuShares,
    installed: Mapping[str, float],
    destination: str,
    *,
    us_headquartered: bool,
    tier: Callable[[str], str | None],
) -> float:
    """The most TPP a UVEU may add at ``destination`` with its geographic allocation still met, given its
    installed TPP per country: at least ``tier1_min`` of the total in Tier 1, at most ``single_tier2_max``
    in any one Tier 2 country, and, if US-headquartered, at least ``us_min_if_us_headquartered`` in the US.
    ``tier(country)`` says ``tier1``, ``tier2`` or None."""
    total = sum(installed.values())
    here = installed.get(destination, 0.0)
    in_tier1 = sum(tpp for country, tpp in installed.items() if tier(country) == "tier1")
    bounds = []
    if tier(destination) != "tier1" and shares.tier1_min > 0:
        bounds.append(in_tier1 / shares.tier1_min - total)
    if tier(destination) == "tier2":
        bounds.append((shares.single_tier2_max * total - here) / (1 - shares.single_tier2_max))
    if us_headquartered and destination != "US" and shares.us_min_if_us_headquartered > 0:
        bounds.append(installed.get("US", 0.0) / shares.us_min_if_us_headquartered - total)
    return max(0.0, min(bounds)) if bounds else float("inf")


def parties_of(txn: Transaction, rules: Ruleset) -> Parties:
    """The parties of a transaction as the rules see them on its date."""
    c = txn.consignee
    return parties(
        rules,
        txn.date,
        export_from=txn.export_from,
        destination=txn.destination,
        transfer=txn.transfer,
        located=c.country,
        headquarters=c.headquarters,
        parent=c.parent_headquarters,
        veu=c.veu,
        end_use=txn.end_use,
    )


def _account(allocation: Allocation, txn: Transaction) -> str:
    return allocation_account(allocation, txn.consignee, txn.destination, txn.date)


def _limiting_allocation(option: LicenceException, rules: Ruleset) -> Allocation | None:
    """The capped allocation an exception is limited by: its ``limit``, or one it draws that is
    unavailable when exceeded."""
    if option.limit is not None:
        return rules.allocations[option.limit]
    for allocation in rules.allocations.values():
        if option.provenance.rule_id.split("/", 1)[1] in allocation.drawn_by_exceptions:
            return allocation
    return None


def drawable_allocations(rt: Route, rules: Ruleset) -> tuple[Allocation, ...]:
    """Every allocation a transaction of this route may draw, whichever option ends up chosen: the allocation
    that limits each licence exception or authorisation it is eligible for, and those a licence would draw.
    The determination depends on the balances of exactly these (with the quantity)."""
    found: dict[str, Allocation] = {}
    for option in rt.options:
        limited = _limiting_allocation(option, rules)
        if limited is not None:
            found.setdefault(limited.id, limited)
    for allocation in rt.licence_allocations:
        found.setdefault(allocation.id, allocation)
    return tuple(found.values())


def _pool_verdict(
    label: str,
    draw: float | None,
    room: float | None,
    cap: float | None,
    remaining: float | None,
    fits: bool,
    unit: float | None,
    item: int | None,
) -> str:
    if draw is None:
        return f"{label} cannot be used: the TPP of an item is unknown, so the limit cannot be checked."
    if room is None:
        return (
            f"{label}: draws {fmt(draw)} TPP; the allocation's share rules are checked against the installed base "
            f"by the ledger (no balance given)."
        )
    basis = (
        f"remaining balance {fmt(room)} of cap {fmt(cap) if cap is not None else 'n/a'}"
        if remaining is not None
        else f"cap {fmt(room)} (balances not consulted: earlier use in the period must be added)"
    )
    text = f"{label}: draws {fmt(draw)} TPP against the {basis}: {'fits' if fits else 'exceeds it'}."
    if not fits and unit and item is not None:
        most = max(0, int((room + 1e-9 * max(1.0, room)) // unit))
        text += f" At most {most} unit(s) of item {item} would fit."
    return text


@dataclass(slots=True)
class _Determination:
    """The determination of one transaction as it proceeds, item by item (index ``i`` throughout): each step of
    :func:`decide` reads and completes it."""

    txn: Transaction
    rules: Ruleset
    balances: Mapping[str, float] | None
    explain: bool
    classes: list[Classification]
    routes: list[Route]
    domestic: bool
    totals: list[float | None]
    """TPP of each item line (TPP x quantity); None when the item's TPP is unknown."""
    outcome: list[str]
    auth: list[str | None]
    review: list[str | None]
    item_rules: list[list[str]]
    pointer: list[int]
    """Each item's licence exception or authorisation under consideration (an index into its route's options)."""
    draws: list[AllocationDraw]
    pool_lines: list[str]
    recalled: list[str]
    conditions: list[str]

    def waiting(self, i: int) -> bool:
        """Item ``i`` needs a licence so far and still has an exception or authorisation to try."""
        return self.outcome[i] == "license_required" and self.pointer[i] < len(self.routes[i].options)

    def allocation_state(self, allocation: Allocation) -> tuple[str, float | None, float | None, float | None]:
        """The account an allocation draws for this transaction, its cap, the balance given, and the room left."""
        account = _account(allocation, self.txn)
        cap = allocation.cap_for(self.txn.destination, self.txn.date.year)
        remaining = self.balances.get(account) if self.balances is not None else None
        return account, cap, remaining, remaining if remaining is not None else cap

    def note_recalled_cap(self, allocation: Allocation) -> None:
        if allocation.provenance.recalled:
            self.recalled.append(f"{allocation.provenance.rule_id}: {allocation.provenance.citation} (cap)")


def decide(
    txn: Transaction,
    rules: Ruleset,
    *,
    balances: Mapping[str, float] | None = None,
    selection: str | None = None,
    explain: bool = True,
) -> Decision:
    """The licence determination for ``txn`` under ``rules``, in the order of the module's docstring.

    ``balances`` maps allocation accounts (see :class:`AllocationDraw`) to the TPP remaining in
    them; without it only the caps themselves are checked, and the explanation says so.
    ``selection`` is a sentence on why this regime applies, added to the explanation.
    ``explain=False`` leaves the explanation empty (every other field is the same); batch work uses it.
    """
    if not txn.items:
        raise InputError("a transaction needs at least one item", where=f"transaction {txn.id or ''}".strip())
    work = _classify_and_route(txn, rules, balances, explain)
    _apply_requirements(work)  # steps 1, 2 and 4: prohibited, not reached (NLR), or a licence is required
    _try_exceptions(work)  # step 3: the first exception or authorisation whose pooled limit fits
    _authorise(work)
    _draw_licence_allocations(work)  # step 4: what a licence would draw, and the review beyond the cap
    items = _item_decisions(work)
    return _transaction_decision(work, items, selection)


def _classify_and_route(
    txn: Transaction, rules: Ruleset, balances: Mapping[str, float] | None, explain: bool
) -> _Determination:
    """Classify each item and find which rules reach it for these parties (its route)."""
    classes = [classify(line.item, rules) for line in txn.items]
    party = parties_of(txn, rules)
    return _Determination(
        txn=txn,
        rules=rules,
        balances=balances,
        explain=explain,
        classes=classes,
        routes=[route(cls, party, rules) for cls in classes],
        domestic=txn.export_from == "US" and txn.destination == "US",
        totals=[
            (cls.tpp * line.quantity) if cls.tpp is not None else None
            for cls, line in zip(classes, txn.items, strict=True)
        ],
        outcome=[],
        auth=[],
        review=[],
        item_rules=[],
        pointer=[0] * len(classes),
        draws=[],
        pool_lines=[],
        recalled=[],
        conditions=[],
    )


def _apply_requirements(work: _Determination) -> None:
    """Each item's first verdict: a prohibition that reaches it (even inside the US), no export at all, no
    licence requirement reaching it (NLR), or a licence required under its review policy."""
    for i, (cls, rt) in enumerate(zip(work.classes, work.routes, strict=True)):
        work.item_rules.append(list(cls.rules))
        if rt.prohibition is not None:  # a prohibition (GP10) reaches dealings inside the US too
            verdict: tuple[str, str | None, str | None] = ("prohibited", None, None)
            work.item_rules[i].append(rt.prohibition.rule_id)
        elif work.domestic:
            verdict = ("no_license_required", "NLR", None)
            work.item_rules[i].append(NOT_AN_EXPORT[0])
        elif not rt.requirements:
            verdict = ("no_license_required", "NLR", None)
        else:
            verdict = ("license_required", "license", rt.review.policy if rt.review else DEFAULT_POLICY)
            work.item_rules[i].extend(p.rule_id for p in rt.requirements)
        work.outcome.append(verdict[0])
        work.auth.append(verdict[1])
        work.review.append(verdict[2])


def _try_exceptions(work: _Determination) -> None:
    """Exceptions and authorisations, in precedence order; quantity limits are pooled over the transaction. An
    option whose pool does not fit is passed over for every item in the pool, and the pools are formed again."""
    while True:
        pools: dict[str, list[int]] = {}
        for i, rt in enumerate(work.routes):
            if work.waiting(i):
                limited = _limiting_allocation(rt.options[work.pointer[i]], work.rules)
                if limited is not None:
                    pools.setdefault(limited.id, []).append(i)
        failed = False
        for allocation_id, members in pools.items():
            if not _pool_fits(work, work.rules.allocations[allocation_id], members):
                failed = True
                for i in members:
                    work.pointer[i] += 1
        if not failed:
            return


def _pool_fits(work: _Determination, allocation: Allocation, members: list[int]) -> bool:
    """Whether the items of a pool, together, fit the allocation limiting the option they are trying (drawn if
    so); the verdict is explained either way."""
    account, cap, remaining, room = work.allocation_state(allocation)
    need = [work.totals[i] for i in members]
    draw = None if any(v is None for v in need) else sum(v for v in need if v is not None)
    fits = draw is not None and (room is None or compare(draw, "<=", room))
    if fits and draw is not None:
        work.draws.append(
            AllocationDraw(allocation.label, account, allocation.provenance.rule_id, draw, cap, remaining)
        )
    if work.explain:
        symbol = work.routes[members[0]].options[work.pointer[members[0]]].symbol
        single = members[0] if len(members) == 1 else None
        work.pool_lines.append(
            _pool_verdict(
                f"{symbol} ({allocation.provenance.rule_id}, account {account})",
                draw,
                room,
                cap,
                remaining,
                fits,
                work.classes[members[0]].tpp if single is not None else None,
                single,
            )
        )
    work.note_recalled_cap(allocation)
    return fits


def _authorise(work: _Determination) -> None:
    """An item with an exception or authorisation left is authorised under it, with its conditions."""
    for i, rt in enumerate(work.routes):
        if not work.waiting(i):
            continue
        chosen = rt.options[work.pointer[i]]
        work.outcome[i] = "authorized"
        work.auth[i] = chosen.symbol
        work.review[i] = None
        work.item_rules[i].append(chosen.provenance.rule_id)
        if chosen.notification:
            work.conditions.append(f"{chosen.symbol}: {chosen.notification}")
        work.conditions.extend(f"{chosen.symbol}: {text}" for text in chosen.conditions)
        limited = _limiting_allocation(chosen, work.rules)
        if limited is not None:
            work.item_rules[i].append(limited.provenance.rule_id)


def _draw_licence_allocations(work: _Determination) -> None:
    """Allocations a licence would draw (the Tier 2 country allocation); beyond the cap or balance, the
    application is reviewed under the allocation's ``on_exceed`` policy."""
    licensed_pools: dict[str, list[int]] = {}
    for i, rt in enumerate(work.routes):
        if work.outcome[i] == "license_required":
            for allocation in rt.licence_allocations:
                licensed_pools.setdefault(allocation.id, []).append(i)
            if rt.review is not None:
                work.item_rules[i].append(rt.review.provenance.rule_id)
                work.conditions.extend(f"Licence: {text}" for text in rt.review.conditions)
    for allocation_id, members in licensed_pools.items():
        allocation = work.rules.allocations[allocation_id]
        account, cap, remaining, room = work.allocation_state(allocation)
        known = [work.totals[i] for i in members if work.totals[i] is not None]
        draw = sum(v for v in known if v is not None)
        fits = room is None or (len(known) == len(members) and compare(draw, "<=", room))
        for i in members:
            work.item_rules[i].append(allocation.provenance.rule_id)
        if fits:
            work.draws.append(
                AllocationDraw(allocation.label, account, allocation.provenance.rule_id, draw, cap, remaining)
            )
        elif allocation.on_exceed in POLICIES:
            for i in members:
                work.review[i] = allocation.on_exceed
        work.note_recalled_cap(allocation)
        if work.explain:
            work.pool_lines.extend(_licence_draw_lines(work.txn, allocation, account, draw, cap, remaining, fits))


def _licence_draw_lines(
    txn: Transaction,
    allocation: Allocation,
    account: str,
    draw: float,
    cap: float | None,
    remaining: float | None,
    fits: bool,
) -> list[str]:
    room = remaining if remaining is not None else cap
    doubled = (
        " (doubled under a government-to-government agreement)" if txn.destination in allocation.doubled_for else ""
    )
    basis = (
        f"remaining balance {fmt(remaining)} of cap {fmt(cap) if cap is not None else 'n/a'}{doubled}"
        if remaining is not None
        else f"cap {fmt(room) if room is not None else 'n/a'}{doubled} (balances not consulted)"
    )
    text = (
        f"A licence would draw the {allocation.label} allocation ({allocation.provenance.rule_id}, account "
        f"{account}): {fmt(draw)} TPP against the {basis}"
    )
    lines = [
        text + "."
        if fits
        else text
        + f": exceeds it, so the application would be reviewed under {allocation.on_exceed.replace('_', ' ')}."
    ]
    if allocation.provenance.recalled:
        lines.append(f"The cap of {allocation.provenance.rule_id} is recalled: {allocation.provenance.summary}")
    return lines


def _item_decisions(work: _Determination) -> list[ItemDecision]:
    """Each item's decision, and the recalled (unverified) facts each relies on."""
    items: list[ItemDecision] = []
    refs: set[str] = set()
    for i, (line, cls, rt) in enumerate(zip(work.txn.items, work.classes, work.routes, strict=True)):
        work.recalled.extend(cls.recalled)
        work.recalled.extend(f"{p.rule_id}: {p.citation}" for p in rt.recalled_rules)
        refs |= rt.group_refs
        if work.outcome[i] == "authorized":
            chosen = rt.options[work.pointer[i]]
            if chosen.provenance.recalled:
                work.recalled.append(f"{chosen.provenance.rule_id}: {chosen.provenance.citation}")
            if chosen.destinations is not None:
                refs |= chosen.destinations.refs()
        elif work.outcome[i] == "license_required" and rt.review is not None and rt.review.provenance.recalled:
            work.recalled.append(f"{rt.review.provenance.rule_id}: {rt.review.provenance.citation}")
        items.append(
            ItemDecision(
                index=i,
                kind=cls.kind,
                name=cls.name,
                chip=cls.chip_id,
                eccn=cls.eccn,
                paragraph=cls.paragraph,
                tpp=cls.tpp,
                performance_density=cls.performance_density,
                quantity=line.quantity,
                tpp_total=work.totals[i],
                outcome=work.outcome[i],
                authorization=work.auth[i],
                review_policy=work.review[i],
                provisional=cls.provisional,
                rules=tuple(dict.fromkeys(work.item_rules[i])),
            )
        )
    work.recalled.extend(_recalled_groups(work.rules, frozenset(refs)))
    work.recalled = list(dict.fromkeys(work.recalled))
    return items


def _transaction_decision(work: _Determination, items: list[ItemDecision], selection: str | None) -> Decision:
    """The transaction's outcome is the most restrictive of its items'; its authorisation that of the first item
    with that outcome; its review policy the most restrictive among licence-required items."""
    count = len(items)
    outcome, review = work.outcome, work.review
    worst = max(range(count), key=lambda k: OUTCOMES.index(outcome[k]))
    final = outcome[worst]
    first = next(k for k in range(count) if outcome[k] == final)
    policies = [review[k] for k in range(count) if outcome[k] == "license_required" and review[k]]
    final_review = max(policies, key=POLICIES.index) if final == "license_required" and policies else None
    all_rules = tuple(dict.fromkeys(rule for item in items for rule in item.rules))
    notices = {n.provenance.rule_id: n for rt in work.routes for n in rt.notices}
    lines = (
        _explanation(work, selection, final, work.auth[first], final_review, list(notices.values()))
        if work.explain
        else []
    )
    return Decision(
        id=work.txn.id,
        regime=work.rules.regime,
        packs=work.rules.pack_labels,
        date=work.txn.date,
        outcome=final,
        authorization=work.auth[first],
        review_policy=final_review,
        items=tuple(items),
        tpp_total=sum(t for t in work.totals if t is not None),
        allocations=tuple(work.draws),
        rules=all_rules,
        citations=_citations(work.rules, all_rules, work.domestic),
        explanation=tuple(lines),
        conditions=tuple(dict.fromkeys(work.conditions)),
        recalled=tuple(work.recalled),
        provisional=any(it.provisional for it in items)
        or any(t is None and cls.kind != "model_weights" for t, cls in zip(work.totals, work.classes, strict=True)),
    )


def _recalled_groups(rules: Ruleset, refs: frozenset[str]) -> list[str]:
    key = ("recalled-groups", refs)
    cached = rules.memo.get(key)
    if isinstance(cached, list):
        return cached
    out = []
    for group in rules.recalled_groups(refs):
        prov = rules.groups[group].provenance
        out.append(f"membership of {group} ({prov.rule_id}; {prov.citation})")
    rules.memo[key] = out
    return out


def _citations(rules: Ruleset, rule_ids: tuple[str, ...], domestic: bool) -> tuple[str, ...]:
    key = ("citations", rule_ids, domestic)
    cached = rules.memo.get(key)
    if isinstance(cached, tuple):
        return cached
    cached_index = rules.memo.get("citation-index")
    index: dict[str, str] = cached_index if isinstance(cached_index, dict) else {}
    if not index:
        entries: list[ClassificationRule | Requirement | Prohibition | LicenceException | ReviewPolicy | Allocation] = [
            *rules.classification,
            *rules.requirements,
            *rules.prohibitions,
            *rules.exceptions,
            *rules.review_policies,
            *rules.allocations.values(),
        ]
        for entry in entries:
            index[entry.provenance.rule_id] = entry.provenance.citation
        rules.memo["citation-index"] = index
    found = [index[r] for r in rule_ids if r in index]
    if domestic and NOT_AN_EXPORT[0] in rule_ids:
        found.append(NOT_AN_EXPORT[1])
    result = tuple(dict.fromkeys(found))
    rules.memo[key] = result
    return result


def _explanation(
    work: _Determination,
    selection: str | None,
    final: str,
    final_auth: str | None,
    final_review: str | None,
    notices: list[Notice],
) -> list[str]:
    """The explanation a compliance officer files: the transaction, why this regime, each item's classification,
    route and verdict, the allocations, the outcome, notices and the recalled facts relied on."""
    txn, rules, classes, routes = work.txn, work.rules, work.classes, work.routes
    outcome, auth, review, pointer = work.outcome, work.auth, work.review, work.pointer
    pool_lines, recalled, domestic = work.pool_lines, work.recalled, work.domestic
    c = txn.consignee
    lines = [
        f"Transaction {txn.id or '(no id)'}: {txn.transfer.replace('_', '-')} from {txn.export_from} to "
        f"{txn.destination} on {txn.date} for ultimate consignee {c.name!r} (located {c.country}, "
        f"headquarters {c.headquarters}{', ultimate parent ' + c.parent_headquarters if c.parent_headquarters else ''}"
        f"{', ' + c.veu if c.veu else ''}){', end use ' + txn.end_use if txn.end_use else ''}; "
        f"regime {rules.regime} ({', '.join(p.label for p in rules.packs)})."
    ]
    if selection:
        lines.append(selection)
    for i, (line, cls, rt) in enumerate(zip(txn.items, classes, routes, strict=True)):
        lines.append(f"Item {i}: {line.quantity:,} x {cls.name}.")
        lines.extend(cls.explanation)
        if domestic and rt.prohibition is None:
            lines.append(
                "Not an export: the item stays in the United States; no EAR export licence requirement applies "
                "[core/not-an-export]."
            )
        else:
            lines.extend(rt.lines)
        if outcome[i] == "authorized":
            chosen = rt.options[pointer[i]]
            p = chosen.provenance
            lines.append(f"Item {i}: authorised under {auth[i]}: {p.summary} [{p.rule_id}; {p.citation}].")
        elif outcome[i] == "license_required":
            verdict = f"licence required; review policy {str(review[i]).replace('_', ' ')}"
            if rt.review is None:
                lines.append(f"Item {i}: {verdict} (no review policy of the pack matches; case by case assumed).")
            else:
                p = rt.review.provenance
                lines.append(f"Item {i}: {verdict}: {p.summary} [{p.rule_id}; {p.citation}].")
        else:
            lines.append(f"Item {i}: {'prohibited' if outcome[i] == 'prohibited' else 'no licence required (NLR)'}.")
    lines.extend(pool_lines)
    summary = {
        "no_license_required": "No licence required (NLR).",
        "authorized": f"Authorised under {final_auth}.",
        "license_required": f"Licence required; review policy: {str(final_review).replace('_', ' ')}.",
        "prohibited": "Prohibited.",
    }[final]
    lines.append(f"Outcome: {summary}")
    for notice in notices:
        lines.append(f"Note: {notice.text} [{notice.provenance.rule_id}]")
    for code in dict.fromkeys(x for x in (txn.destination, c.country, c.headquarters, c.parent_headquarters) if x):
        treated = rules.treated_as.get(code)
        if treated is not None:
            lines.append(f"{code} is treated as {treated[0]}: {treated[1].summary} [{treated[1].rule_id}]")
    if recalled:
        lines.append(
            "Relies on recalled (unverified) facts; confirm before relying on this answer: " + "; ".join(recalled) + "."
        )
    return lines

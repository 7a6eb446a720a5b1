"""The quantity-independent part of a determination: one classified item, one set of parties.

For an item and the parties of a transaction this finds, in order: a prohibition; the licence
requirements that apply; the licence exceptions and authorisations the item is eligible for (in
precedence order, before any quantity limit); the review policy a licence application would get;
and the allocations a licensed export would draw. The result is memoised on the ruleset.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from tiergate.classify.model import Classification
from tiergate.rules.ruleset import (
    Allocation,
    ConsigneeTest,
    GroupTest,
    ItemSelector,
    LicenceException,
    Notice,
    Prohibition,
    Provenance,
    Requirement,
    ReviewPolicy,
    Ruleset,
    compare,
)

DEFAULT_POLICY = "case_by_case"


@dataclass(frozen=True, slots=True)
class Parties:
    """Who and where, as group memberships on the transaction date."""

    destination: str
    export_from: str
    transfer: str
    dest: frozenset[str]
    origin: frozenset[str]
    located: frozenset[str]
    located_code: str
    hq: frozenset[str]
    hq_code: str
    parent: frozenset[str] | None
    parent_code: str | None
    veu: str | None
    end_use: str | None


def parties(
    rules: Ruleset,
    day: dt.date,
    *,
    export_from: str,
    destination: str,
    transfer: str,
    located: str,
    headquarters: str,
    parent: str | None,
    veu: str | None,
    end_use: str | None,
) -> Parties:
    key = ("parties", rules.epoch(day), export_from, destination, transfer, located, headquarters, parent, veu, end_use)
    cached = rules.memo.get(key)
    if isinstance(cached, Parties):
        return cached
    result = Parties(
        destination,
        export_from,
        transfer,
        rules.memberships(destination, day),
        rules.memberships(export_from, day),
        rules.memberships(located, day),
        located,
        rules.memberships(headquarters, day),
        headquarters,
        rules.memberships(parent, day) if parent else None,
        parent,
        veu,
        end_use,
    )
    rules.memo[key] = result
    return result


@dataclass(frozen=True, slots=True)
class Route:
    prohibition: Provenance | None
    requirements: tuple[Provenance, ...]
    options: tuple[LicenceException, ...]
    review: ReviewPolicy | None
    licence_allocations: tuple[Allocation, ...]
    notices: tuple[Notice, ...]
    lines: tuple[str, ...]
    group_refs: frozenset[str]
    recalled_rules: tuple[Provenance, ...]


def selects(selector: ItemSelector, c: Classification) -> bool:
    if selector.eccns is not None and c.eccn not in selector.eccns:
        return False
    if selector.kinds is not None and c.kind not in selector.kinds:
        return False
    if selector.datacenter is not None and c.datacenter != selector.datacenter:
        return False
    if selector.chips is not None and c.chip_id not in selector.chips:
        return False
    if selector.designer_countries is not None and c.designer_country not in selector.designer_countries:
        return False
    if selector.chip_tpp_below is not None and (
        c.chip_tpp is None or not compare(c.chip_tpp, "<", selector.chip_tpp_below)
    ):
        return False
    if selector.memory_bandwidth_below_gbps is not None and (
        c.memory_bandwidth_gbps is None
        or not compare(c.memory_bandwidth_gbps, "<", selector.memory_bandwidth_below_gbps)
    ):
        return False
    return selector.affixed_to_logic is None or c.affixed_to_logic == selector.affixed_to_logic


def selects_any(selectors: tuple[ItemSelector, ...] | None, c: Classification) -> bool:
    return selectors is None or any(selects(s, c) for s in selectors)


def _in(test: GroupTest, memberships: frozenset[str]) -> str:
    """Which of the test's groups the memberships hit, for the explanation."""
    hits = sorted((test.any_of or frozenset()) & memberships)
    return ", ".join(hits)


def _hq_any(test: GroupTest, p: Parties) -> bool:
    return test.passes(p.hq) or (p.parent is not None and test.passes(p.parent))


def _hq_all(test: GroupTest, p: Parties) -> bool:
    return test.passes(p.hq) and (p.parent is None or test.passes(p.parent))


def _hq_words(p: Parties) -> str:
    return f"headquarters {p.hq_code}" + (f", ultimate parent {p.parent_code}" if p.parent_code else "")


def _consignee_fails(test: ConsigneeTest, p: Parties) -> str | None:
    if test.veu is not None and p.veu != test.veu:
        return f"the consignee holds no {test.veu} authorisation" + (f" (it holds {p.veu})" if p.veu else "")
    if test.located_in is not None and not test.located_in.passes(p.located):
        return f"consignee located in {p.located_code}, which is not {test.located_in.text}"
    if test.located_in_destination and p.located_code != p.destination:
        return f"consignee located in {p.located_code}, not in the destination {p.destination}"
    if test.headquartered_in is not None and not _hq_all(test.headquartered_in, p):
        return f"consignee {_hq_words(p)}: not all {test.headquartered_in.text}"
    if test.headquartered_in_any is not None and not _hq_any(test.headquartered_in_any, p):
        return f"consignee {_hq_words(p)}: neither {test.headquartered_in_any.text}"
    return None


def _exception_fails(e: LicenceException, p: Parties) -> str | None:
    if e.transfers is not None and p.transfer not in e.transfers:
        return f"covers {'/'.join(sorted(e.transfers))}, not this {p.transfer.replace('_', '-')}"
    if e.destinations is not None and not e.destinations.passes(p.dest):
        return f"destination {p.destination} is not {e.destinations.text}"
    if e.end_use is not None and p.end_use not in e.end_use:
        return f"end use {p.end_use or 'not stated'} is not {'/'.join(sorted(e.end_use))}"
    if e.consignee is not None:
        return _consignee_fails(e.consignee, p)
    return None


def _scope_hits(
    destinations: GroupTest | None,
    headquarters: GroupTest | None,
    worldwide: bool,
    transfers: frozenset[str] | None,
    export_from: GroupTest | None,
    p: Parties,
) -> str | None:
    """Why a requirement or review policy reaches these parties, or None when it does not.
    Every test given must hold (a review policy may name both destinations and headquarters)."""
    if transfers is not None and p.transfer not in transfers:
        return None
    if export_from is not None and not export_from.passes(p.origin):
        return None
    if worldwide:
        return "worldwide"
    reasons = []
    if destinations is not None:
        if not destinations.passes(p.dest):
            return None
        reasons.append(f"destination {p.destination} is in {_in(destinations, p.dest) or 'scope'}")
    if headquarters is not None:
        if not _hq_any(headquarters, p):
            return None
        reasons.append(f"consignee {_hq_words(p)}, in {_in(headquarters, p.hq | (p.parent or frozenset())) or 'scope'}")
    if reasons:
        return "; ".join(reasons)
    if headquarters is None and destinations is None:
        return "all destinations"
    return None


def route(c: Classification, p: Parties, rules: Ruleset) -> Route:
    key = ("route", id(c), p)
    cached = rules.memo.get(key)
    if isinstance(cached, Route):
        return cached
    result = _route(c, p, rules)
    rules.memo[key] = result
    return result


@dataclass(frozen=True, slots=True)
class _Relevant:
    """The rules whose item selectors pick a classification (independent of the parties)."""

    notices: tuple[Notice, ...]
    prohibitions: tuple[Prohibition, ...]
    requirements: tuple[Requirement, ...]
    exceptions: tuple[LicenceException, ...]
    review_policies: tuple[ReviewPolicy, ...]
    licence_allocations: tuple[Allocation, ...]


def _relevant(c: Classification, rules: Ruleset) -> _Relevant:
    key = ("relevant", id(c))
    cached = rules.memo.get(key)
    if isinstance(cached, _Relevant):
        return cached
    result = _Relevant(
        tuple(n for n in rules.notices if selects_any(n.items, c)),
        tuple(x for x in rules.prohibitions if selects_any(x.items, c)),
        tuple(x for x in rules.requirements if selects_any(x.items, c)),
        tuple(x for x in rules.exceptions if selects_any(x.items, c)),
        tuple(x for x in rules.review_policies if selects_any(x.items, c)),
        tuple(
            a
            for a in rules.allocations.values()
            if a.drawn_by_licence is not None and any(selects(s, c) for s in a.drawn_by_licence[0])
        ),
    )
    rules.memo[key] = result
    return result


def _route(c: Classification, p: Parties, rules: Ruleset) -> Route:
    lines: list[str] = []
    refs: set[str] = set()
    recalled: list[Provenance] = []
    relevant = _relevant(c, rules)
    notices = tuple(n for n in relevant.notices if n.destinations is None or n.destinations.passes(p.dest))

    for prohibition in relevant.prohibitions:
        if prohibition.destinations is not None and not prohibition.destinations.passes(p.dest):
            continue
        prov = prohibition.provenance
        if p.end_use is not None and p.end_use in prohibition.unless_end_use:
            lines.append(f"{prov.rule_id} does not reach end use {p.end_use}: {prov.summary}")
            continue
        lines.append(f"Prohibited: {prov.summary} [{prov.rule_id}; {prov.citation}].")
        if prov.recalled:
            recalled.append(prov)
        return Route(prov, (), (), None, (), notices, tuple(lines), frozenset(), tuple(recalled))

    required: list[Provenance] = []
    missed: list[str] = []
    for req in relevant.requirements:
        for test in (req.destinations, req.headquarters):
            if test is not None:
                refs |= test.refs()
        why = _scope_hits(req.destinations, req.headquarters, req.worldwide, req.transfers, req.export_from, p)
        prov = req.provenance
        if why is None:
            scope = (
                f"destinations {req.destinations.text}"
                if req.destinations is not None
                else f"consignees headquartered {req.headquarters.text}"
                if req.headquarters is not None
                else "the transfers it names"
            )
            missed.append(f"{prov.rule_id} covers {scope}")
            continue
        required.append(prov)
        if prov.recalled:
            recalled.append(prov)
        lines.append(f"Licence requirement: {prov.summary} Here: {why} [{prov.rule_id}; {prov.citation}].")

    if not required:
        if c.eccn == "not_controlled" and not missed:
            lines.append(
                "No licence requirement of this regime applies to an item that no advanced-computing ECCN controls."
            )
        else:
            where = (
                f"{p.destination} ({p.transfer.replace('_', '-')}; consignee located {p.located_code}, {_hq_words(p)})"
            )
            lines.append(f"No licence requirement for {c.eccn} to {where}: " + "; ".join(missed) + ".")
        return Route(None, (), (), None, (), notices, tuple(lines), frozenset(refs), tuple(recalled))

    options: list[LicenceException] = []
    unavailable: list[str] = []
    for exc in relevant.exceptions:
        why_not = _exception_fails(exc, p)
        if why_not is None:
            options.append(exc)
        else:
            unavailable.append(f"{exc.symbol} ({why_not})")
    if unavailable:
        lines.append("Not available: " + "; ".join(unavailable) + ".")

    review = None
    for policy in relevant.review_policies:
        if (
            _scope_hits(policy.destinations, policy.headquarters, False, policy.transfers, policy.export_from, p)
            is None
        ):
            continue
        if review is not None and policy.priority == review.priority:
            order = ("presumption_of_approval", "case_by_case", "presumption_of_denial")
            if order.index(policy.policy) > order.index(review.policy):
                review = policy
            continue
        if review is None:
            review = policy
    if review is not None:
        for test in (review.destinations, review.headquarters):
            if test is not None:
                refs |= test.refs()

    licence_allocations = tuple(
        a
        for a in relevant.licence_allocations
        if a.drawn_by_licence is not None and a.drawn_by_licence[1].passes(p.dest)
    )
    return Route(
        None,
        tuple(required),
        tuple(options),
        review,
        licence_allocations,
        notices,
        tuple(lines),
        frozenset(refs),
        tuple(recalled),
    )

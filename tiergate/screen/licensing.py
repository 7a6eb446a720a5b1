"""Screening results into a licence decision: a confirmed or unresolved hit on the Entity List, the SDN list or the
Denied Persons List makes the decision more restrictive, with the hit in its explanation.

Pure: it takes a :class:`~tiergate.decide.model.Decision` and hits, and returns a new decision; the
``decide`` core stays free of I/O. A decision is only ever made more restrictive, never relaxed.

- Entity List (15 CFR 744.11): a licence is required for the items the entry's licence requirement
  names (the advanced-computing items are "subject to the EAR", which every entry reaches); the review
  policy is read from the entry's licence policy (presumption / policy of denial, case by case,
  presumption of approval). When the entry states no policy, presumption of denial is assumed, and
  the explanation says so.
- SDN (OFAC blocking, 31 CFR 501 and the programme's part): every dealing is prohibited absent an
  OFAC licence.
- Denied Persons List (15 CFR 764.3 denial orders): prohibited.

Hits an analyst cleared are left out; hits still open count (a possible match holds the transaction
until an analyst confirms or clears it) and are named as unresolved.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from typing import Any

from tiergate.decide.model import OUTCOMES, POLICIES, Decision, Listing
from tiergate.screen.model import Hit

LIST_RULES = {
    "EL": ("screen/entity-list", "15 CFR 744.11; 15 CFR part 744, Supp. No. 4 (Entity List)"),
    "SDN": ("screen/sdn", "31 CFR chapter V (OFAC blocking of Specially Designated Nationals)"),
    "DPL": ("screen/denied-persons", "15 CFR 764.3(a)(2) (denial orders, Denied Persons List)"),
}


def review_policy(policy_text: str | None) -> tuple[str, bool]:
    """The review policy an Entity List entry states: (policy, stated?)."""
    text = (policy_text or "").lower()
    if "denial" in text:
        return "presumption_of_denial", True
    if "case-by-case" in text or "case by case" in text:
        return "case_by_case", True
    if "approval" in text:
        return "presumption_of_approval", True
    return "presumption_of_denial", False


def apply_screening(decision: Decision, hits: Sequence[Hit]) -> Decision:
    """``decision`` made as restrictive as the screening hits require (unchanged when none applies)."""
    relevant = [h for h in hits if h.match and h.status != "cleared" and h.entry.list_code in LIST_RULES]
    if not relevant:
        return decision
    outcome = decision.outcome
    authorization = decision.authorization
    policy = decision.review_policy
    lines: list[str] = []
    rules: list[str] = []
    citations: list[str] = []
    for hit in relevant:
        entry = hit.entry
        rule, citation = LIST_RULES[entry.list_code]
        rules.append(rule)
        citations.append(citation)
        state = "confirmed by an analyst" if hit.status == "confirmed" else "unresolved (not yet confirmed or cleared)"
        base = (
            f"Screening: consignee matches {entry.list_code} entry {entry.key} {entry.name!r} "
            f"(score {hit.score:.2f} on {hit.matched_name!r}; {state}; {entry.source})"
        )
        if entry.list_code == "EL":
            wanted, stated = review_policy(entry.license_policy)
            requirement = entry.license_requirement or "no licence requirement text in the list file"
            lines.append(
                f"{base}: a licence is required ({requirement}); review policy {wanted.replace('_', ' ')}"
                + ("" if stated else " (the entry states no policy; the most restrictive is assumed)")
                + f" [{rule}]."
            )
            if OUTCOMES.index(outcome) < OUTCOMES.index("license_required"):
                outcome, authorization, policy = "license_required", "license", wanted
            elif outcome == "license_required":
                authorization = "license"
                policy = max((p for p in (policy, wanted) if p), key=POLICIES.index)
        else:
            what = (
                "blocked: dealings are prohibited absent an OFAC licence"
                if entry.list_code == "SDN"
                else ("denied export privileges: dealings are prohibited")
            )
            lines.append(f"{base}: {what} [{rule}].")
            outcome, authorization, policy = "prohibited", None, None
    summary = {
        "license_required": "Outcome after screening: licence required; review policy "
        + f"{str(policy).replace('_', ' ')}.",
        "prohibited": "Outcome after screening: prohibited.",
    }.get(outcome, f"Outcome after screening: {outcome}.")
    final_policy = policy if outcome == "license_required" else None
    items = []
    for item in decision.items:
        screened_rules = tuple(dict.fromkeys((*item.rules, *rules)))
        if OUTCOMES.index(item.outcome) < OUTCOMES.index(outcome):
            item = replace(item, outcome=outcome, authorization=authorization, review_policy=final_policy)
        elif item.outcome == outcome == "license_required" and final_policy is not None:
            worst = max((p for p in (item.review_policy, final_policy) if p), key=POLICIES.index)
            item = replace(item, review_policy=worst)
        items.append(replace(item, rules=screened_rules))
    return replace(
        decision,
        items=tuple(items),
        outcome=outcome,
        authorization=authorization,
        review_policy=policy if outcome == "license_required" else None,
        rules=tuple(dict.fromkeys((*decision.rules, *rules))),
        citations=tuple(dict.fromkeys((*decision.citations, *citations))),
        explanation=(*decision.explanation, *lines, summary) if decision.explanation else tuple(lines),
    )


ALLIED_LISTS = frozenset({"JP-EUL", "TW-SHTC", "EU-FSF", "UK-SL"})
"""Allied lists whose hits feed the law of their jurisdiction in the combined decision (its packs' catch-all
rules), not the US screening rules above."""


def allied_listings(hits: Sequence[Hit]) -> tuple[Listing, ...]:
    """The hits on allied lists (matches not cleared), as the packs' catch-all rules see them."""
    found = []
    for hit in hits:
        if not hit.match or hit.status == "cleared" or hit.entry.list_code not in ALLIED_LISTS:
            continue
        listed = None
        if hit.entry.listed_on:
            try:
                listed = dt.date.fromisoformat(hit.entry.listed_on[:10])
            except ValueError:
                listed = None
        found.append(Listing(hit.entry.list_code, hit.entry.key, hit.entry.name, listed, hit.status == "confirmed"))
    return tuple(found)


class ConsigneeScreening:
    """Screens the ultimate consignee of each transaction record as ``decide`` reads them, and adjusts each
    decision (in the same order) by the hits: the ``--lists DB`` option of ``tiergate decide``. Hits on
    allied lists reach the decision itself (``listings_of``): they feed the law whose list it is."""

    def __init__(self, records: Iterable[Any], screener: Any) -> None:
        self._records = records
        self._pending: deque[list[Hit]] = deque()
        self._last: list[Hit] = []
        self.screener = screener

    def records(self) -> Iterator[Any]:
        for record in self._records:
            data = record.data if isinstance(getattr(record, "data", None), dict) else {}
            self._last = self.hits(data.get("consignee"))
            self._pending.append(self._last)
            yield record

    def listings_of(self, _record: Any) -> tuple[Listing, ...]:
        """The allied-list entries of the record just read (``decide_stream`` asks right after reading it)."""
        return allied_listings(self._last)

    def hits(self, consignee: Any) -> list[Hit]:
        from tiergate.screen.model import Query
        from tiergate.screen.service import party_id

        if not isinstance(consignee, dict) or not isinstance(consignee.get("name"), str):
            return []
        country = consignee.get("country")
        code = (country.strip().upper() or None) if isinstance(country, str) else None
        given = consignee.get("id")
        query = Query(consignee["name"], None, code)
        party = party_id(query.name, code, given if isinstance(given, str) else None)
        hits: list[Hit] = self.screener.screen(query, party=party)
        return hits

    def adjust(self, decisions: Iterable[Decision]) -> Iterator[Decision]:
        for decision in decisions:
            hits = self._pending.popleft() if self._pending else []
            yield apply_screening(decision, hits)


def shipping_block(hits: Sequence[Hit], licensed: bool) -> str | None:
    """Why a shipment to a party with these hits may not be committed (None when it may): an SDN or Denied
    Persons hit always blocks; an Entity List hit blocks unless the shipment is under a licence."""
    relevant = [h for h in hits if h.match and h.status != "cleared" and h.entry.list_code in LIST_RULES]
    for hit in relevant:
        if hit.entry.list_code in ("SDN", "DPL"):
            return f"the consignee matches {hit.entry.list_code} entry {hit.entry.key} {hit.entry.name!r}: prohibited"
    for hit in relevant:
        if not licensed:
            return (
                f"the consignee matches Entity List entry {hit.entry.key} {hit.entry.name!r}: "
                "a licence is required (ship with --license)"
            )
    return None

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

from tiergate.decide.model import OUTCOMES, POLICIES, Decision, Listing, ScreeningRecord
from tiergate.errors import InputError
from tiergate.screen.model import Hit, each_entry
from tiergate.screen.normalize import UnscreenableName, names_no_one

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


NOT_SCREENED = "parties not screened"
"""The note of a decision made without screening (``--no-screening``, or a server whose screening is off)."""
_SUMMARY = {
    "no_license_required": "No licence required (NLR).",
    "license_required": "Licence required; review policy: {policy}.",
    "prohibited": "Prohibited.",
}


def counted_hits(hits: Sequence[Hit]) -> list[Hit]:
    """The matches that count in a decision: not cleared by an analyst."""
    return [h for h in hits if h.match and h.status != "cleared"]


def hit_summary(hit: Hit) -> dict[str, Any]:
    """A hit as a decision's ``screening.hits`` names it (with the lists the same party is on, when grouped)."""
    entry = hit.entry
    return {
        "entry": entry.key,
        "list": entry.list_code,
        "name": entry.name,
        "matched_name": hit.matched_name,
        "score": round(hit.score, 4),
        "status": hit.status,
        "lists": [m["list"] for m in hit.memberships] if hit.memberships else [entry.list_code],
        "source": entry.source,
    }


def _outcome_at(lines: Sequence[str]) -> int | None:
    """Where the decision's final outcome line is (the last top-level ``Outcome:`` line)."""
    found = None
    for i, line in enumerate(lines):
        if line.startswith("Outcome: ") or line.startswith("Outcome after screening: "):
            found = i
    return found


def _with_line_before_outcome(lines: Sequence[str], line: str) -> tuple[str, ...]:
    if not lines:
        return ()
    at = _outcome_at(lines)
    if at is None:
        return (*lines, line)
    return (*lines[:at], line, *lines[at:])


def not_screened(decision: Decision, reason: str) -> Decision:
    """``decision`` made without screening the parties: its outcome record says so (``screening.screened`` false,
    note ``parties not screened``), and its explanation too, before its one outcome line."""
    record = ScreeningRecord(False, NOT_SCREENED, reason=reason, outcome_before=decision.outcome)
    line = f"Screening: {NOT_SCREENED} ({reason}); the outcome does not reflect restricted-party lists."
    return replace(decision, screening=record, explanation=_with_line_before_outcome(decision.explanation, line))


def apply_screening(
    decision: Decision, hits: Sequence[Hit], *, party: str | None = None, lists: str | None = None
) -> Decision:
    """``decision`` made as restrictive as the screening hits require, with its screening record (``party``: the
    name screened; ``lists``: the lists' data version). The explanation keeps exactly one final outcome line, after
    screening: the licence rules' own outcome line is renamed, and when screening changed the outcome the hit is
    the explanation's first line."""
    counted = counted_hits(hits)
    relevant = [h for h in counted_hits(each_entry(hits)) if h.entry.list_code in LIST_RULES]
    shown = tuple(hit_summary(h) for h in counted)
    who = f"consignee {party!r}" if party else "the consignee"
    if not relevant:
        note = (
            "parties screened: no match"
            if not counted
            else f"parties screened: {len(counted)} match(es) on lists that feed the jurisdiction's own rules"
        )
        record = ScreeningRecord(True, note, lists=lists, hits=shown, outcome_before=decision.outcome)
        line = f"Screening: {who} screened against the restricted-party lists" + (
            f" ({lists}): no match." if not counted else f" ({lists}): {len(counted)} match(es) on allied lists."
        )
        return replace(decision, screening=record, explanation=_with_line_before_outcome(decision.explanation, line))
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
            f"Screening: {who} matches {entry.list_code} entry {entry.key} {entry.name!r} "
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
    changed = outcome != decision.outcome or (outcome == "license_required" and policy != decision.review_policy)
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
    first = relevant[0].entry
    cause = f"{first.list_code} entry {first.key} {first.name!r}"
    listed = ", ".join(dict.fromkeys(h.entry.list_code for h in relevant))
    note = (
        f"parties screened: screening changed the outcome from {decision.outcome} to {outcome} ({cause})"
        if changed
        else f"parties screened: {len(relevant)} hit(s) on {listed}"
    )
    record = ScreeningRecord(True, note, lists=lists, hits=shown, outcome_before=decision.outcome, changed=changed)
    explanation: tuple[str, ...] = ()
    if decision.explanation:
        summary = _SUMMARY.get(outcome, "{policy}").format(policy=str(final_policy).replace("_", " "))
        if outcome not in _SUMMARY:  # screening never ends in an authorisation
            summary = f"{outcome}."
        body = [
            "Answer of the licence rules before screening: " + line.removeprefix("Outcome: ")
            if line.startswith("Outcome: ")
            else line
            for line in decision.explanation
        ]
        top = (
            [f"Screening changed the outcome to {outcome.replace('_', ' ')}: {who} matches {cause}."] if changed else []
        )
        explanation = (*top, *body, *lines, f"Outcome: {summary.rstrip('.')} (after screening: {cause}).")
    return replace(
        decision,
        items=tuple(items),
        outcome=outcome,
        authorization=authorization,
        review_policy=final_policy,
        rules=tuple(dict.fromkeys((*decision.rules, *rules))),
        citations=tuple(dict.fromkeys((*decision.citations, *citations))),
        explanation=explanation,
        screening=record,
    )


ALLIED_LISTS = frozenset({"JP-EUL", "TW-SHTC", "EU-FSF", "UK-SL"})
"""Allied lists whose hits feed the law of their jurisdiction in the combined decision (its packs' catch-all
rules), not the US screening rules above."""


def allied_listings(hits: Sequence[Hit]) -> tuple[Listing, ...]:
    """The hits on allied lists (matches not cleared), as the packs' catch-all rules see them."""
    found = []
    for hit in each_entry(hits):
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
    decision (in the same order) by the hits, with its screening record (``lists``: the lists' data version):
    ``tiergate decide``, ``/v1/decide`` and the dashboard. Hits on allied lists reach the decision itself
    (``listings_of``): they feed the law whose list it is."""

    def __init__(self, records: Iterable[Any], screener: Any, lists: str | None = None) -> None:
        self._records = records
        self._pending: deque[tuple[str | None, list[Hit]]] = deque()
        self._last: list[Hit] = []
        self.screener = screener
        self.lists = lists
        self._seen: dict[tuple[str, str | None, str | None], list[Hit]] = {}
        """Hits per consignee already screened in this batch (batches repeat their consignees)."""

    def records(self) -> Iterator[Any]:
        for record in self._records:
            data = record.data if isinstance(getattr(record, "data", None), dict) else {}
            consignee = data.get("consignee")
            self._last = self.hits(consignee)
            name = consignee.get("name") if isinstance(consignee, dict) else None
            self._pending.append((name if isinstance(name, str) else None, self._last))
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
        known = (consignee["name"], code, given if isinstance(given, str) else None)
        if known in self._seen:
            return self._seen[known]
        query = Query(consignee["name"], None, code)
        party = party_id(query.name, code, known[2])
        if names_no_one(query.name):  # punctuation alone names no one
            return []
        try:  # every hit weighs (not the ten a search shows): a cleared hit must not hide an open one below it
            hits: list[Hit] = self.screener.screen(query, party=party, limit=200)
        except UnscreenableName as error:  # never waved through as "no match"
            raise InputError(f"consignee.name: {error}", hint="give the party's name as written, in letters") from None
        if len(self._seen) < 100_000:
            self._seen[known] = hits
        return hits

    def adjust(self, decisions: Iterable[Decision]) -> Iterator[Decision]:
        for decision in decisions:
            name, hits = self._pending.popleft() if self._pending else (None, [])
            yield apply_screening(decision, hits, party=name, lists=self.lists)


def unscreened(decisions: Iterable[Decision], reason: str) -> Iterator[Decision]:
    """Each decision marked ``parties not screened`` (see :func:`not_screened`)."""
    for decision in decisions:
        yield not_screened(decision, reason)


def shipping_block(hits: Sequence[Hit], licensed: bool) -> str | None:
    """Why a shipment to a party with these hits may not be committed (None when it may): an SDN or Denied
    Persons hit always blocks; an Entity List hit blocks unless the shipment is under a licence."""
    relevant = [h for h in each_entry(hits) if h.match and h.status != "cleared" and h.entry.list_code in LIST_RULES]
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

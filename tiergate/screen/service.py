"""Screening with the store: analyst decisions applied, screenings recorded, re-screening after a list update,
ownership (the 50 % rule and headquarters in Country Group D:5 or Macau)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from tiergate.screen.index import ScreeningIndex
from tiergate.screen.model import DEFAULT_THRESHOLD, Decision, Hit, ListEntry, Query, each_entry
from tiergate.screen.normalize import clean_text

if TYPE_CHECKING:  # the store loads SQLAlchemy: `tiergate screen name` reads the lists without it
    from tiergate.screen.store import ListStore, LoadReport

OWNERSHIP_THRESHOLD = 50.0
MAX_OWNERSHIP_DEPTH = 10


MAX_PARTY_ID = 300


def party_id(name: str, country: str | None = None, given: str | None = None) -> str:
    """The id a party's screenings and analyst decisions are kept under: ``given`` (an id the party has) when it
    is not blank, else ``COUNTRY:slug`` made from the cleaned name (as screening cleans it: NFKC, control and
    format characters dropped, whitespace collapsed), lower-cased, each run of characters other than letters and
    digits (in any script) as '-'. The one place a party id is made: ``tiergate screen name|batch``, ``decide
    --lists``, ``ship --lists``, the HTTP API and the dashboard all call it, so that a decision made in one is
    re-applied in the others whatever the spacing, case, punctuation or Unicode form of the name."""
    if given is not None and given.strip():
        return given.strip()[:MAX_PARTY_ID]
    slug = _NOT_WORD.sub("-", clean_text(name).lower()).strip("-") or "party"
    code = (country or "").strip().upper() or "-"
    return f"{code}:{slug}"[:MAX_PARTY_ID]


_NOT_WORD = re.compile(r"[\W_]+")


def party_key(query: Query) -> str:
    """A party's id when none is given: :func:`party_id` of the query's name and country."""
    return party_id(query.name, query.country)


_MADE_ID = re.compile(r"(?:[A-Z]{2}|-):[^|]+")


def party_form(name: str, country: str | None = None, identifiers: Sequence[str] = ()) -> str:
    """What an analyst's decision is bound to: the party's normalised name and country (as :func:`party_id` makes
    them from the name, never from a given id) and its identifiers. A decision holds only for a party of the same
    form: a caller's id never carries a clearance to another name, country or identifier."""
    form = party_id(name, country)
    ids = sorted({_NOT_WORD.sub("", str(i)).upper() for i in identifiers if str(i).strip()})
    return f"{form}|{','.join(ids)}" if ids else form


def query_form(query: Query) -> str:
    return party_form(query.name, query.country, query.identifiers)


def decision_binding(
    store: ListStore, party: str, name: str | None = None, country: str | None = None, identifiers: Sequence[str] = ()
) -> str:
    """The party form an analyst's decision on ``party`` is bound to: the name (and country, identifiers) given
    with the decision, else those of the party's last recorded screening, else the party id itself when it was made
    from a name (``COUNTRY:slug``). A given id with neither is refused: a decision must say whom it clears."""
    from tiergate.screen.model import ListStoreError

    if name is not None and name.strip():
        return party_form(name, country, identifiers)
    recorded = store.screened_query(party)
    if recorded is not None:
        return query_form(query_from_dict(recorded))
    if _MADE_ID.fullmatch(party.strip()):
        return party.strip()
    raise ListStoreError(
        f"party {party[:100]!r} has no recorded screening, so the decision would not say which name it is for",
        hint="screen the party first with --party (or record=true), or give the party's name and country",
    )


def _binding_of(decision: Decision) -> str | None:
    if decision.bound_to is not None:
        return decision.bound_to
    return decision.party if _MADE_ID.fullmatch(decision.party) else None


def apply_decisions(
    hits: list[Hit], party: str, standing: dict[tuple[str, str], Decision], query: Query | None = None
) -> list[Hit]:
    """Each hit's analyst decision for ``party``: re-applied while the entry and the party are unchanged (the entry's
    content hash; the party's name, country and identifiers, when ``query`` is given), re-opened when either changed.
    Then the hits of one party listed on several lists are grouped into one hit with its memberships."""
    form = query_form(query) if query is not None else None
    for hit in hits:
        decision = standing.get((party, hit.entry.key))
        if decision is None:
            continue
        record = decision.to_dict()
        bound = _binding_of(decision)
        if decision.entry_hash != hit.entry.content_hash:
            hit.status = "open"
            record["reopened"] = "the list entry changed after this decision"
        elif form is not None and bound != form:
            hit.status = "open"
            record["reopened"] = (
                f"the decision was made for party {bound!r}, not for {form!r} (name, country or identifiers differ)"
                if bound is not None
                else "the decision is not bound to a party's name: decide again for this party"
            )
        else:
            hit.status = decision.verdict
        hit.decision = record
    return group_hits(hits)


def _names(entry: ListEntry) -> set[str]:
    return {party_id(n) for n in (entry.name, *entry.aliases)}


def same_party(a: ListEntry, b: ListEntry) -> bool:
    """Whether two list entries name one party: entries of two different lists where the primary name of one is a
    name of the other (spacing, case and punctuation aside), and their countries agree (or one states none). Two
    entries of one list are two listings (two people named I. Ash on the Denied Persons List): never one party,
    so a clearance of one never clears the other."""
    if a.key == b.key:
        return True
    if a.list_code == b.list_code:
        return False
    named = party_id(a.name) in _names(b) or party_id(b.name) in _names(a)
    countries = not a.countries or not b.countries or bool(set(a.countries) & set(b.countries))
    return named and countries and (a.schema == b.schema or "LegalEntity" in (a.schema, b.schema))


def membership(hit: Hit) -> dict[str, Any]:
    return {
        "entry": hit.entry.key,
        "list": hit.entry.list_code,
        "dataset": hit.entry.dataset,
        "entry_hash": hit.entry.content_hash,
        "score": round(hit.score, 4),
        "match": hit.match,
        "status": hit.status,
        "decision": hit.decision,
        "source": hit.entry.source,
    }


def group_hits(hits: list[Hit]) -> list[Hit]:
    """One hit per party: the hits (ranked) whose entries name the same party on several lists become the best
    one's, with a membership per list (each with its own entry hash and analyst decision, so that a change on one
    list re-opens only that membership). The group is open while any membership is open."""
    groups: list[list[Hit]] = []
    for hit in hits:
        for group in groups:
            if any(same_party(hit.entry, other.entry) for other in group):
                group.append(hit)
                break
        else:
            groups.append([hit])
    out = []
    for group in groups:
        lead = group[0]
        if len(group) > 1:
            states = {h.status for h in group if h.match} or {h.status for h in group}
            lead = replace(
                lead,
                members=group,
                memberships=[membership(h) for h in group],
                match=any(h.match for h in group),
                status="open" if "open" in states else ("confirmed" if "confirmed" in states else "cleared"),
            )
        out.append(lead)
    return out


def party_entries(store: ListStore, entry: ListEntry) -> list[ListEntry]:
    """The same party's entries on the other lists (see :func:`same_party`), for deciding once for all of them."""
    return [e for e in store.list_entries() if e.key != entry.key and same_party(entry, e)]


@dataclass
class Screener:
    """Screens queries against an index, re-applying the store's analyst decisions."""

    index: ScreeningIndex
    store: ListStore | None = None
    threshold: float = DEFAULT_THRESHOLD
    _decisions: dict[tuple[str, str], Decision] | None = field(default=None, repr=False)

    @classmethod
    def from_store(cls, store: ListStore, threshold: float = DEFAULT_THRESHOLD) -> Screener:
        return cls(ScreeningIndex.build(store.list_entries()), store, threshold)

    def decisions(self) -> dict[tuple[str, str], Decision]:
        if self._decisions is None:
            self._decisions = self.store.decisions() if self.store is not None else {}
        return self._decisions

    def screen(
        self, query: Query, *, party: str | None = None, limit: int = 10, floor: float | None = None
    ) -> list[Hit]:
        hits = self.index.screen(query, threshold=self.threshold, limit=limit, floor=floor)
        return apply_decisions(hits, party or party_key(query), self.decisions(), query)

    def screen_and_record(self, query: Query, party: str, *, limit: int = 10, actor: str | None = None) -> list[Hit]:
        """Screen and record the result under ``party`` (``actor``: who the store's trail names)."""
        hits = self.screen(query, party=party, limit=limit)
        if self.store is not None:
            self.store.record_screening(party, query_to_dict(query), [h.to_dict() for h in hits], actor=actor)
        return hits


def query_to_dict(query: Query) -> dict[str, Any]:
    return {
        "name": query.name,
        "schema": query.schema,
        "country": query.country,
        "identifiers": list(query.identifiers),
        "birth_date": query.birth_date,
    }


def query_from_dict(data: dict[str, Any]) -> Query:
    return Query(
        name=str(data["name"]),
        schema=data.get("schema"),
        country=data.get("country"),
        identifiers=tuple(data.get("identifiers") or ()),
        birth_date=data.get("birth_date"),
    )


# ---------------------------------------------------------------- re-screening


@dataclass
class Rescreen:
    screened: list[str]
    """Parties screened again (those whose results could change)."""
    skipped: int
    new_hits: list[dict[str, Any]]
    """``{"party", "hit"}`` for each match not among the party's previous hits."""
    gone: list[dict[str, Any]]
    """``{"party", "entry"}`` for each previous match that is no longer one (entry removed or changed)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "screened": self.screened,
            "skipped": self.skipped,
            "new_hits": self.new_hits,
            "gone": self.gone,
        }


def rescreen(
    screener: Screener, store: ListStore, reports: Sequence[LoadReport], *, actor: str | None = None
) -> Rescreen:
    """Screen again only the recorded parties whose results could change after ``reports``' loads: those
    with a previous hit on a changed or removed entry, and those that score near the threshold against
    an added or changed entry. ``actor``: who the store's trail names for the screenings."""
    touched = {f"{r.dataset}:{k}" for r in reports for k in (*r.changed, *r.removed)}
    fresh_keys = {f"{r.dataset}:{k}" for r in reports for k in (*r.added, *r.changed)}
    fresh = [e for e in screener.index.entries if e.key in fresh_keys]
    small = ScreeningIndex.build(fresh)
    floor = max(0.0, screener.threshold - 0.2)
    screened: list[str] = []
    skipped = 0
    new_hits: list[dict[str, Any]] = []
    gone: list[dict[str, Any]] = []
    for party, qdata, old_hits in store.screened_parties():
        query = query_from_dict(qdata)
        old = {h["entry"]: h for h in old_hits}
        old.update({m["entry"]: m for h in old_hits for m in h.get("memberships") or ()})
        could = any(k in touched for k in old) or (
            len(small) > 0 and bool(small.screen(query, threshold=screener.threshold, floor=floor, limit=1))
        )
        if not could:
            skipped += 1
            continue
        screened.append(party)
        hits = screener.screen_and_record(query, party, actor=actor)
        now = {h.entry.key: h for h in each_entry(hits)}
        for key, hit in now.items():
            if not hit.match or hit.status == "cleared":
                continue
            before = old.get(key)
            if before is None or not before.get("match") or before.get("entry_hash") != hit.entry.content_hash:
                new_hits.append({"party": party, "hit": hit.to_dict()})
        for key, previous in old.items():
            if previous.get("match") and not (key in now and now[key].match):
                gone.append({"party": party, "entry": key})
    return Rescreen(screened, skipped, new_hits, gone)


# ---------------------------------------------------------------- ownership


@dataclass(frozen=True)
class Owner:
    party: Party
    percent: float


@dataclass(frozen=True)
class Party:
    name: str
    country: str | None = None
    headquarters: str | None = None
    schema: str | None = None
    id: str | None = None
    identifiers: tuple[str, ...] = ()
    owners: tuple[Owner, ...] = ()
    birth_date: str | None = None

    @property
    def query(self) -> Query:
        return Query(self.name, self.schema, self.country, self.identifiers, self.birth_date)

    @property
    def key(self) -> str:
        return party_id(self.name, self.country, self.id)

    @staticmethod
    def from_dict(data: Any, where: str = "party") -> Party:
        from tiergate.errors import InputError

        if not isinstance(data, dict):
            raise InputError("a party is an object with at least a name", where=where)
        name = data.get("name")
        if not isinstance(name, str) or not name.strip():
            raise InputError("name: missing or empty", where=where)
        owners = []
        for i, o in enumerate(data.get("owners") or []):
            at = f"{where}.owners[{i}]"
            if not isinstance(o, dict):
                raise InputError("an owner is an object with a name and a percent", where=at)
            pct = o.get("percent")
            if isinstance(pct, bool) or not isinstance(pct, (int, float)) or not 0 <= pct <= 100:
                raise InputError(f"percent: {pct!r} is not a share between 0 and 100", where=at)
            owners.append(Owner(Party.from_dict(o, at), float(pct)))
        if sum(o.percent for o in owners) > 100.0001:
            raise InputError("the owners' shares add up to more than 100 %", where=where)
        country = _code(data.get("country"), f"{where}.country")
        hq = _code(data.get("headquarters"), f"{where}.headquarters")
        return Party(
            name=name,
            country=country,
            headquarters=hq,
            schema=data.get("schema"),
            id=data.get("id"),
            identifiers=tuple(str(x) for x in data.get("identifiers") or ()),
            owners=tuple(owners),
            birth_date=str(data["birth_date"]) if data.get("birth_date") else None,
        )


def _code(value: Any, where: str) -> str | None:
    from tiergate.errors import UnknownCountryError
    from tiergate.interchange import iso_codes

    if value is None or value == "":
        return None
    code = str(value).strip().upper()
    if code not in iso_codes():
        raise UnknownCountryError(f"{value!r} is not an ISO 3166-1 alpha-2 country code", where=where)
    return code


@dataclass
class OwnershipFlag:
    kind: str
    """``owned_by_listed`` or ``headquarters_d5_macau``."""
    party: str
    detail: str
    percent: float | None = None
    owners: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "flag": self.kind,
            "party": self.party,
            "percent": self.percent,
            "detail": self.detail,
            "owners": self.owners,
        }


def _listed(hits: list[Hit]) -> list[Hit]:
    return [h for h in hits if h.match and h.status != "cleared"]


def ownership_flags(
    party: Party, screener: Screener, *, hq_test: Any = None, day: dt.date | None = None
) -> list[OwnershipFlag]:
    """Flags for ``party`` and every owner up its chain: owned 50 % or more (directly, or in aggregate with
    owners that are themselves listed or so owned) by listed parties; headquartered in D:5 or Macau.

    ``hq_test(code)`` says whether a country is in Country Group D:5 or is Macau (see :func:`d5_macau_test`)."""
    flags: list[OwnershipFlag] = []
    memo: dict[int, tuple[bool, float]] = {}

    def blocked(p: Party, depth: int) -> tuple[bool, float]:
        """(listed or owned >= 50 % by blocked owners, the blocked owners' aggregate share)."""
        if id(p) in memo:
            return memo[id(p)]
        if depth > MAX_OWNERSHIP_DEPTH:
            return False, 0.0
        listed = bool(_listed(screener.screen(p.query, party=p.key)))
        share = 0.0
        contributing: list[dict[str, Any]] = []
        for owner in p.owners:
            owner_blocked, _ = blocked(owner.party, depth + 1)
            if owner_blocked:
                share += owner.percent
                contributing.append({"owner": owner.party.name, "percent": owner.percent})
        if share >= OWNERSHIP_THRESHOLD:
            named = ", ".join(f"{c['owner']} {c['percent']:g} %" for c in contributing)
            flags.append(
                OwnershipFlag(
                    "owned_by_listed",
                    p.name,
                    f"{p.name!r} is owned {share:g} % in aggregate by listed parties or parties they own 50 % "
                    f"or more of ({named})",
                    share,
                    contributing,
                )
            )
        if hq_test is not None:
            hq = p.headquarters or p.country
            if hq and hq_test(hq):
                flags.append(
                    OwnershipFlag(
                        "headquarters_d5_macau", p.name, f"{p.name!r} is headquartered in {hq} (D:5 or Macau)"
                    )
                )
        result = (listed or share >= OWNERSHIP_THRESHOLD, share)
        memo[id(p)] = result
        return result

    blocked(party, 0)
    return flags


def d5_macau_test(day: dt.date | None = None) -> Any:
    """Whether a country is in Country Group D:5 or is Macau on ``day``, from the rulebook's country groups."""
    from tiergate.rules import load_rulebook

    when = day or dt.date.today()
    ruleset, _ = load_rulebook().select(None, when)

    def test(code: str) -> bool:
        groups = ruleset.memberships(code, when)
        return "D:5" in groups or "MO" in groups

    return test

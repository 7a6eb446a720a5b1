"""The replay: every transaction of a history decided under two regimes, in date order, each side carrying its
allocations forward as the ledger would.

Each side keeps the TPP used per ledger account (the names are the decide core's ``allocation_account``) and
decides each transaction with ``balances`` = cap minus used for every allocation it could draw, exactly as
``tiergate ship`` decides against a ledger (``tiergate.ledger.ship.live_balances``, a UVEU's headroom by the
core's ``uveu_headroom``); what the decision draws is added to the side's accounts. A licence-required
transaction is taken to ship under a licence and draws the allocation a licence draws when it fits, unless
the ledger would refuse it (``tiergate.ledger.ship.allocation_refused``); a prohibited one draws nothing.

Deciding is memoised without approximation. For a transaction of one catalogue chip (and a consignee that is
not a UVEU) the determination depends only on the ruleset, the chip, the parties as the rules see them
(``parties_of``) and, for each allocation the route could draw (``drawable_allocations``), whether the
transaction's TPP fits in that account's remaining balance. The first transaction with a given combination is
decided by ``decide``; later ones reuse its outcome with their own accounts and figures. Other transactions
(several items, a chip given by its specification, a system, model weights, a UVEU consignee) are decided
one by one. Equivalence with ``decide`` row by row is a tested invariant (tests/replay/).

A transaction that cannot be replayed (a record that does not parse, a regime with no pack in force on its
date, a chip the packs cannot classify) is named, with the reason, under ``unreplayable``; the replay goes on.
Facts are never filled in: a record missing a field is unreplayable, not defaulted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tiergate.alliance import determine_all, is_us_only
from tiergate.catalog import Chip
from tiergate.classify import classify
from tiergate.classify.model import Classification, System
from tiergate.decide import allocation_account, drawable_allocations, parties_of, uveu_headroom
from tiergate.decide.model import Consignee, Decision, LineItem, Transaction
from tiergate.decide.route import Parties, route
from tiergate.errors import InputError, TiergateError
from tiergate.ledger.ship import allocation_refused
from tiergate.rules.book import Rulebook
from tiergate.rules.ruleset import Allocation, Ruleset, UveuShares, compare

SIDES = ("from", "to")


@dataclass(frozen=True, slots=True)
class Listing:
    """A proposed addition to a restricted-party list, applied to the ``to`` side from ``effective`` on."""

    list_code: str
    """``EL`` (Entity List: a licence is required), ``SDN`` or ``DPL`` (prohibited)."""
    effective: dt.date
    name: str | None = None
    country: str | None = None
    consignee_id: str | None = None
    license_policy: str | None = None
    where: str = ""

    @property
    def key(self) -> str:
        who = self.consignee_id or f"{self.country or '*'}:{normalised_name(self.name or '')}"
        return f"{self.list_code}:{who}:{self.effective.isoformat()}"


def normalised_name(name: str) -> str:
    """A name compared for a listing: case, accents, punctuation and runs of spaces ignored."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", " ", text).strip()


@dataclass(frozen=True, slots=True)
class Bound:
    """An allowance that did not have room for a transaction it would have had room for when fresh."""

    allocation: str
    rule: str
    account: str
    day: dt.date


@dataclass
class _Context:
    """What a side knows of a group of transactions with one determination: the ruleset, the chip and its
    classification, the parties, and the allocations the route could draw."""

    ruleset: Ruleset
    chip: Chip
    cls: Classification
    party: Parties
    plan: tuple[Allocation, ...]
    plan_index: dict[str, int]
    day: dt.date
    """The date of the context's first transaction: the parties' group memberships are those of this date."""
    fixed: int = -1
    """The template of every transaction of the context when ``plan`` is empty (-1: not decided yet)."""


@dataclass
class Side:
    """One regime's side of a replay: its rulesets by date, its allocation accounts and its decisions."""

    book: Rulebook
    regime: str
    effective_dates: bool
    name: str
    used: dict[str, float] = field(default_factory=dict)
    templates: list[Decision] = field(default_factory=list)
    _memo: dict[Any, int] = field(default_factory=dict)
    _contexts: dict[Any, _Context] = field(default_factory=dict)
    _rulesets: dict[dt.date, Ruleset] = field(default_factory=dict)
    _refused: set[int] = field(default_factory=set)
    _drawn: dict[int, tuple[int, ...]] = field(default_factory=dict)
    """Per template of a context with a plan: the positions in the plan of the allocations it draws."""
    binds: list[Bound] = field(default_factory=list)
    caps: dict[str, float] = field(default_factory=dict)
    """The cap of each account drawn (as of its last draw)."""
    installed: dict[str, dict[str, float]] = field(default_factory=dict)
    """A UVEU's installed TPP by country, per account prefix (``uveu:<entity>:``), as the ledger's ``installed``."""
    listings: Listings | None = None
    """Proposed listings applied on this side (the ``to`` side), each from its effective date."""

    def ruleset(self, day: dt.date) -> Ruleset:
        found = self._rulesets.get(day)
        if found is None:
            if self.effective_dates:
                found, _ = self.book.select_in_force(self.regime, day)
            else:
                found, _ = self.book.select(self.regime, day)
            self._rulesets[day] = found
        return found

    def _template(self, decision: Decision) -> int:
        self.templates.append(decision)
        index = len(self.templates) - 1
        if decision.outcome == "prohibited" or allocation_refused(decision):
            self._refused.add(index)  # the ledger would not ship it: it draws nothing
        return index

    # ------------------------------------------------------------------ one catalogue chip
    def context(self, key: Any, ruleset: Ruleset, chip: Chip, party: Parties, day: dt.date) -> _Context:
        ctx = self._contexts.get(key)
        if ctx is None:
            cls = classify(chip, ruleset)
            plan = drawable_allocations(route(cls, party, ruleset), ruleset)
            ctx = _Context(ruleset, chip, cls, party, plan, {a.id: k for k, a in enumerate(plan)}, day)
            self._contexts[key] = ctx
        return ctx

    def decide_single(
        self, key: Any, ctx: _Context, consignee: Consignee, destination: str, day: dt.date, quantity: int
    ) -> tuple[int, float]:
        """The template of one transaction of a context, with its draws added to the accounts: (index, TPP)."""
        unit = ctx.cls.tpp
        total = unit * quantity if unit is not None else None
        if not ctx.plan:
            if ctx.fixed < 0:
                ctx.fixed = self._template(self._decide(ctx, consignee, quantity, {}))
            if self.listings:
                hits = self.listings.hits(consignee, day)
                if hits:
                    return self.listed(ctx.fixed, hits), total if total is not None else 0.0
            return ctx.fixed, total if total is not None else 0.0
        year = day.year
        accounts = [allocation_account(a, consignee, destination, day) for a in ctx.plan]
        balances: dict[int, float] = {}
        fits: list[bool] = []
        caps: list[float | None] = []
        for k, (allocation, account) in enumerate(zip(ctx.plan, accounts, strict=True)):
            if allocation.shares is not None and consignee.veu == "UVEU":
                headroom = self._headroom(allocation.shares, account, consignee, destination, day, ctx.ruleset)
                balances[k] = headroom
                fits.append(total is not None and compare(total, "<=", headroom))
                caps.append(None)
                continue
            cap = allocation.cap_for(destination, year)
            caps.append(cap)
            if cap is None:
                fits.append(True)
                continue
            remaining = max(0.0, cap - self.used.get(account, 0.0))
            balances[k] = remaining
            fit = total is not None and compare(total, "<=", remaining)
            fits.append(fit)
            if not fit and total is not None and compare(total, "<=", cap):
                self.binds.append(Bound(allocation.label, allocation.provenance.rule_id, account, day))
        memo_key = (key, tuple(fits))
        index = self._memo.get(memo_key)
        if index is None:
            index = self._memo[memo_key] = self._template(self._decide(ctx, consignee, quantity, balances))
        if self.listings:
            hits = self.listings.hits(consignee, day)
            if hits:
                listed = self.listed(index, hits)
                if self.templates[listed].outcome != self.templates[index].outcome:
                    return listed, total if total is not None else 0.0  # a listed party's shipment draws nothing
                index = listed
        if total is not None and index not in self._refused:
            drawn = self._drawn.get(index)
            if drawn is None:
                positions = (ctx.plan_index.get(d.rule.split("/", 1)[1]) for d in self.templates[index].allocations)
                drawn = self._drawn[index] = tuple(at for at in positions if at is not None)
            for at in drawn:
                account = accounts[at]
                self.used[account] = self.used.get(account, 0.0) + total
                cap = caps[at]
                if cap is not None:
                    self.caps[account] = cap
                if ctx.plan[at].shares is not None:
                    self._install(account, total)
        return index, total if total is not None else 0.0

    def _decide(self, ctx: _Context, consignee: Consignee, quantity: int, balances: dict[int, float]) -> Decision:
        """The determination of the context's transaction (its parties and date as the context's first
        transaction has them, the quantity and consignee identity of this one) with the given remaining
        balance of each allocation of the plan (by its index); rows of a context share it, with their own
        accounts and figures."""
        party = ctx.party
        day = ctx.day
        representative = Consignee(
            name=consignee.name,
            country=party.located_code,
            headquarters=party.hq_code,
            parent_headquarters=party.parent_code,
            veu=party.veu,
            id=consignee.id,
        )
        txn = Transaction(
            id=None,
            date=day,
            export_from=party.export_from,
            destination=party.destination,
            items=(LineItem(ctx.chip, quantity),),
            consignee=representative,
            end_use=party.end_use,
        )
        named = {
            allocation_account(ctx.plan[k], representative, party.destination, day): remaining
            for k, remaining in balances.items()
        }
        return determine_all(txn, self.book, ctx.ruleset, balances=named, explain=False)

    # ------------------------------------------------------------------ any transaction
    def decide_row(self, txn: Transaction) -> tuple[int, float]:
        """Decide a parsed transaction on this side (the memoised route when it has one catalogue chip)."""
        ruleset = self.ruleset(txn.date)
        if len(txn.items) == 1 and txn.items[0].origin is None:
            line = txn.items[0]
            item = line.item
            if isinstance(item, Chip) and item.id is not None:
                party = parties_of(txn, ruleset)
                # An export that engages allied law is decided with the laws in force on its own date.
                dated = () if is_us_only(self.book, txn) else (txn.date,)
                key = (id(ruleset), item.id, party, *dated)
                ctx = self.context(key, ruleset, item, party, txn.date)
                return self.decide_single(key, ctx, txn.consignee, txn.destination, txn.date, line.quantity)
        return self._decide_any(txn, ruleset)

    def _decide_any(self, txn: Transaction, ruleset: Ruleset) -> tuple[int, float]:
        balances: dict[str, float] = {}
        for allocation in ruleset.allocations.values():
            account = allocation_account(allocation, txn.consignee, txn.destination, txn.date)
            if allocation.shares is not None and txn.consignee.veu == "UVEU":
                balances[account] = self._headroom(
                    allocation.shares, account, txn.consignee, txn.destination, txn.date, ruleset
                )
                continue
            cap = allocation.cap_for(txn.destination, txn.date.year)
            if cap is not None:
                balances[account] = max(0.0, cap - self.used.get(account, 0.0))
        decision = determine_all(txn, self.book, ruleset, balances=balances, explain=False)
        index = self._template(decision)
        if self.listings:
            hits = self.listings.hits(txn.consignee, txn.date)
            if hits:
                listed = self.listed(index, hits)
                if self.templates[listed].outcome != decision.outcome:
                    return listed, decision.tpp_total  # a listed party's shipment draws nothing
                index = listed
        fresh = determine_all(txn, self.book, ruleset, explain=False)
        if (fresh.outcome, fresh.authorization, fresh.review_policy) != (
            decision.outcome,
            decision.authorization,
            decision.review_policy,
        ):
            drawn = {d.account for d in decision.allocations}
            for d in fresh.allocations:
                if d.account not in drawn:
                    self.binds.append(Bound(d.allocation, d.rule, d.account, txn.date))
        for draw in () if index in self._refused else decision.allocations:
            self.used[draw.account] = self.used.get(draw.account, 0.0) + draw.tpp
            if draw.cap is not None:
                self.caps[draw.account] = draw.cap
            source = ruleset.allocations.get(draw.rule.split("/", 1)[1])
            if source is not None and source.shares is not None:
                self._install(draw.account, draw.tpp)
        return index, decision.tpp_total

    def _install(self, account: str, tpp: float) -> None:
        prefix, country = account.rsplit(":", 1)
        by_country = self.installed.setdefault(prefix + ":", {})
        by_country[country] = by_country.get(country, 0.0) + tpp

    def _headroom(
        self,
        shares: UveuShares,
        account: str,
        consignee: Consignee,
        destination: str,
        day: dt.date,
        ruleset: Ruleset,
    ) -> float:
        """The TPP a UVEU may still add at ``destination`` (the core's ``uveu_headroom`` over its installed base)."""
        installed = self.installed.get(account.rsplit(":", 1)[0] + ":", {})

        def tier(country: str) -> str | None:
            groups = ruleset.memberships(country, day)
            return "tier1" if shares.tier1_group in groups else "tier2" if shares.tier2_group in groups else None

        return uveu_headroom(shares, installed, destination, us_headquartered=consignee.headquarters == "US", tier=tier)

    # ------------------------------------------------------------------ proposed listings
    def listed(self, index: int, hits: tuple[Listing, ...]) -> int:
        """The template ``index`` made as restrictive as the listings require (screening's own adjustment)."""
        memo_key = ("listed", index, tuple(h.key for h in hits))
        found = self._memo.get(memo_key)
        if found is None:
            from tiergate.screen.licensing import apply_screening
            from tiergate.screen.model import Hit, ListEntry

            entries = [
                Hit(
                    ListEntry(
                        dataset="replay-proposal",
                        entry_id=h.key,
                        list_code=h.list_code,
                        schema="LegalEntity",
                        name=h.name or h.consignee_id or "",
                        countries=(h.country,) if h.country else (),
                        listed_on=h.effective.isoformat(),
                        license_requirement="For all items subject to the EAR (proposed listing)"
                        if h.list_code == "EL"
                        else None,
                        license_policy=h.license_policy,
                        source_file=h.where.split(":", 1)[0],
                        source_line=int(h.where.rsplit(":", 1)[1]) if re.search(r":\d+$", h.where) else 0,
                    ),
                    1.0,
                    h.name or h.consignee_id or "",
                    True,
                    status="confirmed",
                )
                for h in hits
            ]
            found = self._memo[memo_key] = self._template(apply_screening(self.templates[index], entries))
        return found


@dataclass
class Coded:
    """A column of texts as codes into a table of distinct labels."""

    codes: np.ndarray
    labels: list[str]

    @classmethod
    def of(cls, values: Sequence[str]) -> Coded:
        table: dict[str, int] = {}
        codes = np.fromiter((table.setdefault(v, len(table)) for v in values), dtype=np.int64, count=len(values))
        return cls(codes, list(table))


@dataclass
class RowFacts:
    """What the report needs of each replayed transaction, in input order."""

    ids: list[str | None]
    days: np.ndarray
    destinations: Coded
    consignees: Coded
    """By the consignee's account key (its id, else country and normalised name)."""
    consignee_names: list[str]
    """Per consignee label: its name and country as the history gives them (the first seen)."""
    chips: Coded
    tpp: np.ndarray
    """TPP of each transaction under the ``from`` regime."""
    value_declared: np.ndarray
    value_low: np.ndarray
    value_high: np.ndarray


@dataclass
class ReplayResult:
    regime_from: str
    regime_to: str
    effective_dates: bool
    sides: tuple[Side, Side]
    facts: RowFacts
    templates: dict[str, np.ndarray]
    """Per side, the template index of each replayed transaction (input order)."""
    unreplayable: list[dict[str, Any]]
    rows_read: int
    history_digest: str
    history_source: str
    listings: tuple[Listing, ...] = ()
    path: str = "rows"
    """``rows`` (each record parsed and decided) or ``columns`` (a Parquet history, column-wise)."""


EPOCH = dt.date(1970, 1, 1)


def day_number(day: dt.date) -> int:
    return (day - EPOCH).days


def value_of(txn: Transaction) -> tuple[float, float, float]:
    """The transaction's value in US dollars: (declared, low, high). Declared is NaN when the transaction gives
    none; low and high are the catalogue's indicative price range times the quantity (for a system, of the
    chips it holds), NaN when an item has no price (the value is then unknown)."""
    declared = txn.value_usd if txn.value_usd is not None else float("nan")
    low = high = 0.0
    for line in txn.items:
        item = line.item
        chip: Chip | None = item if isinstance(item, Chip) else item.chip if isinstance(item, System) else None
        per = item.chips_per_system if isinstance(item, System) else 1
        if chip is None or chip.price_usd is None:
            return declared, float("nan"), float("nan")
        low += chip.price_usd.low * per * line.quantity
        high += chip.price_usd.high * per * line.quantity
    return declared, low, high


def chip_label(txn: Transaction) -> str:
    labels = []
    for line in txn.items:
        item = line.item
        chip = item if isinstance(item, Chip) else item.chip if isinstance(item, System) else None
        labels.append((chip.id or chip.name) if chip is not None else getattr(item, "name", "item"))
    distinct = list(dict.fromkeys(labels))
    return distinct[0] if len(distinct) == 1 else "(several)"


def consignee_label(c: Consignee) -> str:
    return f"{c.name} ({c.country})"


class Listings:
    """Proposed listings, found by consignee id or by normalised name (and country, when the listing gives one)."""

    def __init__(self, listings: Sequence[Listing]) -> None:
        self.all = tuple(listings)
        self._by_id: dict[str, list[Listing]] = {}
        self._by_name: dict[str, list[Listing]] = {}
        for listing in self.all:
            if listing.consignee_id:
                self._by_id.setdefault(listing.consignee_id, []).append(listing)
            if listing.name:
                self._by_name.setdefault(normalised_name(listing.name), []).append(listing)

    def __bool__(self) -> bool:
        return bool(self.all)

    def hits(self, consignee: Consignee, day: dt.date) -> tuple[Listing, ...]:
        found = [*self._by_id.get(consignee.id or "", ()), *self._by_name.get(normalised_name(consignee.name), ())]
        return tuple(
            dict.fromkeys(
                h
                for h in found
                if h.effective <= day and (h.country is None or h.country == consignee.country or h.consignee_id)
            )
        )


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One record of a history: its data (a transaction object) and where it came from; ``missing`` says why
    a record whose facts were not kept cannot be replayed (it is listed, never reconstructed)."""

    data: Any
    where: str
    missing: str | None = None


def replay_rows(
    book: Rulebook,
    rows: Iterable[HistoryRow],
    *,
    regime_from: str,
    regime_to: str,
    effective_dates: bool = False,
    listings: Sequence[Listing] = (),
    today: dt.date,
    history_digest: str = "",
    history_source: str = "",
    progress: Callable[[int], None] | None = None,
) -> ReplayResult:
    """Replay parsed-as-you-go records (any format ``decide`` reads): parse every record, sort by date (input
    order within a date), decide each under both regimes with carried-forward allocations."""
    from tiergate.interchange import parse_transaction

    check_regimes(book, regime_from, regime_to)
    unreplayable: list[tuple[int, dict[str, Any]]] = []
    parsed: list[tuple[int, Transaction, str]] = []
    read = 0
    for position, row in enumerate(rows):
        read += 1
        record_id = row.data.get("id") if isinstance(row.data, dict) else None
        if row.missing is not None:
            unreplayable.append((position, _unreplayable(record_id, row.where, InputError(row.missing))))
            continue
        try:
            # no default date: a history row without its date is not replayed (facts are never filled in)
            txn = parse_transaction(row.data, book.catalogue, where=row.where)
        except TiergateError as error:
            unreplayable.append((position, _unreplayable(record_id, row.where, error)))
            continue
        parsed.append((position, txn, row.where))
    order = sorted(range(len(parsed)), key=lambda i: parsed[i][1].date)
    sides = (
        Side(book, regime_from, effective_dates, "from"),
        Side(book, regime_to, effective_dates, "to", listings=Listings(listings) if listings else None),
    )
    chosen: dict[int, tuple[int, int, float]] = {}
    for done, i in enumerate(order, start=1):
        position, txn, where = parsed[i]
        try:
            a, tpp_from = sides[0].decide_row(txn)
            b, _ = sides[1].decide_row(txn)
        except TiergateError as error:
            unreplayable.append((position, _unreplayable(txn.id, where, error)))
            continue
        chosen[i] = (a, b, tpp_from)
        if progress is not None and done % 10_000 == 0:
            progress(done)
    kept = [i for i in range(len(parsed)) if i in chosen]
    txns = [parsed[i][1] for i in kept]
    values = np.array([value_of(t) for t in txns], dtype=np.float64).reshape(len(txns), 3)
    consignees = Coded.of([t.consignee.key for t in txns])
    names: dict[str, str] = {}
    for t in txns:
        names.setdefault(t.consignee.key, consignee_label(t.consignee))
    facts = RowFacts(
        ids=[t.id for t in txns],
        days=np.array([day_number(t.date) for t in txns], dtype=np.int64),
        destinations=Coded.of([t.destination for t in txns]),
        consignees=consignees,
        consignee_names=[names[k] for k in consignees.labels],
        chips=Coded.of([chip_label(t) for t in txns]),
        tpp=np.array([chosen[i][2] for i in kept], dtype=np.float64),
        value_declared=values[:, 0],
        value_low=values[:, 1],
        value_high=values[:, 2],
    )
    from_index = [chosen[i][0] for i in kept]
    to_index = [chosen[i][1] for i in kept]
    unreplayable.sort(key=lambda pair: pair[0])
    return ReplayResult(
        regime_from,
        regime_to,
        effective_dates,
        sides,
        facts,
        {"from": np.array(from_index, dtype=np.int64), "to": np.array(to_index, dtype=np.int64)},
        [u for _, u in unreplayable],
        read,
        history_digest,
        history_source,
        tuple(listings),
    )


def _unreplayable(record_id: Any, where: str, error: TiergateError) -> dict[str, Any]:
    return {
        "id": None if record_id is None else str(record_id),
        "where": where,
        # a history row is replayed on its own date: the CLI's --as-of hint does not apply
        "why": error.message.replace(" (or pass --as-of)", "") + (f" ({error.hint})" if error.hint else ""),
    }


def file_digest(path: Any) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def history_rows(records: Iterable[Any]) -> Iterator[HistoryRow]:
    """``tiergate.batch`` records as history rows."""
    for record in records:
        yield HistoryRow(record.data, record.where)


def check_regimes(book: Rulebook, regime_from: str, regime_to: str) -> None:
    for option, name in (("--from", regime_from), ("--to", regime_to)):
        try:
            book.regime(name)
        except TiergateError as error:
            raise type(error)(error.message, where=option, hint=error.hint) from None


__all__ = [
    "SIDES",
    "Bound",
    "Coded",
    "HistoryRow",
    "Listing",
    "Listings",
    "ReplayResult",
    "RowFacts",
    "Side",
    "check_regimes",
    "file_digest",
    "history_rows",
    "replay_rows",
    "value_of",
]

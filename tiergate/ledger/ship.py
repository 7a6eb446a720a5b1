"""Shipping: decide a transaction against live balances and, when it is authorised, draw every
allocation it needs in one database transaction (reserve and commit), or none of them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from tiergate.decide import allocation_account, uveu_headroom
from tiergate.decide.model import Decision, Listing, Transaction
from tiergate.errors import InputError
from tiergate.interchange import canonical_transaction, decision_to_dict, transaction_to_dict
from tiergate.ledger.licence import (
    Licence,
    LineDraw,
    coverage,
    describe,
    dollars,
    line_account,
    required_authorities,
)
from tiergate.ledger.schema import audit
from tiergate.ledger.store import AllocationExceeded, IdempotencyConflict, Ledger, LedgerError
from tiergate.rules.book import Rulebook
from tiergate.rules.ruleset import Ruleset, UveuShares

LICENCE_KIND = "licence:quantity"


@dataclass(frozen=True, slots=True)
class Shipment:
    decision: Decision
    committed: bool
    reason: str
    reservations: tuple[int, ...] = ()
    repeated: dict[str, Any] | None = None
    """For a retried shipment: the decision as it was when the shipment was committed."""
    duplicate: bool = False
    """A repeat of a shipment already committed (same id and content): nothing was drawn now."""
    licence_check: dict[str, Any] | None = None
    """Under a licence: the lines drawn, or every field of the shipment the licence does not cover."""

    @property
    def exit_code(self) -> int:
        """0 committed; 3 refused for lack of allocation; 4 not authorised (licence needed, prohibited)."""
        if self.committed:
            return 0
        return 3 if self.reason.startswith("allocation") else 4


@dataclass(frozen=True, slots=True)
class ShipWindow:
    """The shipment dates ``ship`` records without a backfill: from ``back`` days before today to ``ahead`` days
    after it (``TIERGATE_SHIP_DAYS_BACK``, default 30; ``TIERGATE_SHIP_DAYS_AHEAD``, default 0)."""

    back: int = 30
    ahead: int = 0

    @classmethod
    def from_env(cls) -> ShipWindow:
        values = []
        for name, default in (("TIERGATE_SHIP_DAYS_BACK", 30), ("TIERGATE_SHIP_DAYS_AHEAD", 0)):
            text = os.environ.get(name, "").strip()
            try:
                value = int(text) if text else default
            except ValueError:
                raise InputError(f"{name}: {text!r} is not a whole number of days") from None
            if not 0 <= value <= 36_600:
                raise InputError(f"{name}: {value} days; give 0 to 36600")
            values.append(value)
        return cls(*values)


def recorded_shipment(
    txn: Transaction, book: Rulebook, regime: str | None, today: dt.date, window: ShipWindow, backfill: bool
) -> tuple[Transaction, dict[str, Any] | None]:
    """A real shipment is decided under the regime in force on its date, and dated within the window around today
    (further back only with ``backfill``, an admin's act, which is audited; never after the window). Returns the
    transaction to decide (its regime cleared) and the backfill's record, if one is needed; else InputError."""
    in_force = book.regime_in_force(txn.date).name
    for named, where in ((regime, "regime"), (txn.regime, "regime")):
        if named is not None and named != in_force:
            raise InputError(
                f"{named} is a scenario: `ship` records real shipments, decided under the regime in force on "
                f"their date ({in_force} on {txn.date}); nothing was drawn",
                where=where,
                hint="leave the regime out; try a scenario with `tiergate decide --regime`",
            )
    earliest = today - dt.timedelta(days=window.back)
    latest = today + dt.timedelta(days=window.ahead)
    if txn.date > latest:
        raise InputError(
            f"{txn.date} is after {latest}: a shipment is recorded when it ships, not ahead of it; nothing was drawn",
            where="date",
        )
    if txn.date >= earliest:
        return dataclasses.replace(txn, regime=None), None
    if not backfill:
        raise InputError(
            f"{txn.date} is more than {window.back} days before today ({today}); nothing was drawn",
            where="date",
            hint="an administrator records an older shipment with the backfill flag (it is audited)",
        )
    record = {"date": txn.date.isoformat(), "today": today.isoformat(), "window_days_back": window.back}
    return dataclasses.replace(txn, regime=None), record


def transaction_hash(txn: Transaction) -> str:
    return hashlib.sha256(canonical_transaction(txn).encode()).hexdigest()


def allocation_refused(decision: Decision) -> bool:
    """Whether a licensed shipment of this decision is refused because the country allocation does not cover it:
    an item needs a licence reviewed under presumption of denial and draws the country allocation. Such a
    shipment draws nothing (here, and in a replay, which carries allocations forward as the ledger does)."""
    return any(
        item.outcome == "license_required"
        and item.review_policy == "presumption_of_denial"
        and any(r.endswith("country-allocation") for r in item.rules)
        for item in decision.items
    )


def live_balances(txn: Transaction, ruleset: Ruleset, ledger: Ledger) -> dict[str, float]:
    """The remaining TPP of every allocation account ``txn`` could draw, with a UVEU's headroom under its
    geographic allocation."""
    candidates = {
        allocation_account(a, txn.consignee, txn.destination, txn.date): a for a in ruleset.allocations.values()
    }
    found = ledger.remaining(candidates)
    for account, allocation in candidates.items():  # an account nothing has drawn yet: its whole cap remains
        cap = allocation.cap_for(txn.destination, txn.date.year)
        if account not in found and cap is not None:
            found[account] = cap
    return {**found, **_uveu_headroom(txn, ruleset, ledger, None)}


def live_decision(
    txn: Transaction,
    book: Rulebook,
    ledger: Ledger,
    *,
    regime: str | None = None,
    listings: Sequence[Listing] = (),
) -> tuple[Decision, Ruleset]:
    """The decision for ``txn`` with the live balances of every allocation account it could draw, in every
    jurisdiction it engages (the store's denial notices consulted; ``listings``: allied-list hits)."""
    from tiergate.alliance import determine_all
    from tiergate.denials.store import held_denials

    ruleset, selection = book.select(regime or txn.regime, txn.date)
    decision = determine_all(
        txn,
        book,
        ruleset,
        balances=live_balances(txn, ruleset, ledger),
        selection=selection.describe(),
        listings=listings,
        denials=held_denials(ledger.url),
    )
    return decision, ruleset


def _uveu_headroom(txn: Transaction, ruleset: Ruleset, ledger: Ledger, conn: Connection | None) -> dict[str, float]:
    """For a UVEU consignee: the TPP its geographic allocation still lets it add at the destination,
    from its installed base by country in the ledger (locked when ``conn`` is a write transaction)."""
    if txn.consignee.veu != "UVEU":
        return {}
    out: dict[str, float] = {}
    for allocation in ruleset.allocations.values():
        if allocation.shares is None:
            continue
        shares = allocation.shares
        account = allocation_account(allocation, txn.consignee, txn.destination, txn.date)
        installed = ledger.installed(account.rsplit(":", 1)[0] + ":", conn)

        def tier(country: str, shares: UveuShares = shares) -> str | None:
            groups = ruleset.memberships(country, txn.date)
            return "tier1" if shares.tier1_group in groups else "tier2" if shares.tier2_group in groups else None

        out[account] = uveu_headroom(
            shares, installed, txn.destination, us_headquartered=txn.consignee.headquarters == "US", tier=tier
        )
    return out


def ship(
    txn: Transaction,
    book: Rulebook,
    ledger: Ledger,
    *,
    licence_id: str | None = None,
    regime: str | None = None,
    listings: Sequence[Listing] = (),
    today: dt.date | None = None,
    window: ShipWindow | None = None,
    backfill: bool = False,
    screening: Callable[[Decision], Decision] | None = None,
) -> Shipment:
    """Decide ``txn`` with live balances; when authorised (or licensed under ``licence_id``), reserve and
    commit every allocation it draws atomically. The decision and the outcome are in the audit log.

    ``screening`` makes the live decision as restrictive as the consignee's screening hits require, before
    anything is drawn: an Entity List consignee needs a licence even where the licence rules alone say NLR, and
    that licence must cover the shipment (its consignee among them) like any other.

    With ``today`` (the command line, the API and the dashboard always give it) the shipment is a real one: see
    ``recorded_shipment``. Without it (a replay, a simulation) the date and ``regime`` are taken as given.
    A shipment is identified by its id (else by its content): a repeat, even a concurrent one, answers as the
    first did with ``duplicate`` set, and draws and logs nothing; the id reused for other content is refused."""
    backfilled = None
    if today is not None:
        txn, backfilled = recorded_shipment(txn, book, regime, today, window or ShipWindow.from_env(), backfill)
        regime = None
    digest = transaction_hash(txn)
    decision_id = txn.id or digest[:16]
    decision, ruleset = live_decision(txn, book, ledger, regime=regime, listings=listings)
    if screening is not None:
        decision = screening(decision)
    packs = ",".join(decision.packs)
    # Looked up after the decision: a concurrent first shipment whose draws the decision saw is seen here too.
    with ledger.engine.connect() as conn:
        earlier = shipped_before(conn, decision_id)
    if earlier is not None:  # the same shipment was committed before: a retry changes nothing
        return _repeat(earlier, decision, digest)
    base_key = f"ship:{decision_id}:{digest[:16]}"
    outcome = decision.outcome
    licence: Licence | None = None
    licence_draws: list[LineDraw] = []
    if outcome == "prohibited":
        return _refuse(ledger, decision, packs, digest, decision_id, "not authorised: the transaction is prohibited")
    if outcome == "license_required":
        if licence_id is None:
            return _refuse(
                ledger, decision, packs, digest, decision_id, "not authorised: a licence is required (--license ID)"
            )
        licence = ledger.licence(licence_id)
        if licence is None:
            return _refuse(
                ledger, decision, packs, digest, decision_id, f"not authorised: licence {licence_id!r} is not recorded"
            )
        authorities = required_authorities(decision)
        if len(authorities) > 1:  # one licence is granted by one authority: it cannot stand for all
            said = {j.jurisdiction: j for j in decision.jurisdictions}
            needed = "; ".join(
                f"{code} ({said[code].authority}{', a review' if said[code].indeterminate else ''})"
                if code in said
                else f"{code} (BIS: the consignee is on the Entity List)"
                for code in authorities
            )
            return _refuse(
                ledger,
                decision,
                packs,
                digest,
                decision_id,
                f"not authorised: licences are required from several authorities ({needed}); licence "
                f"{licence_id!r} is one licence, granted by {licence.jurisdiction or 'an authority not recorded'}",
            )
        mismatches, licence_draws = coverage(licence, txn, decision)
        if mismatches:
            check = {"licence": licence_id, "covered": False, "mismatches": [m.to_dict() for m in mismatches]}
            return _refuse(
                ledger,
                decision,
                packs,
                digest,
                decision_id,
                f"not authorised: licence {licence_id} does not cover this shipment: {describe(mismatches)}",
                check,
            )
        if allocation_refused(decision):
            return _refuse(
                ledger,
                decision,
                packs,
                digest,
                decision_id,
                "allocation exceeded: the country allocation does not cover this licensed export",
            )
    draws: list[tuple[str, float, str, str, float | None]] = [
        (d.account, d.tpp, d.allocation, d.rule, d.cap) for d in decision.allocations
    ]
    licence_check: dict[str, Any] | None = None
    if outcome == "license_required":
        assert licence is not None
        for drawn in licence_draws:  # each line on its own accounts: units of two lines never add up
            line = licence.lines[drawn.line - 1]
            rule = f"licence/{licence.id}/line-{drawn.line}"
            draws.append(
                (
                    line_account(licence.id, drawn.line, "quantity"),
                    float(drawn.units),
                    LICENCE_KIND,
                    rule,
                    float(line.quantity),
                )
            )
            if drawn.value_usd is not None:
                draws.append(
                    (
                        line_account(licence.id, drawn.line, "value"),
                        drawn.value_usd,
                        "licence:value",
                        rule,
                        line.value_usd,
                    )
                )
        licence_check = {
            "licence": licence.id,
            "covered": True,
            "lines": [
                {"line": d.line, "item": d.item, "units": d.units, "value_usd": d.value_usd, "items": list(d.indexes)}
                for d in licence_draws
            ],
        }

    def draw_all(conn: Connection) -> list[int]:
        # One shipment at a time per id, checked again inside the transaction: concurrent retries draw once.
        _hold_shipment_id(conn, decision_id)
        found = shipped_before(conn, decision_id)
        if found is not None:
            raise _ShippedBefore(found)
        ledger.note_packs(conn, packs)
        if backfilled is not None:  # an admin recorded an older shipment: that act is in the log too
            ledger.append_audit(conn, "backfill", decision_id, backfilled, input_hash=digest)
        # The UVEU allocation is checked again on the locked installed base: no race past the shares.
        for account, headroom in _uveu_headroom(txn, ruleset, ledger, conn).items():
            asked = sum(tpp for name, tpp, *_ in draws if name == account)
            if asked and asked > headroom + 1e-9 * max(1.0, headroom):
                raise AllocationExceeded(
                    f"{account}: {asked:,.4f} TPP asked, the UVEU geographic allocation allows {headroom:,.4f} more"
                )
        with ledger.audit_deferred(conn):  # accounts in a fixed order first, then the audit chain's head
            reservations = _draw(ledger, conn, draws, base_key, decision_id)
        ledger.append_audit(
            conn,
            "ship",
            decision_id,
            {
                "outcome": outcome,
                "authorization": decision.authorization,
                "licence": licence_id,
                "draws": [{"account": a, "tpp": t} for a, t, *_ in draws],
                "reservations": reservations,
                "decision": decision_to_dict(decision, explain=False),
                # the facts as shipped, so that a replay (tiergate replay --from-ledger) decides them again
                "transaction": transaction_to_dict(txn),
            },
            pack_revision=packs,
            input_hash=digest,
        )
        return reservations

    try:
        reservations = ledger.run(draw_all)  # the whole shipment is one ledger transaction
    except _ShippedBefore as repeat:
        return _repeat(repeat.entry, decision, digest)
    except AllocationExceeded as error:
        message = error.message
        if message.startswith("licence:"):  # a licence line counts units and dollars, not TPP
            message = message.replace(" TPP", " USD" if message.split(":", 4)[3].startswith("value") else " unit(s)")
        return _refuse(ledger, decision, packs, digest, decision_id, f"allocation exceeded: {message}", licence_check)
    except IntegrityError as error:  # a key taken by a concurrent writer the lock did not cover: read its result
        with ledger.engine.connect() as conn:
            earlier = shipped_before(conn, decision_id)
        if earlier is None:
            raise LedgerError(f"refused by the database: {error.orig}", hint="nothing was changed") from None
        return _repeat(earlier, decision, digest)
    reason = "shipped under " + (
        f"licence {licence_id}" if outcome == "license_required" else str(decision.authorization)
    )
    return Shipment(decision, True, reason, tuple(reservations), licence_check=licence_check)


class _ShippedBefore(Exception):
    def __init__(self, entry: dict[str, Any]) -> None:
        self.entry = entry


def shipped_before(conn: Connection, decision_id: str) -> dict[str, Any] | None:
    """The audit entry of the shipment committed under this id, if any."""
    query = (
        sa.select(audit)
        .where(audit.c.action == "ship", audit.c.subject == decision_id)
        .order_by(audit.c.seq.desc())
        .limit(1)
    )
    row = conn.execute(query).mappings().first()
    return dict(row) if row is not None else None


def _hold_shipment_id(conn: Connection, decision_id: str) -> None:
    """Serialise the transactions of one shipment id: a PostgreSQL advisory lock held to the commit (a SQLite
    write transaction holds the database's write lock from its start already)."""
    if conn.dialect.name == "postgresql":
        lock = int.from_bytes(hashlib.sha256(f"tiergate-ship:{decision_id}".encode()).digest()[:8], "big", signed=True)
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": lock})


def _repeat(entry: dict[str, Any], decision: Decision, digest: str) -> Shipment:
    """The answer to a repeat: the first answer, marked a duplicate; other content under a used id is refused."""
    if entry["input_hash"] is not None and entry["input_hash"] != digest:
        raise IdempotencyConflict(
            f"shipment {entry['subject']!r} was shipped before with other content (audit entry {entry['seq']}); "
            "nothing was drawn",
            hint="give a new shipment its own id",
        )
    stored = json.loads(entry["payload"])
    return Shipment(
        decision,
        True,
        f"already shipped (audit entry {entry['seq']}); a duplicate: nothing was drawn now",
        tuple(stored.get("reservations", [])),
        stored.get("decision"),
        duplicate=True,
    )


def _draw(
    ledger: Ledger,
    conn: Connection,
    draws: list[tuple[str, float, str, str, float | None]],
    base_key: str,
    decision_id: str,
) -> list[int]:
    reservations = []
    for account, tpp, kind, rule, cap in sorted(draws):  # a fixed order: concurrent shipments cannot deadlock
        reservation = ledger.reserve(
            account,
            tpp,
            kind=kind,
            rule=rule,
            cap_tpp=cap,
            key=f"{base_key}:{account}:reserve",
            decision_id=decision_id,
            conn=conn,
        )
        ledger.commit(reservation, key=f"{base_key}:{account}:commit", conn=conn)
        reservations.append(reservation)
    return reservations


def refuse_before_drawing(txn: Transaction, ledger: Ledger, decision: Decision, reason: str) -> Shipment:
    """Record a shipment refused before the ledger is drawn (restricted-party screening refuses it): like every
    refusal it is in the audit log (``ship-refused``, with the decision's outcome, rules and the reason). A
    refusal of a shipment already committed under the same id is that shipment's answer, a duplicate."""
    digest = transaction_hash(txn)
    return _refuse(ledger, decision, ",".join(decision.packs), digest, txn.id or digest[:16], reason)


def _refuse(
    ledger: Ledger,
    decision: Decision,
    packs: str,
    digest: str,
    decision_id: str,
    reason: str,
    licence_check: dict[str, Any] | None = None,
) -> Shipment:
    payload: dict[str, Any] = {"outcome": decision.outcome, "reason": reason, "rules": list(decision.rules)}
    if licence_check is not None:
        payload["licence_check"] = licence_check

    def record(conn: Connection) -> None:
        _hold_shipment_id(conn, decision_id)
        found = shipped_before(conn, decision_id)
        if found is not None:  # shipped meanwhile by a concurrent retry: that is the answer
            raise _ShippedBefore(found)
        ledger.note_packs(conn, packs)
        ledger.append_audit(conn, "ship-refused", decision_id, payload, pack_revision=packs, input_hash=digest)

    try:
        ledger.run(record)
    except _ShippedBefore as repeat:
        return _repeat(repeat.entry, decision, digest)
    return Shipment(decision, False, reason, licence_check=licence_check)


def shipment_to_dict(shipment: Shipment, explain: bool = True) -> dict[str, Any]:
    if shipment.repeated is not None:
        out = dict(shipment.repeated)
        if explain:  # the decision was kept without its explanation: say what it is
            out.setdefault("explanation", [f"{shipment.reason}: the decision shown is the one it was shipped under."])
    else:
        out = decision_to_dict(shipment.decision, explain=explain)
    out["committed"] = shipment.committed
    out["duplicate"] = shipment.duplicate
    out["reason"] = shipment.reason
    out["reservations"] = list(shipment.reservations)
    check = shipment.licence_check
    if check is not None:
        out["licence_check"] = check
        if explain and isinstance(out.get("explanation"), list):  # the licence's answer, in the trace
            lid = check["licence"]
            out["explanation"] = [
                *out["explanation"],
                *(
                    f"Licence {lid} does not cover {m['field']} [{m['rule']}]: {m['message']}."
                    for m in check.get("mismatches", [])
                ),
                *(
                    f"Draws on licence {lid} line {d['line']} ({d['item']}) [licence/{lid}/line-{d['line']}]: "
                    f"{d['units']:,} unit(s), {d['value_usd']:,.2f} USD."
                    for d in check.get("lines", [])
                ),
            ]
    return out


def balances_rows(ledger: Ledger, as_of: dt.datetime | None = None) -> list[dict[str, Any]]:
    return [
        {
            "allocation": b.account,
            "kind": b.kind,
            "rule": b.rule,
            "cap": b.cap,
            "used": b.used,
            "reserved": b.reserved,
            "remaining": b.remaining,
        }
        for b in ledger.balances(as_of)
    ]


def licence_view(ledger: Ledger, licence: Licence) -> dict[str, Any]:
    """A licence in its interchange form, each line with the units and dollars drawn on it and left."""
    out = licence.to_dict()
    names = [line_account(licence.id, n, m) for n in range(1, len(licence.lines) + 1) for m in ("quantity", "value")]
    left = ledger.remaining(names)
    for n, line in enumerate(out["lines"], start=1):
        units = left.get(line_account(licence.id, n, "quantity"), float(line["quantity"]))
        money = dollars(left.get(line_account(licence.id, n, "value"), float(line["value_usd"])))
        line["quantity_remaining"] = round(units)
        line["value_usd_remaining"] = money
    return out


__all__ = [
    "ShipWindow",
    "Shipment",
    "allocation_refused",
    "balances_rows",
    "licence_view",
    "live_balances",
    "live_decision",
    "recorded_shipment",
    "ship",
    "shipment_to_dict",
    "shipped_before",
]

"""The allocation ledger: reserve, commit and release against capped accounts, with a hash-chained audit log.

Every operation is one database transaction: the account row is changed by a conditional UPDATE
(``... WHERE cap IS NULL OR used + reserved + :amount <= cap``), so two writers racing for the last
units of a cap cannot both succeed, and a CHECK constraint refuses any row over its cap besides.
A crash leaves either the whole operation (account, reservation, movement, audit entry) or none of it.
Each operation carries an idempotency key; repeating it returns the first result and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import random
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import SQLAlchemyError as DatabaseError

from tiergate.database import WRITE_OPTION as WRITE_OPTION
from tiergate.database import LedgerError as LedgerError
from tiergate.database import create_engine as create_engine
from tiergate.ledger.licence import Licence, LicenceLine, LicensedParty
from tiergate.ledger.schema import (
    UNITS_PER_TPP,
    accounts,
    audit,
    audit_head,
    licences,
    movements,
    reservations,
)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
HEAD_REVISION = "0002"
KNOWN_REVISIONS = ("0001", "0002")


class _Busy(Exception):
    """Another writer holds the database's write lock (SQLite): the operation is tried again."""


LOCK_WAIT_SECONDS = 60.0
INIT_LOCK = 0x7469_6572_6761_7465
"""The PostgreSQL advisory lock that ``Ledger.init`` holds while it creates or upgrades the tables."""
KEPT_IDLE = 2
"""Pool connections a ledger keeps checked out between one-step reservations."""
T = TypeVar("T")


class _LockWait:
    """Pauses between tries while another writer holds SQLite's write lock: short random pauses, doubling up
    to 20 ms (SQLite's own busy handler sleeps up to 100 ms between tries), for at most LOCK_WAIT_SECONDS."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.deadline = time.monotonic() + LOCK_WAIT_SECONDS
        self.longest = 0.0005

    def pause(self) -> None:
        if time.monotonic() > self.deadline:
            raise LedgerError(
                f"{self.url} stayed locked by other writers for {LOCK_WAIT_SECONDS} s",
                hint="nothing was changed; try again",
            )
        time.sleep(random.uniform(0, self.longest))  # noqa: S311 - jitter, not security
        self.longest = min(self.longest * 2, 0.02)


def _repeat_or_apply(
    done: Any, conn: Connection, repeat: Callable[[Any], int], apply: Callable[[Connection], int]
) -> int:
    return repeat(done) if done is not None else apply(conn)


def _busy(error: OperationalError) -> bool:
    """A lock taken by another writer (SQLite) or a deadlock PostgreSQL broke: the operation is run again."""
    text = str(error.orig).lower()
    return "database is locked" in text or "database is busy" in text or "deadlock detected" in text


class AllocationExceeded(LedgerError):
    """The allocation's cap (or the licence's quantity) does not cover the amount."""

    exit_code = 3


class UnknownReservation(LedgerError):
    pass


class IdempotencyConflict(LedgerError):
    """An idempotency key already used for a different operation."""


def to_units(tpp: float, field: str = "amount") -> int:
    if not isinstance(tpp, (int, float)) or isinstance(tpp, bool) or tpp != tpp or tpp in (float("inf"), float("-inf")):
        raise LedgerError(f"{field}: {tpp!r} is not a number of TPP")
    units = round(tpp * UNITS_PER_TPP)
    return int(units)


def from_units(units: int | None) -> float | None:
    return None if units is None else units / UNITS_PER_TPP


@dataclass(frozen=True, slots=True)
class Balance:
    account: str
    kind: str
    rule: str
    cap: float | None
    used: float
    reserved: float

    @property
    def remaining(self) -> float | None:
        return None if self.cap is None else self.cap - self.used - self.reserved


def unit_of(account: str) -> str:
    """What an account counts: a licence's quantity counts units, its value USD; an allocation counts TPP."""
    if account.startswith("licence:"):
        return "USD" if account.endswith(":value") else "units"
    return "TPP"


@dataclass(frozen=True, slots=True)
class Movement:
    id: int
    at: dt.datetime
    account: str
    op: str
    amount: float
    reservation_id: int
    idempotency_key: str
    decision_id: str | None
    actor: str

    def to_dict(self) -> dict[str, Any]:
        """The movement as `tiergate ledger history --format json` and `/v1/ledger/history` give it.

        ``amount`` is in ``unit`` (TPP for an allocation, units or USD for a licence); ``tpp`` is the amount
        when it is TPP, else null (it was the amount whatever its unit before ``unit`` was added)."""
        unit = unit_of(self.account)
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "account": self.account,
            "op": self.op,
            "amount": self.amount,
            "unit": unit,
            "tpp": self.amount if unit == "TPP" else None,
            "reservation": self.reservation_id,
            "key": self.idempotency_key,
            "decision": self.decision_id,
            "actor": self.actor,
        }


@dataclass(frozen=True, slots=True)
class AuditProblem:
    seq: int
    problem: str


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _closed(driver: Any) -> bool:
    """Whether a DBAPI connection is closed (psycopg says so; a sqlite3 connection is closed only by us)."""
    return bool(getattr(driver, "closed", False))


def _insert_if_absent(conn: Connection, table: sa.Table, values: Mapping[str, Any]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING: the one place where SQLite and PostgreSQL differ."""
    name = conn.dialect.name
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        conn.execute(sqlite_insert(table).values(**values).on_conflict_do_nothing())
    elif name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        conn.execute(pg_insert(table).values(**values).on_conflict_do_nothing())
    else:  # pragma: no cover - create_engine admits only these two
        raise LedgerError(f"unsupported database {name!r}")


# The statements of the hot path, built once (building SQLAlchemy constructs costs more than SQLite
# running them); values come in as bind parameters.
_B = sa.bindparam
_EXISTING = sa.select(movements).where(movements.c.idempotency_key == _B("b_key"))
_HOLD = (
    accounts.update()
    .where(accounts.c.account == _B("b_account"))
    .where(sa.or_(accounts.c.cap.is_(None), accounts.c.used + accounts.c.reserved + _B("b_amount") <= accounts.c.cap))
    .values(reserved=accounts.c.reserved + _B("b_amount"))
    .returning(accounts.c.account)
)
_ACCOUNT = sa.select(accounts).where(accounts.c.account == _B("b_account"))
_NEW_RESERVATION = reservations.insert().returning(reservations.c.id)
_NEW_MOVEMENT = movements.insert()
_HELD = sa.select(reservations).where(reservations.c.id == _B("b_id")).with_for_update()
_SETTLE = {
    "commit": accounts.update()
    .where(accounts.c.account == _B("b_account"))
    .values(reserved=accounts.c.reserved - _B("b_amount"), used=accounts.c.used + _B("b_amount")),
    "release": accounts.update()
    .where(accounts.c.account == _B("b_account"))
    .values(reserved=accounts.c.reserved - _B("b_amount")),
}
_SETTLED = {
    "commit": reservations.update()
    .where(reservations.c.id == _B("b_id"))
    .values(committed=reservations.c.committed + _B("b_amount")),
    "release": reservations.update()
    .where(reservations.c.id == _B("b_id"))
    .values(released=reservations.c.released + _B("b_amount")),
}
_NEXT_ENTRY = (
    audit_head.update()
    .where(audit_head.c.id == 1)
    .values(seq=audit_head.c.seq + 1)
    .returning(audit_head.c.seq, audit_head.c.hash)
)
_NEW_ENTRY = audit.insert()
_HEAD_HASH = audit_head.update().where(audit_head.c.id == 1).values(hash=_B("b_hash"))


_COMPILED: dict[tuple[str, int, tuple[str, ...]], tuple[str, tuple[str, ...] | None, dict[str, Any]]] = {}


def _fast(conn: Connection, statement: Any, params: Mapping[str, Any] | None = None) -> Any:
    """Run a prebuilt statement on the connection's DBAPI cursor, compiled once per dialect: the hot
    path's statements cost SQLAlchemy more to prepare than the database to run."""
    values = dict(params or {})
    dialect = conn.dialect
    cache_key = (dialect.name, id(statement), tuple(sorted(values)))
    compiled = _COMPILED.get(cache_key)
    if compiled is None:
        built = statement.compile(dialect=dialect, column_keys=sorted(values))
        order = tuple(built.positiontup) if built.positiontup is not None else None
        fixed = {  # literals such as id = 1
            k: v for k, v in built.construct_params(values, _check=False).items() if k not in values
        }
        compiled = _COMPILED[cache_key] = (str(built), order, fixed)
    sql, order, fixed = compiled
    values = {**fixed, **values}
    if dialect.name == "sqlite":  # stored as SQLAlchemy's SQLite DateTime stores them: naive UTC text
        for name, value in values.items():
            if isinstance(value, dt.datetime):
                values[name] = _sqlite_time(value)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    cursor.execute(sql, [values[name] for name in order] if order is not None else values)
    return cursor


def _first(cursor: Any) -> dict[str, Any] | None:
    row = cursor.fetchone()
    if row is None:
        return None
    return {column[0]: value for column, value in zip(cursor.description, row, strict=True)}


def canonical(value: Any) -> str:
    """The text that is hashed: JSON with sorted keys and no spaces (orjson, deterministic)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str).decode()


def entry_hash(row: Mapping[str, Any]) -> str:
    """The hash of an audit entry: SHA-256 over its canonical content and the previous entry's hash."""
    content = {k: row[k] for k in ("seq", "at", "actor", "action", "subject", "pack_revision", "input_hash", "payload")}
    return hashlib.sha256((row["prev_hash"] + canonical(content)).encode()).hexdigest()


# ---------------------------------------------------------------------- the reservation in one step
# A reservation on its own (not inside a shipment) is the hot path. On PostgreSQL it is one statement in
# its own transaction, so one round trip: record the reservation and the movement, then hold the amount
# (the account's row is locked from here to the commit, so the inserts are kept out of that time; the
# table's CHECK refuses a hold past the cap, and the statement is undone whole), and append the audit entry
# chained by the database's own sha256 while the head row is locked (accounts before the head, as
# everywhere). On SQLite it is one short write transaction on the raw connection. The audit entry's
# canonical text is built in Python with markers where the reservation id and the sequence number go; the
# database fills them in, so the hash it computes is the one ``entry_hash`` recomputes when the chain is
# verified.

_MARK_RESERVATION = 918_374_655_091_283_701
_MARK_SEQ = 918_374_655_091_283_702

_PG_RESERVE = """
WITH res AS (
    INSERT INTO ledger_reservations (account, amount, committed, released, decision_id, created_at)
    VALUES (%(account)s, %(amount)s, 0, 0, %(decision)s, %(now)s)
    RETURNING id
), mov AS (
    INSERT INTO ledger_movements (at, account, op, amount, reservation_id, idempotency_key, decision_id, actor)
    SELECT %(now)s, %(account)s, 'reserve', %(amount)s, id, %(key)s, %(decision)s, %(actor)s FROM res
    RETURNING reservation_id
), hold AS (
    UPDATE ledger_accounts SET reserved = reserved + %(amount)s FROM mov
    WHERE account = %(account)s
    RETURNING account
), old AS (
    SELECT seq, hash FROM ledger_audit_head WHERE id = 1 AND EXISTS (SELECT 1 FROM hold) FOR UPDATE
), entry AS (
    INSERT INTO ledger_audit (seq, at, actor, action, subject, pack_revision, input_hash, payload, prev_hash, hash)
    SELECT old.seq + 1, %(at)s, %(actor)s, 'reserve', %(account)s, NULL, NULL,
           %(p1)s::text || res.id || %(p2)s::text, old.hash,
           encode(sha256(convert_to(
               old.hash || %(c1)s::text || res.id || %(c2)s::text || (old.seq + 1) || %(c3)s::text, 'UTF8'
           )), 'hex')
    FROM old, res
    RETURNING seq, hash
), advance AS (
    UPDATE ledger_audit_head SET seq = entry.seq, hash = entry.hash FROM entry WHERE ledger_audit_head.id = 1
)
SELECT id FROM res
"""

_SQLITE_HOLD = (
    "UPDATE ledger_accounts SET reserved = reserved + :amount "
    "WHERE account = :account AND (cap IS NULL OR used + reserved + :amount <= cap) RETURNING account"
)
_SQLITE_RESERVATION = (
    "INSERT INTO ledger_reservations (account, amount, committed, released, decision_id, created_at) "
    "VALUES (:account, :amount, 0, 0, :decision, :now) RETURNING id"
)
_SQLITE_MOVEMENT = (
    "INSERT INTO ledger_movements (at, account, op, amount, reservation_id, idempotency_key, decision_id, actor) "
    "VALUES (:now, :account, 'reserve', :amount, :reservation, :key, :decision, :actor)"
)
_SQLITE_ENTRY = (
    "INSERT INTO ledger_audit (seq, at, actor, action, subject, pack_revision, input_hash, payload, prev_hash, hash) "
    "SELECT seq + 1, :at, :actor, 'reserve', :account, NULL, NULL, :payload, hash, "
    "tiergate_sha256(hash || :before_seq || (seq + 1) || :after_seq) FROM ledger_audit_head WHERE id = 1 "
    "RETURNING seq, hash"
)
_SQLITE_ADVANCE = "UPDATE ledger_audit_head SET seq = :seq, hash = :hash WHERE id = 1"


def _around(text: str, mark: int) -> tuple[str, str] | None:
    """The text before and after the one occurrence of a marker (None if it is not there exactly once)."""
    parts = text.split(str(mark))
    return (parts[0], parts[1]) if len(parts) == 2 else None


class _KeyTaken(Exception):
    """The idempotency key is already in the ledger: the operation was done before."""


class Ledger:
    """Allocation balances in a SQLite file or a PostgreSQL database."""

    def __init__(self, url: str, *, actor: str | None = None, clock: Callable[[], dt.datetime] = _utcnow) -> None:
        self.url = url
        self.engine = create_engine(url)
        self.actor = actor or os.environ.get("TIERGATE_ACTOR") or os.environ.get("USER") or "tiergate"
        self.clock = clock
        # Pool connections kept between one-step reservations (see ``_kept_connection``): (process id, connection).
        self._kept_idle: list[tuple[int, Any]] = []

    # ------------------------------------------------------------------ set-up

    def close(self) -> None:
        """Close the database connections."""
        while self._kept_idle:
            pid, proxied = self._kept_idle.pop()
            if pid == os.getpid():
                self._back_to_pool(proxied)
        self.engine.dispose()

    def init(self) -> str:
        """Create or upgrade the ledger's tables (Alembic migrations); returns the schema revision."""
        from alembic import command
        from alembic.config import Config

        self._check_revision(allow_empty=True)
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        wait = _LockWait(self.url)
        while True:
            try:
                with self.engine.connect() as conn, conn.execution_options(**{WRITE_OPTION: True}).begin():
                    if conn.dialect.name == "postgresql":  # concurrent inits take turns (SQLite: BEGIN IMMEDIATE)
                        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": INIT_LOCK})
                    config.attributes["connection"] = conn
                    command.upgrade(config, "head")
                return HEAD_REVISION
            except OperationalError as error:
                if not _busy(error):
                    raise LedgerError(f"cannot open {self.url}: {error.orig}") from None
            wait.pause()

    def _check_revision(self, *, allow_empty: bool = False) -> str | None:
        try:
            with self.engine.connect() as conn:
                inspector = sa.inspect(conn)
                if not inspector.has_table("alembic_version"):
                    if allow_empty:
                        return None
                    raise LedgerError(
                        f"{self.url} is not a Tiergate ledger", hint="run `tiergate ledger init --db URL`"
                    )
                revision = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        except OperationalError as error:
            raise LedgerError(f"cannot open {self.url}: {error.orig}") from None
        if revision not in KNOWN_REVISIONS:
            raise LedgerError(
                f"{self.url} has ledger schema {revision!r}, newer than this Tiergate knows ({HEAD_REVISION})",
                hint="upgrade Tiergate; nothing was changed",
            )
        return str(revision)

    def check(self) -> None:
        """Fail clearly unless the database is a ledger of this version's schema (an older one is upgraded by
        ``ledger init``, which carries everything over)."""
        revision = self._check_revision()
        if revision != HEAD_REVISION:
            raise LedgerError(
                f"{self.url} has the older ledger schema {revision!r} (this Tiergate uses {HEAD_REVISION})",
                hint="run `tiergate ledger init --db URL` to upgrade it; licences are carried over",
            )

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One write transaction (on SQLite it holds the write lock from its start)."""
        try:
            with self.engine.connect() as conn, conn.execution_options(**{WRITE_OPTION: True}).begin():
                yield conn
        except OperationalError as error:
            if _busy(error) or error.connection_invalidated:
                raise _Busy() from None
            raise LedgerError(f"database error on {self.url}: {error.orig}", hint="nothing was changed") from None

    def run(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in one write transaction, again after a short random pause while another writer
        holds the lock (SQLite's own busy handler sleeps up to 100 ms between tries; this does not)."""
        wait = _LockWait(self.url)
        while True:
            try:
                with self.transaction() as conn:
                    return work(conn)
            except _Busy:
                wait.pause()

    # ------------------------------------------------------------------ audit

    def append_audit(
        self,
        conn: Connection,
        action: str,
        subject: str,
        payload: Mapping[str, Any],
        *,
        pack_revision: str | None = None,
        input_hash: str | None = None,
    ) -> int:
        deferred = conn.info.get("tiergate_deferred_audit")
        if deferred is not None:  # a shipment: entries are written after every account is held
            deferred.append((action, subject, dict(payload), pack_revision, input_hash))
            return 0
        # Taking the head row serialises the chain; it is done last, so the lock is held briefly.
        head = _first(_fast(conn, _NEXT_ENTRY))
        assert head is not None
        row = {
            "seq": head["seq"],
            "at": self.clock().isoformat(timespec="microseconds"),
            "actor": self.actor,
            "action": action,
            "subject": subject,
            "pack_revision": pack_revision,
            "input_hash": input_hash,
            "payload": canonical(payload),
            "prev_hash": head["hash"],
        }
        row["hash"] = entry_hash(row)
        _fast(conn, _NEW_ENTRY, row)
        _fast(conn, _HEAD_HASH, {"b_hash": row["hash"]})
        return int(row["seq"])

    def note_packs(self, conn: Connection, packs: str) -> None:
        """Enter a pack change in the audit log: the rule packs (id@revision) in force differ from the last
        ones the ledger acted under."""
        last = conn.execute(
            sa.select(audit.c.subject).where(audit.c.action == "packs").order_by(audit.c.seq.desc()).limit(1)
        ).scalar()
        if last != packs:
            self.append_audit(conn, "packs", packs, {"previous": last, "packs": packs.split(",")}, pack_revision=packs)

    @contextmanager
    def audit_deferred(self, conn: Connection) -> Iterator[None]:
        """Within ``conn``, hold audit entries back and write them, in order, when the block ends, so that
        several accounts can be taken before the audit chain's head (one lock order: no deadlock)."""
        held: list[tuple[str, str, dict[str, Any], str | None, str | None]] = []
        conn.info["tiergate_deferred_audit"] = held
        try:
            yield
        finally:
            del conn.info["tiergate_deferred_audit"]
        for action, subject, payload, pack_revision, input_hash in held:
            self.append_audit(conn, action, subject, payload, pack_revision=pack_revision, input_hash=input_hash)

    def log(
        self,
        action: str,
        subject: str,
        payload: Mapping[str, Any],
        *,
        pack_revision: str | None = None,
        input_hash: str | None = None,
    ) -> int:
        """Append an entry (a decision, a pack change) to the audit log on its own."""
        return self.run(
            lambda conn: self.append_audit(
                conn, action, subject, payload, pack_revision=pack_revision, input_hash=input_hash
            )
        )

    def verify_audit(self) -> AuditProblem | None:
        """The first entry that was altered, deleted or moved, or None when the chain holds (read a page at a
        time; ``tiergate.ledger.audit.verify`` also checks the balances and a signed checkpoint)."""
        from tiergate.ledger.audit import verify_chain

        return verify_chain(self)

    def last_audit(self, action: str, subject: str, input_hash: str) -> dict[str, Any] | None:
        """The latest audit entry of an action on a subject for an input, if any."""
        query = (
            sa.select(audit)
            .where(audit.c.action == action, audit.c.subject == subject, audit.c.input_hash == input_hash)
            .order_by(audit.c.seq.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return dict(row) if row is not None else None

    def audit_entries(self, actions: Collection[str] | None = None, after: int = 0) -> Iterator[dict[str, Any]]:
        """The audit log's entries after ``after``, oldest first (only those of the given actions, when named),
        read a page at a time."""
        from tiergate.ledger.audit import pages

        for page in pages(self, after, actions=actions):
            yield from page

    # ------------------------------------------------------------------ operations

    def _existing(self, conn: Connection, key: str) -> Any:
        return _first(_fast(conn, _EXISTING, {"b_key": key}))

    def reserve(
        self,
        account: str,
        amount_tpp: float,
        *,
        kind: str,
        rule: str,
        cap_tpp: float | None,
        key: str,
        decision_id: str | None = None,
        conn: Connection | None = None,
    ) -> int:
        """Hold ``amount_tpp`` on ``account`` (created on first use with ``cap_tpp``); returns the reservation id."""
        amount = to_units(amount_tpp)
        if amount <= 0:
            raise LedgerError(f"amount: {amount_tpp} TPP; an amount must be more than 0")
        cap = None if cap_tpp is None else to_units(cap_tpp, "cap")
        if conn is None:
            one_step = self._reserve_in_one_step(account, amount, kind, rule, cap, key, decision_id)
            if one_step is not None:
                return one_step
        return self._once(
            key,
            conn,
            lambda done: self._same(done, "reserve", account, amount, key),
            lambda write: self._reserve(write, account, amount, kind, rule, cap, key, decision_id),
        )

    def _reserve_in_one_step(
        self, account: str, amount: int, kind: str, rule: str, cap: int | None, key: str, decision_id: str | None
    ) -> int | None:
        """A reservation on its own, in one statement (PostgreSQL) or one short transaction (SQLite); None when
        its texts hold a marker, and the general path must be taken."""
        now = self.clock()
        at = now.isoformat(timespec="microseconds")
        payload = canonical(
            {
                "reservation": _MARK_RESERVATION,
                "tpp": from_units(amount),
                "key": key,
                "decision": decision_id,
                "cap": from_units(cap),
            }
        )
        content = canonical(
            {
                "seq": _MARK_SEQ,
                "at": at,
                "actor": self.actor,
                "action": "reserve",
                "subject": account,
                "pack_revision": None,
                "input_hash": None,
                "payload": payload,
            }
        )
        around_payload = _around(payload, _MARK_RESERVATION)
        around_id = _around(content, _MARK_RESERVATION)
        around_seq = None if around_id is None else _around(around_id[1], _MARK_SEQ)
        if around_payload is None or around_id is None or around_seq is None or str(_MARK_SEQ) in payload:
            return None
        params: dict[str, Any] = {
            "account": account,
            "amount": amount,
            "decision": decision_id,
            "key": key,
            "actor": self.actor,
            "at": at,
            "p1": around_payload[0],
            "p2": around_payload[1],
            "c1": around_id[0],
            "c2": around_seq[0],
            "c3": around_seq[1],
        }
        for _ in range(3):  # a first use creates the account, then tries again
            try:
                if self.engine.dialect.name == "postgresql":
                    reservation = self._one_step_postgresql({**params, "now": now})
                else:
                    reservation = self._one_step_sqlite({**params, "now": _sqlite_time(now)})
            except _KeyTaken:
                reservation = None
            if reservation is not None:
                return reservation
            # Nothing was held: the key was used before, the account is new, or the cap does not cover it.
            done, row = self.run(
                lambda read: (self._existing(read, key), _first(_fast(read, _ACCOUNT, {"b_account": account})))
            )
            if done is not None:
                return self._same(done, "reserve", account, amount, key)
            if row is None:
                self.run(lambda write: self._open_account(write, account, kind, rule, cap, now))
                continue
            if row["cap"] is None or row["cap"] - row["used"] - row["reserved"] >= amount:
                continue  # released by another writer since: try again
            left = from_units(row["cap"] - row["used"] - row["reserved"])
            raise AllocationExceeded(
                f"{account}: {from_units(amount):,} TPP asked, {left:,} TPP left of the cap {from_units(row['cap']):,}",
                hint="nothing was reserved",
            )
        raise LedgerError(  # pragma: no cover - other writers changed the account between every try
            f"{account}: could not be reserved in 3 tries while other writers changed it", hint="nothing was reserved"
        )

    def _one_step_postgresql(self, params: dict[str, Any]) -> int | None:
        dbapi: Any = self.engine.dialect.dbapi
        for attempt in range(3):
            proxied = self._kept_connection()
            driver: Any = proxied.driver_connection
            try:
                with driver.cursor() as cursor:
                    cursor.execute(_PG_RESERVE, params, prepare=True)
                    found = cursor.fetchone()
                return None if found is None else int(found[0])
            except dbapi.IntegrityError as error:
                if "uq_ledger_movements_key" in str(error):
                    raise _KeyTaken() from None
                if "ck_ledger_accounts_within_cap" in str(error) or "ledger_reservations_account_fkey" in str(error):
                    return None  # the cap does not cover it, or the account is new: nothing was written
                raise LedgerError(f"refused by the database: {error}", hint="nothing was changed") from None
            except dbapi.OperationalError as error:
                # A deadlock broken by the server, or a lost connection: the statement committed or not as a
                # whole, and the idempotency key makes the second try safe either way.
                if attempt == 2 or not (driver.closed or "deadlock" in str(error)):
                    raise LedgerError(f"database error on {self.url}: {error}", hint="nothing was changed") from None
                if driver.closed:
                    self._forget_idle_connections()
            finally:
                self._keep(proxied)
        return None  # pragma: no cover

    def _forget_idle_connections(self) -> None:
        """After a lost connection (the server restarted, say) the idle ones, kept or pooled, are likely lost too:
        they are dropped, so that the next try opens a new one instead of failing on each of them in turn."""
        while self._kept_idle:
            pid, proxied = self._kept_idle.pop()
            if pid == os.getpid():
                proxied.invalidate()
        self.engine.dispose()

    def _kept_connection(self) -> Any:
        """A pool connection for the one-step reservation, in autocommit mode on PostgreSQL (the statement is its
        own transaction, one round trip). Up to ``KEPT_IDLE`` of them stay checked out between reservations, so
        that a reservation has no pool checkout, reset or change of mode around it (a third of the client's time
        per reservation); they count against the pool's size like any checked-out connection. One kept before a
        fork is left to the process that made it."""
        while True:
            try:
                pid, proxied = self._kept_idle.pop()  # atomic: two threads never get the same one
            except IndexError:
                break
            if pid == os.getpid():
                return proxied
        proxied = self._checkout()
        if self.engine.dialect.name == "postgresql":
            proxied.driver_connection.autocommit = True
        return proxied

    def _keep(self, proxied: Any) -> None:
        """Keep a connection of ``_kept_connection`` for the next reservation, or give it back to the pool."""
        if _closed(proxied.driver_connection):
            proxied.invalidate()  # the pool discards it; the next reservation opens another
        elif len(self._kept_idle) < KEPT_IDLE:
            self._kept_idle.append((os.getpid(), proxied))
        else:
            self._back_to_pool(proxied)

    def _back_to_pool(self, proxied: Any) -> None:
        if self.engine.dialect.name == "postgresql" and not _closed(proxied.driver_connection):
            proxied.driver_connection.autocommit = False
        proxied.close()

    def _checkout(self) -> Any:
        """A DBAPI connection from the pool, for the one-step reservation (no SQLAlchemy Connection around it)."""
        try:
            return self.engine.raw_connection()
        except DatabaseError as error:
            raise LedgerError(f"cannot open {self.url}: {error}") from None

    def _one_step_sqlite(self, params: dict[str, Any]) -> int | None:
        proxied = self._kept_connection()
        try:
            return self._one_step_sqlite_on(proxied.driver_connection, params)
        finally:
            self._keep(proxied)

    def _one_step_sqlite_on(self, driver: Any, params: dict[str, Any]) -> int | None:
        dbapi = self.engine.dialect.dbapi
        assert dbapi is not None
        wait = _LockWait(self.url)
        while True:
            try:
                driver.execute("BEGIN IMMEDIATE")
            except dbapi.OperationalError as error:
                if "locked" not in str(error) and "busy" not in str(error):
                    raise LedgerError(f"database error on {self.url}: {error}", hint="nothing was changed") from None
                wait.pause()
                continue
            try:
                if driver.execute(_SQLITE_HOLD, params).fetchone() is None:
                    driver.execute("ROLLBACK")
                    return None
                reservation = int(driver.execute(_SQLITE_RESERVATION, params).fetchone()[0])
                try:
                    driver.execute(_SQLITE_MOVEMENT, {**params, "reservation": reservation})
                except dbapi.IntegrityError as error:
                    if "idempotency_key" in str(error):
                        raise _KeyTaken() from None
                    raise
                seq, chained = driver.execute(
                    _SQLITE_ENTRY,
                    {
                        **params,
                        "payload": f"{params['p1']}{reservation}{params['p2']}",
                        "before_seq": f"{params['c1']}{reservation}{params['c2']}",
                        "after_seq": params["c3"],
                    },
                ).fetchone()
                driver.execute(_SQLITE_ADVANCE, {"seq": seq, "hash": chained})
                driver.execute("COMMIT")
                return reservation
            except BaseException as error:
                if driver.in_transaction:
                    driver.execute("ROLLBACK")
                if isinstance(error, dbapi.Error) and not isinstance(error, dbapi.IntegrityError):
                    raise LedgerError(f"database error on {self.url}: {error}", hint="nothing was changed") from None
                if isinstance(error, dbapi.IntegrityError):
                    raise LedgerError(f"refused by the database: {error}", hint="nothing was changed") from None
                raise

    def _open_account(
        self, conn: Connection, account: str, kind: str, rule: str, cap: int | None, now: dt.datetime
    ) -> None:
        _insert_if_absent(
            conn,
            accounts,
            {"account": account, "kind": kind, "rule": rule, "cap": cap, "used": 0, "reserved": 0, "created_at": now},
        )

    def _same(self, done: Any, op: str, account: str | None, amount: int | None, key: str) -> int:
        if (
            done["op"] != op
            or (account is not None and done["account"] != account)
            or (amount is not None and done["amount"] != amount)
        ):
            raise IdempotencyConflict(
                f"idempotency key {key!r} was used for a different operation ({done['op']} "
                f"{from_units(done['amount'])} TPP on {done['account']})"
            )
        return int(done["reservation_id"])

    def _once(
        self, key: str, conn: Connection | None, repeat: Callable[[Any], int], apply: Callable[[Connection], int]
    ) -> int:
        """Apply an operation once per idempotency key: a repeat returns the first result, changing nothing.
        Inside a caller's transaction (``conn``) the caller owns the commit."""
        if conn is not None:
            done = self._existing(conn, key)
            return repeat(done) if done is not None else apply(conn)
        for attempt in range(2):
            try:
                return self.run(lambda write: _repeat_or_apply(self._existing(write, key), write, repeat, apply))
            except IntegrityError as error:
                duplicate = "uq_ledger_movements_key" in str(error.orig) or "idempotency_key" in str(error.orig)
                if duplicate and attempt == 0:
                    continue  # a concurrent writer applied the same key first: read its result
                raise LedgerError(f"refused by the database: {error.orig}", hint="nothing was changed") from None
        raise LedgerError(f"idempotency key {key!r}: could not apply or read it")  # pragma: no cover

    def _reserve(
        self,
        conn: Connection,
        account: str,
        amount: int,
        kind: str,
        rule: str,
        cap: int | None,
        key: str,
        decision_id: str | None,
    ) -> int:
        now = self.clock()
        if _fast(conn, _ACCOUNT, {"b_account": account}).fetchone() is None:  # first use
            self._open_account(conn, account, kind, rule, cap, now)
        # The rows that lock nothing shared come first; the account row is taken as late as possible.
        reservation_id = _fast(
            conn,
            _NEW_RESERVATION,
            {
                "account": account,
                "amount": amount,
                "committed": 0,
                "released": 0,
                "decision_id": decision_id,
                "created_at": now,
            },
        ).fetchone()[0]
        _fast(
            conn,
            _NEW_MOVEMENT,
            {
                "at": now,
                "account": account,
                "op": "reserve",
                "amount": amount,
                "reservation_id": reservation_id,
                "idempotency_key": key,
                "decision_id": decision_id,
                "actor": self.actor,
            },
        )
        if _fast(conn, _HOLD, {"b_account": account, "b_amount": amount}).fetchone() is None:
            row = conn.execute(_ACCOUNT, {"b_account": account}).one()
            left = from_units(row.cap - row.used - row.reserved) if row.cap is not None else None
            raise AllocationExceeded(  # the transaction rolls back: the rows above are not kept
                f"{account}: {from_units(amount):,} TPP asked, {left:,} TPP left of the cap {from_units(row.cap):,}",
                hint="nothing was reserved",
            )
        self.append_audit(
            conn,
            "reserve",
            account,
            {
                "reservation": reservation_id,
                "tpp": from_units(amount),
                "key": key,
                "decision": decision_id,
                "cap": from_units(cap),
            },
        )
        return int(reservation_id)

    def commit(
        self, reservation_id: int, *, key: str, amount_tpp: float | None = None, conn: Connection | None = None
    ) -> int:
        """Turn a reservation (or part of it) into use: the goods shipped."""
        return self._settle("commit", reservation_id, key, amount_tpp, conn)

    def release(
        self, reservation_id: int, *, key: str, amount_tpp: float | None = None, conn: Connection | None = None
    ) -> int:
        """Give a reservation (or part of it) back: the order was cancelled."""
        return self._settle("release", reservation_id, key, amount_tpp, conn)

    def _settle(self, op: str, reservation_id: int, key: str, amount_tpp: float | None, conn: Connection | None) -> int:
        amount = None if amount_tpp is None else to_units(amount_tpp)
        if amount is not None and amount <= 0:
            raise LedgerError(f"amount: {amount_tpp} TPP; an amount must be more than 0")
        return self._once(
            key,
            conn,
            lambda done: self._same(done, op, None, amount, key),
            lambda write: self._settle_in(write, op, reservation_id, key, amount),
        )

    def _settle_in(self, conn: Connection, op: str, reservation_id: int, key: str, amount: int | None) -> int:
        held = _first(_fast(conn, _HELD, {"b_id": reservation_id}))
        if held is None:
            raise UnknownReservation(
                f"reservation {reservation_id} does not exist", hint="see `tiergate ledger history`"
            )
        outstanding = held["amount"] - held["committed"] - held["released"]
        amount = outstanding if amount is None else amount
        if amount <= 0 or amount > outstanding:
            raise LedgerError(
                f"reservation {reservation_id}: {op} of {from_units(amount):,} TPP asked, "
                f"{from_units(outstanding):,} TPP still reserved",
                hint="nothing was changed",
            )
        _fast(conn, _SETTLE[op], {"b_account": held["account"], "b_amount": amount})
        _fast(conn, _SETTLED[op], {"b_id": reservation_id, "b_amount": amount})
        _fast(
            conn,
            _NEW_MOVEMENT,
            {
                "at": self.clock(),
                "account": held["account"],
                "op": op,
                "amount": amount,
                "reservation_id": reservation_id,
                "idempotency_key": key,
                "decision_id": held["decision_id"],
                "actor": self.actor,
            },
        )
        self.append_audit(
            conn, op, held["account"], {"reservation": reservation_id, "tpp": from_units(amount), "key": key}
        )
        return reservation_id

    # ------------------------------------------------------------------ licences

    def add_licence(self, licence: Licence) -> str:
        """Record a licence as issued (``recorded``), or the terms of one carried over from a ledger that kept
        only its quantity and value (``completed``: what was drawn on it before is drawn on each of its lines,
        since the old ledger did not say which line it was; nothing is forgotten). Nothing half-written."""
        if not licence.complete:
            raise LedgerError(f"licence {licence.id}: only a licence with its terms can be recorded")
        terms = licence.terms()

        def record(conn: Connection) -> str:
            row = (
                conn.execute(sa.select(licences).where(licences.c.licence_id == licence.id).with_for_update())
                .mappings()
                .first()
            )
            values = {
                "jurisdiction": licence.jurisdiction,
                "exporter": licence.exporter,
                "destination": licence.destination,
                "issued": licence.issued,
                "expires": licence.expires,
                "terms": canonical(terms),
            }
            if row is None:
                conn.execute(licences.insert().values(licence_id=licence.id, created_at=self.clock(), **values))
                self.append_audit(conn, "licence", licence.id, terms)
                return "recorded"
            if row["terms"] is not None:
                raise LedgerError(f"licence {licence.id!r} is already recorded", hint="nothing was changed")
            conn.execute(licences.update().where(licences.c.licence_id == licence.id).values(**values))
            carried = self._carry_earlier_draws(conn, licence)
            self.append_audit(conn, "licence-completed", licence.id, {**terms, "carried": carried})
            return "completed"

        try:
            return self.run(record)
        except IntegrityError:
            raise LedgerError(f"licence {licence.id!r} is already recorded", hint="nothing was changed") from None

    def _carry_earlier_draws(self, conn: Connection, licence: Licence) -> dict[str, float]:
        """Units and dollars drawn on a carried-over licence (its ``licence:ID:quantity`` and ``:value``
        accounts) are drawn on every line of its terms, up to each line's own limit."""
        from tiergate.ledger.licence import line_account

        earlier: dict[str, float] = {}
        for measure in ("quantity", "value"):
            row = conn.execute(_ACCOUNT, {"b_account": f"licence:{licence.id}:{measure}"}).mappings().first()
            if row is not None and row["used"] + row["reserved"] > 0:
                earlier[measure] = (row["used"] + row["reserved"]) / UNITS_PER_TPP
        for n, line in enumerate(licence.lines, start=1):
            for measure, cap in (("quantity", float(line.quantity)), ("value", float(line.value_usd))):
                amount = min(earlier.get(measure, 0.0), cap)
                if amount <= 0:
                    continue
                account = line_account(licence.id, n, measure)
                key = f"licence-carried:{licence.id}:{n}:{measure}"
                held = self.reserve(
                    account,
                    amount,
                    kind=f"licence:{measure}",
                    rule=f"licence/{licence.id}/line-{n}",
                    cap_tpp=cap,
                    key=key + ":reserve",
                    conn=conn,
                )
                self.commit(held, key=key + ":commit", conn=conn)
        return earlier

    def licence(self, licence_id: str) -> Licence | None:
        """The licence recorded under this number (an incomplete one for a licence carried over without terms)."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(licences).where(licences.c.licence_id == licence_id)).mappings().first()
        return None if row is None else _licence_of(row)

    def licences(self) -> list[Licence]:
        """Every licence recorded, by number."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(licences).order_by(licences.c.licence_id)).mappings().all()
        return [_licence_of(row) for row in rows]

    # ------------------------------------------------------------------ reading

    def balances(self, as_of: dt.datetime | None = None) -> list[Balance]:
        """Every account with its cap, used and reserved TPP, now or as of a moment (from the movements)."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(accounts).order_by(accounts.c.account)).mappings().all()
            if as_of is None:
                return [
                    Balance(
                        r["account"],
                        r["kind"],
                        r["rule"],
                        from_units(r["cap"]),
                        r["used"] / UNITS_PER_TPP,
                        r["reserved"] / UNITS_PER_TPP,
                    )
                    for r in rows
                ]
            sums: dict[tuple[str, str], int] = {}
            query = (
                sa.select(movements.c.account, movements.c.op, sa.func.sum(movements.c.amount))
                .where(movements.c.at <= as_of)
                .group_by(movements.c.account, movements.c.op)
            )
            for account, op, total in conn.execute(query):
                sums[(account, op)] = int(total)
        out = []
        for r in rows:
            reserved = sums.get((r["account"], "reserve"), 0)
            used = sums.get((r["account"], "commit"), 0)
            released = sums.get((r["account"], "release"), 0)
            if reserved == 0 and r["created_at"] is not None and _aware(r["created_at"]) > _aware(as_of):
                continue
            out.append(
                Balance(
                    r["account"],
                    r["kind"],
                    r["rule"],
                    from_units(r["cap"]),
                    used / UNITS_PER_TPP,
                    (reserved - used - released) / UNITS_PER_TPP,
                )
            )
        return out

    def installed(self, prefix: str, conn: Connection | None = None) -> dict[str, float]:
        """Committed TPP of the accounts whose name starts with ``prefix``, by the name's last part
        (``uveu:<consignee>:<country>`` gives the UVEU's installed base by country). Inside a write
        transaction the rows are locked, so concurrent shipments of one UVEU take turns."""
        query = sa.select(accounts.c.account, accounts.c.used).where(
            accounts.c.account.startswith(prefix, autoescape=True)
        )
        if conn is not None:
            rows = conn.execute(query.with_for_update()).all()
        else:
            with self.engine.connect() as reader:
                rows = reader.execute(query).all()
        return {account.rsplit(":", 1)[-1]: used / UNITS_PER_TPP for account, used in rows}

    def remaining(self, account_names: Iterable[str]) -> dict[str, float]:
        """Remaining TPP of the named accounts that exist and have a cap."""
        names = sorted(set(account_names))
        if not names:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(accounts).where(accounts.c.account.in_(names))).mappings().all()
        return {
            r["account"]: (r["cap"] - r["used"] - r["reserved"]) / UNITS_PER_TPP for r in rows if r["cap"] is not None
        }

    def history(self, account: str | None = None) -> list[Movement]:
        query = sa.select(movements).order_by(movements.c.id)
        if account is not None:
            query = query.where(movements.c.account == account)
        with self.engine.connect() as conn:
            return [
                Movement(
                    r["id"],
                    r["at"],
                    r["account"],
                    r["op"],
                    r["amount"] / UNITS_PER_TPP,
                    r["reservation_id"],
                    r["idempotency_key"],
                    r["decision_id"],
                    r["actor"],
                )
                for r in conn.execute(query).mappings()
            ]


def _sqlite_time(moment: dt.datetime) -> str:
    """A moment as SQLAlchemy's SQLite DateTime stores it: naive UTC text."""
    return _aware(moment).astimezone(dt.UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _licence_of(row: Any) -> Licence:
    """A licence from its row: its terms, or (carried over from schema 0001) an incomplete licence."""
    if row["terms"] is None:
        value = "" if row["value_usd"] is None else f", {row['value_usd']:,} USD"
        note = f"carried over: {row['quantity']} unit(s){value}" + (f"; {row['note']}" if row["note"] else "")
        day = dt.date.min
        return Licence(row["licence_id"], "", "", (), "", (), day, day, complete=False, note=note)
    terms = orjson.loads(row["terms"])
    return Licence(
        id=row["licence_id"],
        jurisdiction=terms["jurisdiction"],
        exporter=terms["exporter"],
        consignees=tuple(LicensedParty(c["name"], c["country"]) for c in terms["consignees"]),
        destination=terms["destination"],
        lines=tuple(LicenceLine(x["item"], x["kind"], x["quantity"], x["value_usd"]) for x in terms["lines"]),
        issued=dt.date.fromisoformat(terms["issued"]),
        expires=dt.date.fromisoformat(terms["expires"]),
        conditions=tuple(terms["conditions"]),
    )


def open_ledger(url: str, *, actor: str | None = None) -> Ledger:
    """A ledger that exists and has a schema this version knows (else a clear error, nothing changed)."""
    ledger = Ledger(url, actor=actor)
    try:
        ledger.check()
    except DatabaseError as error:
        ledger.close()
        raise LedgerError(f"cannot open {url}: {error}") from None
    except LedgerError:
        ledger.close()
        raise
    return ledger

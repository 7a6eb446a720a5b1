"""The ledger's audit log read a page at a time: chain verification, balances recomputed from the movements,
and Ed25519-signed checkpoints (``tiergate.signing``) that a later log must extend.

The hash chain alone proves nothing against someone who can write the database: they can edit an entry and
recompute every later hash, delete the tail and the head row with it, or restore an earlier copy of the whole
database. A *checkpoint* closes that: it signs, with a key kept outside the database, the log's size and a
root, and the operator stores it elsewhere. The root is the RFC 6962 Merkle root (``tiergate.merkle``) of the
checkpoint's *marks*: the chain hash of every ``step``-th entry and of the last one (``step`` is 1 up to
``MARKS`` entries, so every entry is marked; beyond, the marks thin out). The last mark is the chain's head, which
commits to every entry before it; the others let ``verify`` name where a rewritten log first departs from the
checkpoint.

``verify`` with a checkpoint is incremental by default: the entries the checkpoint marks are read and rehashed
(their stored hash must be the signed one), then only the entries after it; ``full`` rehashes every entry from
the first. Reads are keyset pages of ``PAGE`` entries; balances are summed by the database.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy.engine import Connection

from tiergate.errors import TiergateError
from tiergate.ledger.schema import GENESIS, UNITS_PER_TPP, accounts, audit, audit_head, movements
from tiergate.ledger.store import AuditProblem, Ledger, entry_hash
from tiergate.merkle import leaf_hash, tree_root
from tiergate.signing import Checkpoint, CheckpointError, sign_checkpoint, verify_checkpoint

LOG_NAME = "tiergate-ledger-audit"
"""The ``log`` field of the ledger's checkpoints."""
PAGE = 1000
"""Entries read per query."""
MARKS = 4096
"""Up to this many entries every entry is marked in a checkpoint; beyond, every ``ceil(size / MARKS)``-th."""

__all__ = [
    "LOG_NAME",
    "AuditTampered",
    "AuditVerification",
    "LedgerCheckpoint",
    "balance_differences",
    "entries_page",
    "make_checkpoint",
    "pages",
    "recent",
    "verify",
    "verify_chain",
]


class AuditTampered(TiergateError):
    """The audit log or the balances do not verify (exit 1)."""

    exit_code = 1


# ---------------------------------------------------------------------- paged reads


def _row(found: Any) -> dict[str, Any]:
    return {str(key): value for key, value in found.items()}


def entries_page(
    conn: Connection,
    after: int = 0,
    limit: int = PAGE,
    upto: int | None = None,
    actions: Collection[str] | None = None,
) -> list[dict[str, Any]]:
    """At most ``limit`` entries with a sequence number above ``after`` (and up to ``upto``; of the given actions,
    when named), oldest first."""
    query = sa.select(audit).where(audit.c.seq > after)
    if upto is not None:
        query = query.where(audit.c.seq <= upto)
    if actions is not None:
        query = query.where(audit.c.action.in_(sorted(actions)))
    return [_row(r) for r in conn.execute(query.order_by(audit.c.seq).limit(limit)).mappings()]


def pages(
    ledger: Ledger,
    after: int = 0,
    upto: int | None = None,
    page: int = PAGE,
    actions: Collection[str] | None = None,
) -> Iterator[list[dict[str, Any]]]:
    """The entries after ``after`` (up to ``upto``; of the given actions, when named), one page per query: memory
    bounded by the page."""
    while True:
        with ledger.engine.connect() as conn:
            found = entries_page(conn, after, page, upto, actions)
        if not found:
            return
        yield found
        after = int(found[-1]["seq"])
        if len(found) < page:
            return


def recent(ledger: Ledger, count: int) -> list[dict[str, Any]]:
    """The latest ``count`` entries, newest first (one query with a limit)."""
    with ledger.engine.connect() as conn:
        return [_row(r) for r in conn.execute(sa.select(audit).order_by(audit.c.seq.desc()).limit(count)).mappings()]


def _head(conn: Connection) -> tuple[int, str]:
    head = conn.execute(sa.select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)).one()
    return int(head.seq), str(head.hash)


# ---------------------------------------------------------------------- the chain


_MOVING = {"reserve", "commit", "release"}


@dataclass
class _Scan:
    """The chain walked from ``start`` (exclusive) with the hash before it; marks and audit sums collected."""

    upto: int | None = None
    marks_at: frozenset[int] | int = 0
    """Sequence numbers whose recomputed hash is kept, or a step (every step-th, and the last)."""
    count: int = 0
    head: str = GENESIS
    problem: AuditProblem | None = None
    marks: dict[int, str] = field(default_factory=dict)
    sums: dict[tuple[str, str], int] = field(default_factory=dict)
    """(account, op) → units, from the audit entries of reservations, commits and releases."""


def _walk(ledger: Ledger, scan: _Scan, start: int = 0, previous: str = GENESIS) -> _Scan:
    expected = start + 1
    for page in pages(ledger, start, scan.upto):
        for row in page:
            seq = int(row["seq"])
            if seq != expected:
                scan.problem = AuditProblem(expected, f"entry {expected} is missing (next is {seq})")
            elif row["prev_hash"] != previous:
                scan.problem = AuditProblem(seq, "does not follow the entry before it (deleted, inserted or reordered)")
            elif entry_hash(row) != row["hash"]:
                scan.problem = AuditProblem(seq, "its content was altered (hash mismatch)")
            if scan.problem is not None:
                scan.count = expected - 1
                return scan
            previous = str(row["hash"])
            if isinstance(scan.marks_at, int):
                if scan.marks_at and seq % scan.marks_at == 0:
                    scan.marks[seq] = previous
            elif seq in scan.marks_at:
                scan.marks[seq] = previous
            if row["action"] in _MOVING:
                _add_sum(scan.sums, row)
            expected += 1
    scan.count = expected - 1
    scan.head = previous
    if scan.count:
        scan.marks[scan.count] = previous
    return scan


def _add_sum(sums: dict[tuple[str, str], int], row: dict[str, Any]) -> None:
    try:
        tpp = orjson.loads(row["payload"]).get("tpp")
    except (orjson.JSONDecodeError, AttributeError):
        return
    if isinstance(tpp, (int, float)) and not isinstance(tpp, bool):
        key = (str(row["subject"]), str(row["action"]))
        sums[key] = sums.get(key, 0) + round(tpp * UNITS_PER_TPP)


def _tail_problem(ledger: Ledger, count: int, head: str) -> AuditProblem | None:
    with ledger.engine.connect() as conn:
        seq, hash_ = _head(conn)
    if seq != count or hash_ != head:
        return AuditProblem(count + 1, f"the log ends at entry {count} but {seq} were written (tail deleted)")
    return None


def verify_chain(ledger: Ledger) -> AuditProblem | None:
    """The first entry that was altered, deleted or moved, or None when the chain holds (read page by page)."""
    scan = _walk(ledger, _Scan())
    return scan.problem or _tail_problem(ledger, scan.count, scan.head)


# ---------------------------------------------------------------------- balances


def _movement_sums(conn: Connection) -> dict[tuple[str, str], int]:
    query = sa.select(movements.c.account, movements.c.op, sa.func.sum(movements.c.amount)).group_by(
        movements.c.account, movements.c.op
    )
    return {(str(account), str(op)): int(total) for account, op, total in conn.execute(query)}


def balance_differences(ledger: Ledger, audit_sums: dict[tuple[str, str], int] | None = None) -> list[str]:
    """Every account whose ``used`` or ``reserved`` differs from what its movements add up to (and, given the sums
    of the audit entries, every account whose movements differ from its audited reservations and commits)."""
    with ledger.engine.connect() as conn:
        sums = _movement_sums(conn)
        rows = conn.execute(sa.select(accounts.c.account, accounts.c.used, accounts.c.reserved)).all()
    found = []
    known = set()
    for account, used, reserved in rows:
        known.add(account)
        moved_used = sums.get((account, "commit"), 0)
        moved_reserved = sums.get((account, "reserve"), 0) - moved_used - sums.get((account, "release"), 0)
        if used != moved_used:
            found.append(
                f"{account}: used is {used / UNITS_PER_TPP:,} TPP, "
                f"its movements add up to {moved_used / UNITS_PER_TPP:,}"
            )
        if reserved != moved_reserved:
            found.append(
                f"{account}: reserved is {reserved / UNITS_PER_TPP:,} TPP, its movements add up to "
                f"{moved_reserved / UNITS_PER_TPP:,}"
            )
    for account, _ in sums:
        if account not in known:  # pragma: no cover - the foreign key forbids it
            found.append(f"{account}: movements without an account")
    if audit_sums is not None:
        for key in sorted(k for k in set(sums) | set(audit_sums) if k[1] in _MOVING):
            if sums.get(key, 0) != audit_sums.get(key, 0):
                account, op = key
                found.append(
                    f"{account}: the movements {op} {sums.get(key, 0) / UNITS_PER_TPP:,} TPP, the audit log "
                    f"{audit_sums.get(key, 0) / UNITS_PER_TPP:,}"
                )
    return sorted(set(found))


# ---------------------------------------------------------------------- checkpoints


@dataclass(frozen=True, slots=True)
class LedgerCheckpoint:
    """A signed checkpoint of the ledger's audit log with its marks (sequence number, chain hash)."""

    checkpoint: Checkpoint
    marks: tuple[tuple[int, str], ...]

    def to_dict(self) -> dict[str, Any]:
        return {**self.checkpoint.to_dict(), "marks": [list(m) for m in self.marks]}

    def to_json(self) -> str:
        return orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n"

    @classmethod
    def from_json(cls, text: str | bytes, *, where: str = "checkpoint") -> LedgerCheckpoint:
        checkpoint = Checkpoint.from_json(text, where=where)
        if checkpoint.log != LOG_NAME:
            raise CheckpointError(f"a checkpoint of {checkpoint.log!r}, not of the ledger's audit log", where=where)
        data = orjson.loads(text)
        raw = data.get("marks")
        if not isinstance(raw, list):
            raise CheckpointError("marks: missing or not a list", where=where)
        marks = []
        for number, mark in enumerate(raw, 1):
            if (
                not isinstance(mark, list)
                or len(mark) != 2
                or not isinstance(mark[0], int)
                or isinstance(mark[0], bool)
                or not isinstance(mark[1], str)
            ):
                raise CheckpointError(f"marks[{number}]: not [sequence number, hash]", where=where)
            marks.append((mark[0], mark[1]))
        found = cls(checkpoint, tuple(marks))
        if _marks_root(found.marks).hex() != checkpoint.root or (
            checkpoint.size and (not marks or marks[-1][0] != checkpoint.size)
        ):
            raise CheckpointError("its marks do not reproduce the signed root (the file was altered)", where=where)
        return found


def _marks_root(marks: Sequence[tuple[int, str]]) -> bytes:
    return tree_root([leaf_hash(f"{seq}:{hash_}".encode()) for seq, hash_ in marks])


def make_checkpoint(ledger: Ledger, key: Ed25519PrivateKey, *, now: dt.datetime | None = None) -> LedgerCheckpoint:
    """Verify the whole chain and the balances, then sign the log as it is. Refused (AuditTampered) when they do
    not verify: a checkpoint never vouches for a log already altered."""
    with ledger.engine.connect() as conn:
        size, _ = _head(conn)
    step = max(1, math.ceil(size / MARKS))
    scan = _walk(ledger, _Scan(upto=size, marks_at=step))
    problem = scan.problem or (
        AuditProblem(scan.count + 1, f"the log ends at entry {scan.count} but {size} were written (tail deleted)")
        if scan.count != size
        else None
    )
    if problem is not None:
        raise AuditTampered(f"audit chain broken at entry {problem.seq}: {problem.problem}", hint="nothing was signed")
    differences = balance_differences(ledger)
    if differences:
        raise AuditTampered(f"balances differ from the movements: {differences[0]}", hint="nothing was signed")
    marks = tuple(sorted(scan.marks.items()))
    signed = sign_checkpoint(key, log=LOG_NAME, size=size, root=_marks_root(marks), issued_at=now or ledger.clock())
    return LedgerCheckpoint(signed, marks)


@dataclass
class AuditVerification:
    entries: int
    problem: AuditProblem | None = None
    """The first divergence: of the chain, or from the checkpoint."""
    balances: list[str] = field(default_factory=list)
    checkpoint: int | None = None
    """The size of the checkpoint the log was checked against."""
    rehashed: int = 0
    """Entries whose hash was recomputed (all of them, or the checkpoint's marks and the entries after it)."""
    trust: str | None = None

    @property
    def intact(self) -> bool:
        return self.problem is None and not self.balances

    def to_dict(self) -> dict[str, Any]:
        return {
            "intact": self.intact,
            "entries": self.entries,
            "broken_at": None if self.problem is None else self.problem.seq,
            "problem": None if self.problem is None else self.problem.problem,
            "balances": self.balances,
            "checkpoint": self.checkpoint,
            "rehashed": self.rehashed,
            "trust": self.trust,
        }

    def message(self) -> str:
        if self.problem is not None:
            return f"audit chain broken at entry {self.problem.seq}: {self.problem.problem}"
        if self.balances:
            return f"balances differ from the movements ({len(self.balances)}): " + "; ".join(self.balances[:5])
        against = f", extends the checkpoint of {self.checkpoint} entries" if self.checkpoint is not None else ""
        return f"audit chain intact: {self.entries} entries{against}; balances match the movements"


def _mark_rows(ledger: Ledger, seqs: Sequence[int]) -> dict[int, dict[str, Any]]:
    found: dict[int, dict[str, Any]] = {}
    with ledger.engine.connect() as conn:
        for start in range(0, len(seqs), 500):
            chunk = list(seqs[start : start + 500])
            for r in conn.execute(sa.select(audit).where(audit.c.seq.in_(chunk))).mappings():
                found[int(r["seq"])] = _row(r)
    return found


def _diverged(seq: int, before: int) -> AuditProblem:
    where = f"entry {seq}" if before == seq - 1 else f"between entries {before + 1} and {seq}"
    return AuditProblem(
        before + 1 if before == seq - 1 else seq,
        f"the log departs from the signed checkpoint at {where} (rewritten history: its hash is not the one signed)",
    )


def verify(
    ledger: Ledger,
    checkpoint: LedgerCheckpoint | None = None,
    *,
    trusted: Ed25519PublicKey | None = None,
    trust: str | None = None,
    full: bool = False,
) -> AuditVerification:
    """The audit chain, the balances and, given a checkpoint, that the log still extends it."""
    if checkpoint is None:
        scan = _walk(ledger, _Scan())
        problem = scan.problem or _tail_problem(ledger, scan.count, scan.head)
        return AuditVerification(
            scan.count, problem, balance_differences(ledger, scan.sums if problem is None else None), None, scan.count
        )
    verify_checkpoint(checkpoint.checkpoint, trusted)
    if trust is None:
        trust = "the key named in the checkpoint (pass --public-key to check who signed)"
    size = checkpoint.checkpoint.size
    with ledger.engine.connect() as conn:
        written, _ = _head(conn)
        present = conn.execute(sa.select(sa.func.count()).select_from(audit).where(audit.c.seq <= size)).scalar() or 0
    marks = dict(checkpoint.marks)
    result = AuditVerification(written, checkpoint=size, trust=trust)
    if full:
        scan = _walk(ledger, _Scan(marks_at=frozenset(marks)))
        result.rehashed = scan.count
        if scan.problem is not None:  # the first of: a departure from the checkpoint, the chain's own break
            departed = _against_marks(checkpoint.marks, scan.marks, scan.count, 0)
            result.problem = departed if departed is not None and departed.seq < scan.problem.seq else scan.problem
        else:
            result.problem = _against_marks(checkpoint.marks, scan.marks, scan.count, size) or _tail_problem(
                ledger, scan.count, scan.head
            )
            result.entries = scan.count
        result.balances = balance_differences(ledger, scan.sums if result.problem is None else None)
        return result
    stored = _mark_rows(ledger, [seq for seq, _ in checkpoint.marks])
    rehashed: dict[int, str] = {}
    for seq, row in stored.items():
        if entry_hash(row) == row["hash"] and row["seq"] == seq:
            rehashed[seq] = str(row["hash"])
    result.rehashed = len(stored)
    result.problem = _against_marks(checkpoint.marks, rehashed, present, size)
    if result.problem is None:
        scan = _walk(ledger, _Scan(), size, checkpoint.marks[-1][1] if checkpoint.marks else GENESIS)
        result.rehashed += max(0, scan.count - size)
        result.problem = scan.problem or _tail_problem(ledger, scan.count, scan.head)
        result.entries = scan.count
    result.balances = balance_differences(ledger)
    return result


def _against_marks(
    marks: Sequence[tuple[int, str]], found: dict[int, str], count: int, size: int
) -> AuditProblem | None:
    """The first mark the log no longer reproduces, or the first entry missing below the checkpoint's size."""
    before = 0
    for seq, hash_ in marks:
        got = found.get(seq)
        if got is None and seq > count:
            break
        if got != hash_:
            return _diverged(seq, before)
        before = seq
    if count < size:
        return AuditProblem(
            count + 1,
            f"the log has {count} of the {size} entries the signed checkpoint covers: entries {count + 1} to {size} "
            "are gone (the database was rolled back to an earlier copy, or its tail was deleted)",
        )
    return None

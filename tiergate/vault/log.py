"""The vault's append-only log: every request, approval, refusal, release and change of approvers is one entry,
a leaf of an RFC 6962 Merkle tree (``tiergate.merkle``), with Ed25519-signed checkpoints (``tiergate.signing``).

An entry is the canonical JSON (sorted keys, no spaces) of ``{"index", "at", "kind", "subject", "actor",
"data"}``; its leaf hash is ``SHA-256(0x00 || entry)``. A checkpoint signs the root of the first ``size``
entries; the leaf hashes it covers beyond the previous checkpoint are kept with it, so that an entry altered
after a checkpoint is named, not only detected.

What ``verify`` catches, and how it names it:

- an entry whose text no longer matches its recorded leaf hash (edited): that entry;
- an entry whose ``index`` is not its position (moved, reordered, renumbered): that entry;
- a gap in the sequence (deleted): the missing index;
- fewer entries than a checkpoint covers (truncated): the first missing index;
- an entry, text and leaf hash both rewritten, that differs from the leaf a checkpoint covers: that entry
  (and when the leaf hashes kept with the checkpoint were rewritten too, so that they no longer reproduce its
  signed root: the range between the last checkpoint that still holds and this one);
- a checkpoint whose signature does not verify with the trusted key: that checkpoint.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.engine import Connection

from tiergate.merkle import RootBuilder, leaf_hash, tree_root
from tiergate.signing import Checkpoint, CheckpointError, verify_checkpoint
from tiergate.vault.schema import checkpoints, log, log_head

LOG_NAME = "tiergate-vault"
"""The ``log`` field of the vault's checkpoints."""
HASH_BYTES = 32


def canonical(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def encode_entry(index: int, at: dt.datetime, kind: str, subject: str, actor: str, data: dict[str, Any]) -> str:
    """The entry's text: exactly the bytes (UTF-8) that are hashed into the leaf."""
    return canonical(
        {
            "index": index,
            "at": at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
            "kind": kind,
            "subject": subject,
            "actor": actor,
            "data": data,
        }
    )


class Appender:
    """Appends entries inside one write transaction. Created first thing in the transaction: it takes the log's
    head row (``FOR UPDATE`` on PostgreSQL; SQLite's transaction already holds the write lock), so every
    writer of the vault is serialised and the log has no gap or fork."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        size = conn.execute(sa.select(log_head.c.size).where(log_head.c.id == 1).with_for_update()).scalar()
        if size is None:
            raise RuntimeError("the vault's log head row is missing")
        self.size = int(size)
        self.start = self.size

    def append(self, at: dt.datetime, kind: str, subject: str, actor: str, data: dict[str, Any]) -> int:
        index = self.size
        text = encode_entry(index, at, kind, subject, actor, data)
        self.conn.execute(
            log.insert().values(
                seq=index,
                at=at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
                kind=kind,
                subject=subject[:200],
                entry=text,
                leaf_hash=leaf_hash(text.encode()).hex(),
            )
        )
        self.size += 1
        self.conn.execute(log_head.update().where(log_head.c.id == 1).values(size=self.size))
        return index


# ---------------------------------------------------------------- reading


def entries(conn: Connection, start: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
    """Entries from ``start``, as their decoded JSON plus ``leaf_hash``."""
    query = sa.select(log.c.seq, log.c.entry, log.c.leaf_hash).where(log.c.seq >= start).order_by(log.c.seq)
    if limit is not None:
        query = query.limit(limit)
    out = []
    for seq, text, leaf in conn.execute(query):
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError:
            data = {"index": seq, "unreadable": text[:200]}
        out.append({**(data if isinstance(data, dict) else {"index": seq}), "leaf_hash": leaf})
    return out


def rows(conn: Connection) -> Iterable[tuple[int, str, str]]:
    for seq, text, leaf in conn.execute(sa.select(log.c.seq, log.c.entry, log.c.leaf_hash).order_by(log.c.seq)):
        yield int(seq), str(text), str(leaf)


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    id: int
    checkpoint: Checkpoint | None
    """None when the stored body is not a readable checkpoint."""
    leaves: str
    """Hex leaf hashes of the entries it covers beyond the previous checkpoint."""
    body: str


def stored_checkpoints(conn: Connection) -> list[StoredCheckpoint]:
    found = []
    for cid, body, leaves in conn.execute(
        sa.select(checkpoints.c.id, checkpoints.c.body, checkpoints.c.leaves).order_by(checkpoints.c.id)
    ):
        try:
            cp: Checkpoint | None = Checkpoint.from_json(body, where=f"checkpoint {cid}")
        except CheckpointError:
            cp = None
        found.append(StoredCheckpoint(int(cid), cp, str(leaves), str(body)))
    return found


def leaves_of(texts: Iterable[str]) -> list[bytes]:
    return [leaf_hash(text.encode()) for text in texts]


# ---------------------------------------------------------------- verification


@dataclass(frozen=True, slots=True)
class Problem:
    entry: int | None
    """The entry named, when one can be."""
    checkpoint: int | None
    problem: str

    def to_dict(self) -> dict[str, Any]:
        return {"entry": self.entry, "checkpoint": self.checkpoint, "problem": self.problem}


@dataclass
class Verification:
    size: int
    root: str
    """Hex root of the log as it is now (recomputed from the entries' text)."""
    checkpoints: int
    trust: str
    """Where the key that checkpoints were checked against came from."""
    covered: int = 0
    """Entries covered by a signed checkpoint that still holds; later ones are protected only against an edit that
    leaves their recorded leaf hash behind, until the next checkpoint."""
    problems: list[Problem] = field(default_factory=list)
    leaves: list[bytes | None] = field(default_factory=list, repr=False)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "size": self.size,
            "root": self.root,
            "checkpoints": self.checkpoints,
            "covered": self.covered,
            "trust": self.trust,
            "problems": [p.to_dict() for p in self.problems],
        }


def _root(leaves: Sequence[bytes | None], size: int) -> bytes | None:
    if size > len(leaves):
        return None
    builder = RootBuilder()
    for leaf in leaves[:size]:
        if leaf is None:
            return None
        builder.append(leaf)
    return builder.root()


def _split(blob: bytes) -> list[bytes]:
    return [blob[i : i + HASH_BYTES] for i in range(0, len(blob), HASH_BYTES)]


def verify_log(
    log_rows: Iterable[tuple[int, str, str]],
    stored: Sequence[StoredCheckpoint],
    *,
    trusted: Ed25519PublicKey | None,
    trust: str,
    external: Sequence[tuple[str, Checkpoint]] = (),
) -> Verification:
    """Check every entry and every checkpoint (see the module's docstring); pure over what it is given."""
    problems: list[Problem] = []
    leaves: list[bytes | None] = []
    expected = 0
    for seq, text, stored_leaf in log_rows:
        if seq < expected:  # not possible with a primary key, kept for rows from elsewhere
            problems.append(Problem(seq, None, f"entry {seq} appears twice"))
            continue
        while expected < seq:
            problems.append(Problem(expected, None, f"entry {expected} is missing (deleted): the next entry is {seq}"))
            leaves.append(None)
            expected += 1
        leaf = leaf_hash(text.encode())
        try:
            data = orjson.loads(text)
            index = data.get("index") if isinstance(data, dict) else None
        except orjson.JSONDecodeError:
            data, index = None, None
            problems.append(Problem(seq, None, f"entry {seq} is not a log entry (not JSON): edited"))
        if data is not None and index != seq:
            problems.append(
                Problem(seq, None, f"entry {seq} records index {index!r}: entries were moved, reordered or renumbered")
            )
        if stored_leaf != leaf.hex():
            problems.append(
                Problem(
                    seq, None, f"entry {seq}: its text does not match its recorded leaf hash (edited after writing)"
                )
            )
        leaves.append(leaf)
        expected = seq + 1
    size = len(leaves)
    current = _root(leaves, size)

    named: set[int] = {p.entry for p in problems if p.entry is not None}
    witnessed: dict[tuple[int, str], list[bytes]] = {}
    last_good = 0

    def compare(label: str, cid: int | None, cp: Checkpoint, witness: list[bytes] | None) -> None:
        nonlocal last_good
        if cp.size > size:
            problems.append(
                Problem(
                    size,
                    cid,
                    f"entries {size}..{cp.size - 1} are missing: {label} covers {cp.size} entries and the log holds "
                    f"{size} (truncated)",
                )
            )
        elif _root(leaves, cp.size) == bytes.fromhex(cp.root):
            last_good = max(last_good, cp.size)
            return
        missing_inside = any(leaves[i] is None for i in range(min(cp.size, size)))
        if witness is not None:
            found = False
            for i in range(min(cp.size, size)):
                if leaves[i] is not None and leaves[i] != witness[i]:
                    found = True
                    if i not in named:
                        named.add(i)
                        problems.append(
                            Problem(
                                i,
                                cid,
                                f"entry {i} differs from the entry {label} covers (edited, replaced or reordered "
                                f"after the checkpoint)",
                            )
                        )
            if found:
                return
        if cp.size > size or missing_inside:
            return
        problems.append(
            Problem(
                None,
                cid,
                f"{label}: entries {last_good}..{cp.size - 1} no longer hash to its signed root; one of them was "
                f"altered after it (the leaf hashes kept with the checkpoint were altered too, so the entry "
                f"cannot be named)",
            )
        )

    recorded = b""
    previous_size = 0
    for item in stored:
        cp = item.checkpoint
        if cp is None:
            problems.append(Problem(None, item.id, f"checkpoint {item.id} is not a readable checkpoint (altered)"))
            continue
        label = f"checkpoint {item.id} (size {cp.size}, issued {cp.issued_at})"
        try:
            verify_checkpoint(cp, trusted)
        except CheckpointError as error:
            problems.append(Problem(None, item.id, f"{label}: {error.message}"))
            continue
        if cp.log != LOG_NAME:
            problems.append(Problem(None, item.id, f"{label}: a checkpoint of log {cp.log!r}, not of the vault"))
            continue
        witness: list[bytes] | None = None
        if cp.size >= previous_size:
            try:
                segment = bytes.fromhex(item.leaves)
            except ValueError:
                segment = b""
            if len(segment) == HASH_BYTES * (cp.size - previous_size):
                candidate = recorded + segment
                if tree_root(_split(candidate)) == bytes.fromhex(cp.root):
                    witness = _split(candidate)
                    recorded = candidate
                    previous_size = cp.size
                    witnessed[(cp.size, cp.root)] = witness
        if witness is None:
            problems.append(
                Problem(
                    None,
                    item.id,
                    f"{label}: the leaf hashes kept with it do not reproduce its signed root (altered)",
                )
            )
        compare(label, item.id, cp, witness)

    for where, cp in external:
        label = f"checkpoint {where} (size {cp.size}, issued {cp.issued_at})"
        try:
            verify_checkpoint(cp, trusted)
        except CheckpointError as error:
            problems.append(Problem(None, None, f"{label}: {error.message}"))
            continue
        compare(label, None, cp, witnessed.get((cp.size, cp.root)))

    problems.sort(key=lambda p: (p.entry if p.entry is not None else size + 1, p.checkpoint or 0))
    return Verification(
        size=size,
        root=current.hex() if current is not None else "",
        checkpoints=len(stored) + len(external),
        trust=trust,
        covered=last_good,
        problems=problems,
        leaves=leaves,
    )

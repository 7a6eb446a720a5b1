"""API keys: created with a role (viewer, officer, approver, admin), stored as a SHA-256 hash of their secret in the
ledger's database (own tables, own Alembic version table), refused once expired or revoked.

A key reads ``tg_<id>_<secret>``: the id finds the row, the secret is checked against the stored hash
in constant time. The secret is shown once, when the key is created. Creating and revoking a key are
entered in the ledger's audit log under the name of whoever did it.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import hmac
import re
import secrets
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tiergate.errors import InputError
from tiergate.ledger import Ledger, LedgerError
from tiergate.ledger.store import WRITE_OPTION

ROLES = ("viewer", "officer", "approver", "admin")
"""Viewer reads; officer also decides and ships; approver also approves the vault's transfers (when the vault's
approver set names the key's owner); admin also manages keys."""
_RANK = {role: rank for rank, role in enumerate(ROLES)}
VERSION_TABLE = "tiergate_api_version"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.@+_\- ]{0,98}[A-Za-z0-9._])?$")
"""An owner as the audit log shows it: ASCII letters, digits, spaces and ``. @ + - _`` (an e-mail address fits),
so that no two owners can look alike through letters of other scripts (Cyrillic а for Latin a), invisible or
bidirectional characters."""
_LOOKALIKES = (("rn", "m"), ("vv", "w"), ("cl", "d"), ("0", "o"), ("1", "l"), ("|", "l"))

metadata = sa.MetaData()
api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("owner", sa.String(100), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("revoked_by", sa.String(200), nullable=True),
)

api_sessions = sa.Table(
    "api_sessions",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("key_id", sa.String(32), nullable=False, index=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
)
"""The dashboard's sessions: the SHA-256 of each session id (the cookie holds the id), its key, and when it was
ended by signing out. A session is valid while it is not ended and its key is active."""


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    owner: str
    role: str
    created_at: dt.datetime
    created_by: str
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    revoked_by: str | None

    def state(self, now: dt.datetime) -> str:
        """``active``, ``revoked`` or ``expired``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    def allows(self, role: str) -> bool:
        """Whether this key's role includes ``role`` (admin ⊇ approver ⊇ officer ⊇ viewer)."""
        return _RANK[self.role] >= _RANK[role]

    @property
    def actor(self) -> str:
        """The name entered in the audit log for what this key does."""
        return f"{self.owner} (api key {self.id})"

    def to_dict(self, now: dt.datetime) -> dict[str, Any]:
        return {
            "id": self.id,
            "owner": self.owner,
            "role": self.role,
            "state": self.state(now),
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "expires_at": None if self.expires_at is None else self.expires_at.isoformat(),
            "revoked_at": None if self.revoked_at is None else self.revoked_at.isoformat(),
            "revoked_by": self.revoked_by,
        }


def _row_to_key(row: Any) -> ApiKey:
    created = _aware(row["created_at"])
    assert created is not None
    return ApiKey(
        id=row["id"],
        owner=row["owner"],
        role=row["role"],
        created_at=created,
        created_by=row["created_by"],
        expires_at=_aware(row["expires_at"]),
        revoked_at=_aware(row["revoked_at"]),
        revoked_by=row["revoked_by"],
    )


def _hash(key_id: str, secret: str) -> str:
    return hashlib.sha256(f"{key_id}:{secret}".encode()).hexdigest()


def acting_as(ledger: Ledger, who: str) -> Ledger:
    """The same ledger (same engine and connections) whose audit entries name ``who``."""
    clone = copy.copy(ledger)
    clone.actor = who
    return clone


def init_keys(ledger: Ledger) -> None:
    """Create or upgrade the API's tables in the ledger's database (after the ledger's own)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with ledger.engine.connect() as conn, conn.execution_options(**{WRITE_OPTION: True}).begin():
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def owner_skeletons(owner: str) -> frozenset[str]:
    """What an owner looks like, for telling apart two owners that a reader could take for one another: the name
    with spaces collapsed and the ASCII look-alikes of UTS #39 folded (I, 1 and l; O and 0; rn and m; vv and w;
    cl and d), as written and case-folded. Two owners look alike when they share a skeleton."""
    text = " ".join(owner.split())
    return frozenset(_fold_lookalikes(form) for form in (text, text.casefold()))


def _fold_lookalikes(text: str) -> str:
    text = text.replace("I", "l").replace("O", "o")
    for seen, like in _LOOKALIKES:
        text = text.replace(seen, like)
    return text


def check_owner(owner: str, existing: Iterable[str] = ()) -> str:
    """The owner as it will be stored (NFKC-normalised, spaces collapsed), or an :class:`InputError`: a character
    outside ASCII letters, digits, spaces and ``. @ + - _``, or a name that looks like a different existing owner
    (``existing``)."""
    normal = " ".join(unicodedata.normalize("NFKC", owner).split())
    if not _OWNER.match(normal):
        raise InputError(
            f"owner: {owner[:120]!r} is not a name",
            hint="use 1 to 100 ASCII letters, digits, spaces or . @ + - _, starting and ending with a letter or "
            "digit; an e-mail address fits",
        )
    skeletons = owner_skeletons(normal)
    for other in existing:
        if other != normal and skeletons & owner_skeletons(other):
            raise InputError(
                f"owner: {normal!r} looks like the existing owner {other!r}",
                hint="give the same person's keys the same owner, or choose a name that cannot be mistaken for it",
            )
    return normal


def check_role(role: str) -> str:
    if role not in _RANK:
        raise InputError(f"role: {role!r} is not a role", hint=f"use one of {', '.join(ROLES)}")
    return role


def create_key(
    ledger: Ledger, owner: str, role: str, *, who: str, expires_at: dt.datetime | None = None
) -> tuple[str, ApiKey]:
    """A new key for ``owner``; returns the token (shown once; only its hash is kept) and the record."""
    owner = check_owner(owner)
    check_role(role)
    now = ledger.clock()
    expires = _aware(expires_at)
    if expires is not None and expires <= now:
        raise InputError(f"expires_at: {expires.isoformat()} is not in the future")
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    record = ApiKey(key_id, owner, role, now, who, expires, None, None)
    writer = acting_as(ledger, who)

    def insert(conn: Connection) -> None:
        owners = conn.execute(sa.select(api_keys.c.owner).distinct()).scalars().all()
        check_owner(owner, owners)
        conn.execute(
            api_keys.insert().values(
                id=key_id,
                owner=owner,
                role=role,
                secret_hash=_hash(key_id, secret),
                created_at=now,
                created_by=who,
                expires_at=expires,
            )
        )
        writer.append_audit(
            conn,
            "api-key-create",
            f"api-key:{key_id}",
            {"owner": owner, "role": role, "expires_at": None if expires is None else expires.isoformat()},
        )

    writer.run(insert)
    return f"tg_{key_id}_{secret}", record


def list_keys(ledger: Ledger) -> list[ApiKey]:
    def read(conn: Connection) -> list[ApiKey]:
        rows = conn.execute(sa.select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)).mappings().all()
        return [_row_to_key(row) for row in rows]

    return ledger.run(read)


def get_key(ledger: Ledger, key_id: str) -> ApiKey | None:
    def read(conn: Connection) -> ApiKey | None:
        row = conn.execute(sa.select(api_keys).where(api_keys.c.id == key_id)).mappings().first()
        return None if row is None else _row_to_key(row)

    return ledger.run(read)


def revoke_key(ledger: Ledger, key_id: str, *, who: str) -> ApiKey:
    """Revoke a key for good (a revoked key is refused from then on); revoking twice changes nothing."""
    writer = acting_as(ledger, who)

    def revoke(conn: Connection) -> ApiKey:
        row = conn.execute(sa.select(api_keys).where(api_keys.c.id == key_id)).mappings().first()
        if row is None:
            raise LedgerError(f"no API key with id {key_id!r}", hint="see `tiergate keys list`")
        if row["revoked_at"] is not None:
            return _row_to_key(row)
        now = ledger.clock()
        conn.execute(api_keys.update().where(api_keys.c.id == key_id).values(revoked_at=now, revoked_by=who))
        writer.append_audit(conn, "api-key-revoke", f"api-key:{key_id}", {"owner": row["owner"], "role": row["role"]})
        return _row_to_key({**row, "revoked_at": now, "revoked_by": who})

    return writer.run(revoke)


def parse_token(token: str) -> tuple[str, str] | None:
    """The id and secret of a well-formed token, else None."""
    parts = token.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != "tg" or not re.fullmatch(r"[0-9a-f]{12}", parts[1]) or not parts[2]:
        return None
    if len(parts[2]) > 100:
        return None
    return parts[1], parts[2]


def find_key(ledger: Ledger, token: str) -> ApiKey | None:
    """The key whose token this is (whatever its state), or None for an unknown or forged token."""
    parsed = parse_token(token)
    if parsed is None:
        return None
    key_id, secret = parsed

    def read(conn: Connection) -> Any:
        return conn.execute(sa.select(api_keys).where(api_keys.c.id == key_id)).mappings().first()

    row = ledger.run(read)
    if row is None or not hmac.compare_digest(row["secret_hash"], _hash(key_id, secret)):
        return None
    return _row_to_key(row)


def _session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "replace")).hexdigest()


def open_session(ledger: Ledger, key_id: str) -> str:
    """A new dashboard session for the key; returns its id (for the signed cookie; only its hash is kept)."""
    session_id = secrets.token_urlsafe(32)
    now = ledger.clock()

    def insert(conn: Connection) -> None:
        conn.execute(api_sessions.insert().values(id_hash=_session_hash(session_id), key_id=key_id, created_at=now))

    ledger.run(insert)
    return session_id


def session_key_id(ledger: Ledger, session_id: str) -> str | None:
    """The key id of an open session, or None for an unknown or ended one."""
    if not session_id or len(session_id) > 100:
        return None

    def read(conn: Connection) -> Any:
        query = sa.select(api_sessions.c.key_id, api_sessions.c.ended_at).where(
            api_sessions.c.id_hash == _session_hash(session_id)
        )
        return conn.execute(query).first()

    row = ledger.run(read)
    if row is None or row.ended_at is not None:
        return None
    return str(row.key_id)


def end_session(ledger: Ledger, session_id: str) -> None:
    """End a session for good (signing out); ending an unknown or ended session changes nothing."""
    now = ledger.clock()

    def update(conn: Connection) -> None:
        conn.execute(
            api_sessions.update()
            .where(api_sessions.c.id_hash == _session_hash(session_id), api_sessions.c.ended_at.is_(None))
            .values(ended_at=now)
        )

    ledger.run(update)

"""Denial notices kept in the store: the ledger's database (``--db`` / ``TIERGATE_DB``), in their own table.

SQLAlchemy Core through the ledger's engine handling (SQLite file by default, PostgreSQL by URL). Adding a
notice with an id already held replaces it only when asked (``replace=True``); an import is one
transaction: every notice of the file is stored, or none.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import orjson
import sqlalchemy as sa

from tiergate.decide.model import DenialNotice
from tiergate.denials.model import denial_to_dict
from tiergate.errors import InputError, TiergateError
from tiergate.ledger import store as ledger_store

metadata = sa.MetaData()
notices = sa.Table(
    "denial_notices",
    metadata,
    sa.Column("id", sa.String(100), primary_key=True),
    sa.Column("jurisdiction", sa.String(3), nullable=False),
    sa.Column("date", sa.Date, nullable=False),
    sa.Column("expires", sa.Date, nullable=False),
    sa.Column("destination", sa.String(2), nullable=False, index=True),
    sa.Column("end_user", sa.Text, nullable=False),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
)
_WRITE = {getattr(ledger_store, "WRITE_OPTION", "tiergate_write"): True}


class DenialStoreError(TiergateError):
    """A denial store that cannot be used as asked; nothing was changed."""


class DenialStore:
    def __init__(self, url: str, *, engine: sa.Engine | None = None) -> None:
        """The store at ``url``; ``engine``: one already open on it (a ledger's), kept open on ``close``."""
        self.url = url
        self._own = engine is None
        try:
            self.engine = engine if engine is not None else ledger_store.create_engine(url)
        except TiergateError as error:
            raise DenialStoreError(error.message, hint=error.hint) from None

    def close(self) -> None:
        if self._own:
            self.engine.dispose()

    def add(self, items: Sequence[DenialNotice], *, replace: bool = False) -> int:
        """Store the notices in one transaction; an id already held is an error unless ``replace``."""
        now = dt.datetime.now(dt.UTC)
        try:
            with self.engine.connect().execution_options(**_WRITE) as conn, conn.begin():
                metadata.create_all(conn)
                held = {
                    row[0]
                    for row in conn.execute(sa.select(notices.c.id).where(notices.c.id.in_([d.id for d in items])))
                }
                if held and not replace:
                    raise InputError(
                        f"denial notice(s) {', '.join(sorted(held))} are already held",
                        hint="give --replace to replace them",
                    )
                if held:
                    conn.execute(notices.delete().where(notices.c.id.in_(held)))
                for d in items:
                    conn.execute(
                        notices.insert().values(
                            id=d.id,
                            jurisdiction=d.jurisdiction,
                            date=d.date,
                            expires=d.expires,
                            destination=d.destination,
                            end_user=d.end_user,
                            data=orjson.dumps(denial_to_dict(d)).decode(),
                            added_at=now,
                        )
                    )
        except sa.exc.OperationalError as error:
            raise DenialStoreError(f"database error on {self.url}: {error.orig}", hint="nothing was changed") from None
        return len(items)

    def all(self, *, live_on: dt.date | None = None) -> list[DenialNotice]:
        """Every notice held (only those live on ``live_on`` when given), oldest first."""
        try:
            with self.engine.connect() as conn:
                if not sa.inspect(conn).has_table("denial_notices"):
                    return []
                query = sa.select(notices.c.data).order_by(notices.c.date, notices.c.id)
                if live_on is not None:
                    query = query.where(notices.c.date <= live_on, notices.c.expires >= live_on)
                rows = conn.execute(query).all()
        except sa.exc.OperationalError as error:
            raise DenialStoreError(f"cannot open {self.url}: {error.orig}") from None
        return [_notice(orjson.loads(row[0])) for row in rows]


def _notice(data: dict[str, Any]) -> DenialNotice:
    end_user = data["end_user"]
    return DenialNotice(
        id=data["id"],
        jurisdiction=data["jurisdiction"],
        date=dt.date.fromisoformat(data["date"]),
        expires=dt.date.fromisoformat(data["expires"]),
        control_keys=tuple(data["control_keys"]),
        destination=data["destination"],
        end_user=end_user["name"],
        end_user_id=end_user.get("id"),
        end_use=data.get("end_use"),
        reason=data.get("reason", ""),
        public=bool(data.get("public", True)),
    )


def held_denials(url: str | None) -> list[DenialNotice]:
    """The notices of the store at ``url`` (none when no URL is given)."""
    if url is None:
        return []
    store = DenialStore(url)
    try:
        return store.all()
    finally:
        store.close()

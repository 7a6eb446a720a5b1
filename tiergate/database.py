"""Database engines of Tiergate's stores (the ledger, the list store, denials, chip keys): a SQLite file (WAL, a
writer takes the write lock when its transaction begins) or PostgreSQL, by URL. Kept apart from the ledger's
models so that a command that needs only an engine (``tiergate screen name``) does not load them."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from tiergate.errors import TiergateError


class LedgerError(TiergateError):
    """A ledger operation that cannot be done as asked; nothing was changed."""


WRITE_OPTION = "tiergate_write"
"""The execution option that makes a SQLite transaction take the write lock at its start."""


def _sqlite_file(url: sa.URL) -> Path | None:
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def _sha256_hex(text: str) -> str:
    """SHA-256 of a text's UTF-8 bytes, as SQLite's ``tiergate_sha256`` (PostgreSQL has its own)."""
    return hashlib.sha256(text.encode()).hexdigest()


def create_engine(url: str) -> Engine:
    """An engine for a ledger URL: a SQLite file (WAL, waits for the write lock) or PostgreSQL."""
    try:
        parsed = sa.make_url(url)
    except Exception:
        raise LedgerError(
            f"not a database URL: {url!r}", hint="e.g. sqlite:///ledger.db or postgresql://host/db"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        file = _sqlite_file(parsed)
        if file is not None and not file.parent.exists():
            raise LedgerError(f"cannot open {url}: folder {file.parent} does not exist")
        engine = sa.create_engine(parsed, connect_args={"timeout": 0.005})

        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we issue BEGIN IMMEDIATE ourselves
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # Every commit is flushed to disk before it returns, as PostgreSQL's commits are: under WAL's
            # NORMAL a power cut may undo the last committed shipments, and the cap would be overspent later.
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()
            dbapi_connection.create_function("tiergate_sha256", 1, _sha256_hex, deterministic=True)

        @event.listens_for(engine, "begin")
        def _begin(connection: Connection) -> None:
            # A write transaction takes the write lock now (no lost updates); a read begins deferred, so
            # readers never wait for writers (WAL).
            write = connection.get_execution_options().get(WRITE_OPTION, False)
            connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        # No ping per checkout (a round trip per operation): a connection found broken is invalidated by
        # SQLAlchemy and the operation is tried again (see Ledger.transaction).
        return sa.create_engine(parsed, pool_recycle=3600)
    raise LedgerError(f"unsupported database {backend!r} in {url!r}", hint="use sqlite:///FILE or postgresql://...")


def schema_revision(engine: Engine, version_table: str) -> str | None:
    """The Alembic revision a store's ``version_table`` records, or None when the store has no such table (it was
    never initialised). A database that cannot be opened raises SQLAlchemy's ``OperationalError``."""
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table(version_table):
            return None
        revision = conn.execute(sa.text(f"SELECT version_num FROM {version_table}")).scalar()  # noqa: S608
    return None if revision is None else str(revision)

"""Alembic environment for the diversion case queue, kept in the ledger's database under its own version table, so
that the ledger's migrations and these evolve independently."""

from __future__ import annotations

from alembic import context

from tiergate.diversion.store import VERSION_TABLE, metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - tiergate.diversion.store always passes its connection
    raise RuntimeError("run these migrations through tiergate.diversion.store (it passes the connection)")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True, version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()

"""Alembic environment for the vault's tables, kept in the ledger's database under their own version table, so
that the ledger's migrations and these evolve independently."""

from __future__ import annotations

from alembic import context

from tiergate.vault.schema import VERSION_TABLE, metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - tiergate.vault always passes its connection
    raise RuntimeError("run these migrations through tiergate.vault (it passes the connection)")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True, version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()

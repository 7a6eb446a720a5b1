"""Alembic environment for the Tiergate ledger: runs on the connection the ledger passes in."""

from __future__ import annotations

from alembic import context

from tiergate.ledger.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - the ledger always passes its connection
    raise RuntimeError("run ledger migrations through tiergate.ledger (it passes the connection)")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()

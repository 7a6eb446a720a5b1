"""Ledger tables (SQLAlchemy Core). Amounts are integers of 1/10,000 TPP, so that cap checks are exact."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

UNITS_PER_TPP = 10_000
"""Ledger amounts are stored as whole units of 1/10,000 TPP (every catalogue TPP has at most 4 decimals)."""

metadata = MetaData()

accounts = Table(
    "ledger_accounts",
    metadata,
    Column("account", String(300), primary_key=True),
    Column("kind", String(100), nullable=False),
    Column("rule", String(200), nullable=False),
    Column("cap", BigInteger, nullable=True),
    Column("used", BigInteger, nullable=False, default=0),
    Column("reserved", BigInteger, nullable=False, default=0),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

reservations = Table(
    "ledger_reservations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account", String(300), ForeignKey("ledger_accounts.account"), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("committed", BigInteger, nullable=False, default=0),
    Column("released", BigInteger, nullable=False, default=0),
    Column("decision_id", String(200), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

movements = Table(
    "ledger_movements",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("account", String(300), ForeignKey("ledger_accounts.account"), nullable=False),
    Column("op", String(20), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("reservation_id", Integer, ForeignKey("ledger_reservations.id"), nullable=False),
    Column("idempotency_key", String(300), nullable=False),
    Column("decision_id", String(200), nullable=True),
    Column("actor", String(200), nullable=False),
    UniqueConstraint("idempotency_key", name="uq_ledger_movements_key"),
)

licences = Table(
    "ledger_licences",
    metadata,
    Column("licence_id", String(200), primary_key=True),
    Column("quantity", BigInteger, nullable=True),
    Column("value_usd", BigInteger, nullable=True),
    Column("note", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # The licence as issued (schema 0002); a licence carried over from 0001 has none of these and covers nothing.
    Column("jurisdiction", String(10), nullable=True),
    Column("exporter", String(500), nullable=True),
    Column("destination", String(2), nullable=True),
    Column("issued", Date, nullable=True),
    Column("expires", Date, nullable=True),
    Column("terms", Text, nullable=True),
)

audit = Table(
    "ledger_audit",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", String(40), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(50), nullable=False),
    Column("subject", String(300), nullable=False),
    Column("pack_revision", String(500), nullable=True),
    Column("input_hash", String(64), nullable=True),
    Column("payload", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

audit_head = Table(
    "ledger_audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
)

GENESIS = "0" * 64
"""The ``prev_hash`` of the first audit entry."""

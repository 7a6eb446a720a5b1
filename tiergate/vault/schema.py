"""The vault's tables (SQLAlchemy Core), all named ``vault_*``, in the ledger's database under their own Alembic
version table. The migration in ``migrations/versions`` creates them with their constraints."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

VERSION_TABLE = "tiergate_vault_version"
metadata = MetaData()

config = Table(
    "vault_config",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("regime", String(100), nullable=False),
    Column("public_key", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(200), nullable=False),
)

approver_sets = Table(
    "vault_approver_sets",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("approvers", Text, nullable=False),
    Column("threshold", Integer, nullable=False),
    Column("approval_ttl_s", BigInteger, nullable=False),
    Column("request_ttl_s", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("rotation", String(20), nullable=True),
)

artefacts = Table(
    "vault_artefacts",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("own_ops", Float, nullable=False),
    Column("training_ops", Float, nullable=False),
    Column("open_weights", Boolean, nullable=False),
    Column("base", String(200), ForeignKey("vault_artefacts.id"), nullable=True),
    Column("shards", Text, nullable=False),
    Column("merkle_root", String(64), nullable=False),
    Column("eccn", String(20), nullable=False),
    Column("regime", String(100), nullable=False),
    Column("why", Text, nullable=False),
    Column("rules", Text, nullable=False),
    Column("registered_at", DateTime(timezone=True), nullable=False),
    Column("registered_by", String(200), nullable=False),
)

datacentres = Table(
    "vault_datacentres",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("country", String(2), nullable=False),
    Column("operator", String(200), nullable=False),
    Column("veu", String(10), nullable=True),
    Column("fedramp_high_equivalent", Boolean, nullable=False),
    Column("dedicated_devices", Boolean, nullable=False),
    Column("attested_by", String(200), nullable=True),
    Column("attested_on", String(10), nullable=True),
    Column("registered_at", DateTime(timezone=True), nullable=False),
    Column("registered_by", String(200), nullable=False),
)

requests = Table(
    "vault_requests",
    metadata,
    Column("id", String(20), primary_key=True),
    Column("number", Integer, nullable=False, unique=True),
    Column("kind", String(20), nullable=False),
    Column("requester", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("set_version", Integer, nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("reason", String(50), nullable=False),
    Column("why", Text, nullable=False),
    Column("rules", Text, nullable=False),
    Column("artefact", String(200), ForeignKey("vault_artefacts.id"), nullable=True),
    Column("destination", String(2), nullable=True),
    Column("export_from", String(2), nullable=True),
    Column("recipient", String(300), nullable=True),
    Column("recipient_headquarters", String(2), nullable=True),
    Column("parent_headquarters", String(2), nullable=True),
    Column("data_centre", String(200), ForeignKey("vault_datacentres.id"), nullable=True),
    Column("regime", String(100), nullable=True),
    Column("proposal", Text, nullable=True),
    Column("decision", Text, nullable=True),
    Column("final_status", String(20), nullable=True),
    Column("final_reason", String(50), nullable=True),
    Column("final_at", DateTime(timezone=True), nullable=True),
)

approvals = Table(
    "vault_approvals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request", String(20), ForeignKey("vault_requests.id"), nullable=False),
    Column("approver", String(200), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("counted", Boolean, nullable=False),
    Column("reason", String(50), nullable=False),
    Column("log_index", Integer, nullable=False),
)

log = Table(
    "vault_log",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", String(40), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("entry", Text, nullable=False),
    Column("leaf_hash", String(64), nullable=False),
)

log_head = Table(
    "vault_log_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("size", Integer, nullable=False),
)

checkpoints = Table(
    "vault_checkpoints",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("size", Integer, nullable=False),
    Column("root", String(64), nullable=False),
    Column("issued_at", String(40), nullable=False),
    Column("key_id", String(32), nullable=False),
    Column("body", Text, nullable=False),
    Column("leaves", Text, nullable=False),
)

"""The weight vault: configuration, approver sets, artefacts, data centres, requests, approvals, the Merkle log
and its signed checkpoints.

Revision ID: vault0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "vault0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vault_config",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("regime", sa.String(100), nullable=False),
        sa.Column("public_key", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_vault_config_one_row"),
    )
    op.create_table(
        "vault_approver_sets",
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("approvers", sa.Text, nullable=False),
        sa.Column("threshold", sa.Integer, nullable=False),
        sa.Column("approval_ttl_s", sa.BigInteger, nullable=False),
        sa.Column("request_ttl_s", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rotation", sa.String(20), nullable=True),
        sa.CheckConstraint("threshold >= 1", name="ck_vault_approver_sets_threshold"),
        sa.CheckConstraint("approval_ttl_s > 0 AND request_ttl_s > 0", name="ck_vault_approver_sets_ttl"),
    )
    op.create_table(
        "vault_artefacts",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("own_ops", sa.Float, nullable=False),
        sa.Column("training_ops", sa.Float, nullable=False),
        sa.Column("open_weights", sa.Boolean, nullable=False),
        sa.Column("base", sa.String(200), sa.ForeignKey("vault_artefacts.id"), nullable=True),
        sa.Column("shards", sa.Text, nullable=False),
        sa.Column("merkle_root", sa.String(64), nullable=False),
        sa.Column("eccn", sa.String(20), nullable=False),
        sa.Column("regime", sa.String(100), nullable=False),
        sa.Column("why", sa.Text, nullable=False),
        sa.Column("rules", sa.Text, nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("registered_by", sa.String(200), nullable=False),
        sa.CheckConstraint("own_ops >= 0 AND training_ops >= own_ops", name="ck_vault_artefacts_ops"),
    )
    op.create_table(
        "vault_datacentres",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("operator", sa.String(200), nullable=False),
        sa.Column("veu", sa.String(10), nullable=True),
        sa.Column("fedramp_high_equivalent", sa.Boolean, nullable=False),
        sa.Column("dedicated_devices", sa.Boolean, nullable=False),
        sa.Column("attested_by", sa.String(200), nullable=True),
        sa.Column("attested_on", sa.String(10), nullable=True),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("registered_by", sa.String(200), nullable=False),
        sa.CheckConstraint("veu IS NULL OR veu IN ('UVEU', 'NVEU')", name="ck_vault_datacentres_veu"),
    )
    op.create_table(
        "vault_requests",
        sa.Column("id", sa.String(20), primary_key=True),
        sa.Column("number", sa.Integer, nullable=False, unique=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("requester", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("set_version", sa.Integer, nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(50), nullable=False),
        sa.Column("why", sa.Text, nullable=False),
        sa.Column("rules", sa.Text, nullable=False),
        sa.Column("artefact", sa.String(200), sa.ForeignKey("vault_artefacts.id"), nullable=True),
        sa.Column("destination", sa.String(2), nullable=True),
        sa.Column("export_from", sa.String(2), nullable=True),
        sa.Column("recipient", sa.String(300), nullable=True),
        sa.Column("recipient_headquarters", sa.String(2), nullable=True),
        sa.Column("parent_headquarters", sa.String(2), nullable=True),
        sa.Column("data_centre", sa.String(200), sa.ForeignKey("vault_datacentres.id"), nullable=True),
        sa.Column("regime", sa.String(100), nullable=True),
        sa.Column("proposal", sa.Text, nullable=True),
        sa.Column("decision", sa.Text, nullable=True),
        sa.Column("final_status", sa.String(20), nullable=True),
        sa.Column("final_reason", sa.String(50), nullable=True),
        sa.Column("final_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('transfer', 'rotation')", name="ck_vault_requests_kind"),
        sa.CheckConstraint("outcome IN ('denied', 'license_required', 'pending')", name="ck_vault_requests_outcome"),
        sa.CheckConstraint(
            "final_status IS NULL OR final_status IN ('released', 'denied', 'applied', 'superseded')",
            name="ck_vault_requests_final",
        ),
        # The Tier 3 floor, once more in the database: a request refused when made is never released.
        sa.CheckConstraint(
            "final_status IS NULL OR final_status <> 'released' OR outcome = 'pending'",
            name="ck_vault_requests_released_only_if_pending",
        ),
    )
    op.create_table(
        "vault_approvals",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request", sa.String(20), sa.ForeignKey("vault_requests.id"), nullable=False),
        sa.Column("approver", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("counted", sa.Boolean, nullable=False),
        sa.Column("reason", sa.String(50), nullable=False),
        sa.Column("log_index", sa.Integer, nullable=False),
    )
    op.create_index("ix_vault_approvals_request", "vault_approvals", ["request"])
    op.create_table(
        "vault_log",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("entry", sa.Text, nullable=False),
        sa.Column("leaf_hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_vault_log_subject", "vault_log", ["subject"])
    op.create_table(
        "vault_log_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("size", sa.Integer, nullable=False),
    )
    op.execute(sa.text("INSERT INTO vault_log_head (id, size) VALUES (1, 0)"))
    op.create_table(
        "vault_checkpoints",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("root", sa.String(64), nullable=False),
        sa.Column("issued_at", sa.String(40), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("leaves", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "vault_checkpoints",
        "vault_log_head",
        "vault_log",
        "vault_approvals",
        "vault_requests",
        "vault_datacentres",
        "vault_artefacts",
        "vault_approver_sets",
        "vault_config",
    ):
        op.drop_table(table)

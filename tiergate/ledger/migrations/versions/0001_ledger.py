"""The ledger: accounts, reservations, movements, licences and the hash-chained audit log.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_accounts",
        sa.Column("account", sa.String(300), primary_key=True),
        sa.Column("kind", sa.String(100), nullable=False),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("cap", sa.BigInteger, nullable=True),
        sa.Column("used", sa.BigInteger, nullable=False),
        sa.Column("reserved", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("used >= 0 AND reserved >= 0", name="ck_ledger_accounts_non_negative"),
        sa.CheckConstraint("cap IS NULL OR used + reserved <= cap", name="ck_ledger_accounts_within_cap"),
    )
    op.create_table(
        "ledger_reservations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("account", sa.String(300), sa.ForeignKey("ledger_accounts.account"), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("committed", sa.BigInteger, nullable=False),
        sa.Column("released", sa.BigInteger, nullable=False),
        sa.Column("decision_id", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "amount > 0 AND committed >= 0 AND released >= 0 AND committed + released <= amount",
            name="ck_ledger_reservations_amounts",
        ),
    )
    op.create_table(
        "ledger_movements",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("account", sa.String(300), sa.ForeignKey("ledger_accounts.account"), nullable=False),
        sa.Column("op", sa.String(20), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("reservation_id", sa.Integer, sa.ForeignKey("ledger_reservations.id"), nullable=False),
        sa.Column("idempotency_key", sa.String(300), nullable=False),
        sa.Column("decision_id", sa.String(200), nullable=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.UniqueConstraint("idempotency_key", name="uq_ledger_movements_key"),
    )
    op.create_index("ix_ledger_movements_account_at", "ledger_movements", ["account", "at"])
    op.create_table(
        "ledger_licences",
        sa.Column("licence_id", sa.String(200), primary_key=True),
        sa.Column("quantity", sa.BigInteger, nullable=False),
        sa.Column("value_usd", sa.BigInteger, nullable=True),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "ledger_audit",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(50), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("pack_revision", sa.String(500), nullable=True),
        sa.Column("input_hash", sa.String(64), nullable=True),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "ledger_audit_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.execute(sa.text("INSERT INTO ledger_audit_head (id, seq, hash) VALUES (1, 0, '" + "0" * 64 + "')"))


def downgrade() -> None:
    for table in (
        "ledger_audit_head",
        "ledger_audit",
        "ledger_licences",
        "ledger_movements",
        "ledger_reservations",
        "ledger_accounts",
    ):
        op.drop_table(table)

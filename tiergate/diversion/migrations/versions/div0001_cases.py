"""The diversion case queue: one row per case (keyed by its network's smallest party), its latest scan, its
status and analyst, the evidence an analyst's decision was made on; analysts' notes.

Revision ID: div0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "div0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "diversion_cases",
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("case_id", sa.String(40), nullable=False, unique=True),
        sa.Column("level", sa.String(20), nullable=False),
        sa.Column("score", sa.Integer, nullable=False),
        sa.Column("evidence", sa.String(64), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("assignee", sa.String(200), nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.Column("decided_evidence", sa.String(64), nullable=True),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('open', 'assigned', 'closed')", name="ck_diversion_cases_status"),
    )
    op.create_index("ix_diversion_cases_status", "diversion_cases", ["status", "priority"])
    op.create_table(
        "diversion_notes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(300), sa.ForeignKey("diversion_cases.key"), nullable=False, index=True),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("diversion_notes")
    op.drop_index("ix_diversion_cases_status", "diversion_cases")
    op.drop_table("diversion_cases")

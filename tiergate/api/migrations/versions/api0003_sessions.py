"""Dashboard sessions kept on the server: signing out ends a session for good, so that a copy of the cookie taken
before it no longer signs in. The cookie holds a random session id; the table holds its SHA-256 only.

Revision ID: api0003
Revises: api0002
"""

import sqlalchemy as sa
from alembic import op

revision = "api0003"
down_revision = "api0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("key_id", sa.String(32), nullable=False, index=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("api_sessions")

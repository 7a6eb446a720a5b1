"""The approver role: an officer who may also approve the vault's transfers (when the vault's approver set names
the key's owner).

Revision ID: api0002
Revises: api0001
"""

from alembic import op

revision = "api0002"
down_revision = "api0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_constraint("ck_api_keys_role", type_="check")
        batch.create_check_constraint("ck_api_keys_role", "role IN ('viewer', 'officer', 'approver', 'admin')")


def downgrade() -> None:
    op.execute("UPDATE api_keys SET role = 'officer' WHERE role = 'approver'")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_constraint("ck_api_keys_role", type_="check")
        batch.create_check_constraint("ck_api_keys_role", "role IN ('viewer', 'officer', 'admin')")

"""Licences as the law writes them: issuing jurisdiction, exporter, destination, dates and the full terms
(consignees, lines, conditions). A licence of revision 0001 (a quantity, a value and a note) is kept as it was,
with no terms: it covers nothing until its terms are recorded (``tiergate ledger licence add FILE``).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ledger_licences") as batch:
        batch.alter_column("quantity", existing_type=sa.BigInteger, nullable=True)
        batch.add_column(sa.Column("jurisdiction", sa.String(10), nullable=True))
        batch.add_column(sa.Column("exporter", sa.String(500), nullable=True))
        batch.add_column(sa.Column("destination", sa.String(2), nullable=True))
        batch.add_column(sa.Column("issued", sa.Date, nullable=True))
        batch.add_column(sa.Column("expires", sa.Date, nullable=True))
        batch.add_column(sa.Column("terms", sa.Text, nullable=True))


def downgrade() -> None:
    # A licence recorded with its terms has no single quantity: revision 0001 cannot hold it.
    held = op.get_bind().execute(sa.text("SELECT count(*) FROM ledger_licences WHERE terms IS NOT NULL")).scalar()
    if held:
        raise RuntimeError(f"{held} licence(s) carry their terms; revision 0001 cannot hold them (nothing changed)")
    with op.batch_alter_table("ledger_licences") as batch:
        for column in ("terms", "expires", "issued", "destination", "exporter", "jurisdiction"):
            batch.drop_column(column)
        batch.alter_column("quantity", existing_type=sa.BigInteger, nullable=False)

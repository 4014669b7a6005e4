"""supervision mode by record, quantified risk of graded institutions

The supervision mode now follows an institution's record over the policy's look-back window, and
cosmetic and dental institutions get a quantified risk level (issue 17). Both are stored with the credit
snapshot; every institution's snapshot is marked stale here, so the first reader (or the daily
recompute-credit) recomputes its mode under the new rules.

Revision ID: d94e1b7c3a20
Revises: d4e8c2a7f913
Create Date: 2026-12-03 12:00:00

"""
import datetime as dt

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = 'd94e1b7c3a20'
down_revision = 'd4e8c2a7f913'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("institutions", sa.Column("credit_record", sa.String(8), nullable=True))
    op.add_column("institutions", sa.Column("credit_graded_risk", sa.String(8), nullable=True))
    institutions = sa.table("institutions", sa.column("credit_stale_after", sa.DateTime(timezone=True)))
    long_ago = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
    if op.get_bind().dialect.name == "sqlite":  # stored naive, in UTC (api.database.UTCDateTime)
        long_ago = long_ago.replace(tzinfo=None)
    op.execute(institutions.update().values(credit_stale_after=long_ago))


def downgrade():
    with op.batch_alter_table("institutions") as batch:
        batch.drop_column("credit_graded_risk")
        batch.drop_column("credit_record")

"""policy versions on decisions

Violations, complaints, credit records and draws store the api.policy version they were decided under,
so a new version of the policy file changes only what is decided after it takes effect. Rows stored
before this revision were decided under the rules of version 1 (the same numbers), and say so.

Revision ID: b6f2a8d41c07
Revises: 16bf5ad4755d
Create Date: 2026-12-03 11:40:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = 'b6f2a8d41c07'
down_revision = '16bf5ad4755d'
branch_labels = None
depends_on = None

TABLES = ("violations", "complaints", "credit_history", "inspection_draws")


def upgrade():
    for table in TABLES:
        # The default fills the rows already there. PostgreSQL then drops it, so that every new row names
        # its version; SQLite keeps it (dropping a default there rebuilds the table), and the code names
        # the version on every insert anyway.
        op.add_column(table, sa.Column("policy_version", sa.Integer(), nullable=False, server_default="1"))
        if op.get_bind().dialect.name != "sqlite":
            op.alter_column(table, "policy_version", server_default=None)


def downgrade():
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("policy_version")

"""changes feed: one row per change to mirror, numbered in commit order by its readers (issue 20)

Writers insert a row per (type, id) changed in their transaction with `seq` NULL; a reader numbers the
committed ones (api.changes.sequence) and reads `seq > since`. The partial index holds only the rows
still to number, so numbering never scans the feed's history.

Revision ID: c3d8f1a2b9e7
Revises: a7c4e19d2b68
Create Date: 2026-12-12 12:00:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = 'c3d8f1a2b9e7'
down_revision = 'c3f18a6d9e42'
branch_labels = None
depends_on = None

TYPES = ("institution", "staff", "code", "credit", "inspection", "penalty", "list", "complaint")


def upgrade():
    op.create_table(
        "changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("entity_id", sa.BigInteger(), nullable=False),
        sa.Column("ref", sa.String(length=32), nullable=True),
        sa.Column("op", sa.String(length=8), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("type IN (" + ", ".join(f"'{t}'" for t in TYPES) + ")", name=op.f("ck_changes_type")),
        sa.CheckConstraint("op IN ('upsert', 'delete')", name=op.f("ck_changes_op")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_changes")),
    )
    op.create_index("uq_changes_seq", "changes", ["seq"], unique=True)
    op.create_index("ix_changes_unnumbered", "changes", ["id"], unique=False,
                    sqlite_where=sa.text("seq IS NULL"), postgresql_where=sa.text("seq IS NULL"))


def downgrade():
    op.drop_index("ix_changes_unnumbered", table_name="changes")
    op.drop_index("uq_changes_seq", table_name="changes")
    op.drop_table("changes")

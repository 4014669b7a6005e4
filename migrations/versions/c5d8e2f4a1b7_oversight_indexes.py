"""indexes of the leaders' numbers (oversight.stats, issue 20): complaints received, self-checks
filed and leads opened or closed in a period

Revision ID: c5d8e2f4a1b7
Revises: a7c4e19d2b68
Create Date: 2026-12-03 17:30:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c5d8e2f4a1b7'
down_revision = 'c3d8f1a2b9e7'
branch_labels = None
depends_on = None

INDEXES = (
    # Covering: every column the complaint numbers read, so they are counted from the index alone.
    ("ix_complaints_stats", "complaints", ["submitted_at", "department", "status", "institution_id", "accepted_at",
                                           "accept_due_at", "reply_due_at", "replied_at", "rating"]),
    ("ix_selfchecks_submitted_at", "selfchecks", ["submitted_at"]),
    ("ix_leads_opened_at", "leads", ["opened_at"]),
    ("ix_leads_closed_at", "leads", ["closed_at"]),
)


def upgrade():
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade():
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)

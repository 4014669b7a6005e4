"""anonymous intake entries name nobody

The `submit` entry of an anonymous case's timeline named the citizen's account when the citizen was
logged in, which staff read next to the same account on the citizen's named cases. New cases store
no actor there (complaints.intake.submit_actor); this clears the entries already stored. The case's
own account_id stays: it serves the citizen's /me/complaints and is never shown to staff.

Downgrade changes nothing: the data was a leak, not a feature to restore.

Revision ID: 7a3c51d0b9e2
Revises: 42ba2e995d27
Create Date: 2026-12-03 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '7a3c51d0b9e2'
down_revision = '42ba2e995d27'
branch_labels = None
depends_on = None


def upgrade():
    complaints = sa.table("complaints", sa.column("id", sa.Integer), sa.column("anonymous", sa.Boolean))
    events = sa.table("complaint_events", sa.column("complaint_id", sa.Integer), sa.column("action", sa.String),
                      sa.column("actor_id", sa.Integer))
    anonymous = sa.select(complaints.c.id).where(complaints.c.anonymous.is_(True))
    op.execute(events.update().where(events.c.action == "submit", events.c.complaint_id.in_(anonymous))
               .values(actor_id=None))


def downgrade():
    pass

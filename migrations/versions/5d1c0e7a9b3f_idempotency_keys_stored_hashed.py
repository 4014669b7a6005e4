"""idempotency keys stored hashed

An Idempotency-Key gets a complaint's receipt and query code back, so it is a secret: from now on only
its SHA-256 is stored (complaints.intake.stored_key). Existing keys are hashed in place, so a retry of a
submission made before the upgrade still finds its case. The column keeps its type (64 hex characters
fit). A downgrade cannot bring the keys back: they stay hashed, and a retry sent after a downgrade
with a key from before it files a second case.

Revision ID: 5d1c0e7a9b3f
Revises: 7a3c51d0b9e2
Create Date: 2026-12-02 10:00:00

"""
import hashlib

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '5d1c0e7a9b3f'
down_revision = '7a3c51d0b9e2'
branch_labels = None
depends_on = None

_complaints = sa.table("complaints", sa.column("id", sa.Integer), sa.column("idempotency_key", sa.String))


def upgrade():
    connection = op.get_bind()
    rows = connection.execute(sa.select(_complaints.c.id, _complaints.c.idempotency_key)
                              .where(_complaints.c.idempotency_key.is_not(None))).all()
    for complaint_id, key in rows:
        connection.execute(_complaints.update().where(_complaints.c.id == complaint_id)
                           .values(idempotency_key=hashlib.sha256(key.encode()).hexdigest()))


def downgrade():
    pass  # the keys cannot be recovered from their hashes; see the docstring

"""black-list terms and the key supervision list

A black listing lasts until a decision lifts it or its term ends (policy `credit.black_list_term_days`),
not until the scoring cycle rolls over: black-list entries and decisions get `ends_at`. Rows already
there were made under policy version 1 (a 365-day term) and get listed_at / decided_at + 365 days.
The list entries may now be of the key supervision list (`key`); institutions on the black list or in
a key-supervision band are marked stale, so the next reader opens their key entries.

Revision ID: d4e8c2a7f913
Revises: b6f2a8d41c07
Create Date: 2026-12-04 10:00:00

"""
import datetime as dt

from alembic import op
import sqlalchemy as sa

import api.database

# revision identifiers, used by Alembic.
revision = 'd4e8c2a7f913'
down_revision = 'b6f2a8d41c07'
branch_labels = None
depends_on = None

TERM = dt.timedelta(days=365)  # policy version 1, credit.black_list_term_days
UTC = api.database.UTCDateTime(timezone=True)


def _fill(bind, name: str, start: str, where) -> None:
    table = sa.table(name, sa.column("id", sa.Integer()), sa.column(start, UTC), sa.column("ends_at", UTC))
    rows = bind.execute(sa.select(table.c.id, table.c[start]).where(where(table))).all()
    for row_id, began in rows:
        bind.execute(sa.update(table).where(table.c.id == row_id).values(ends_at=began + TERM))


def upgrade():
    bind = op.get_bind()
    with op.batch_alter_table('list_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ends_at', UTC, nullable=True))
        batch_op.drop_constraint(op.f('ck_list_entries_list'), type_='check')
        batch_op.create_check_constraint(op.f('ck_list_entries_list'), "list IN ('red', 'black', 'key')")
    with op.batch_alter_table('list_decisions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ends_at', UTC, nullable=True))
    _fill(bind, "list_entries", "listed_at", lambda t: sa.literal_column("list") == "black")
    _fill(bind, "list_decisions", "decided_at", lambda t: sa.true())
    with op.batch_alter_table('list_decisions', schema=None) as batch_op:
        batch_op.alter_column('ends_at', existing_type=UTC, nullable=False)

    institutions = sa.table("institutions", sa.column("id", sa.Integer()), sa.column("credit_band", sa.String()),
                            sa.column("credit_stale_after", UTC))
    black = sa.text("SELECT institution_id FROM list_entries WHERE list = 'black' AND removed_at IS NULL")
    bind.execute(sa.update(institutions).where(sa.or_(
        institutions.c.credit_band.in_(("key_supervision", "validation_deferred")),
        institutions.c.id.in_(black.columns(sa.column("institution_id", sa.Integer())).subquery().select())))
        .values(credit_stale_after=dt.datetime.now(dt.UTC)))


def downgrade():
    op.execute("DELETE FROM list_entries WHERE list = 'key'")
    with op.batch_alter_table('list_decisions', schema=None) as batch_op:
        batch_op.drop_column('ends_at')
    with op.batch_alter_table('list_entries', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_list_entries_list'), type_='check')
        batch_op.create_check_constraint(op.f('ck_list_entries_list'), "list IN ('red', 'black')")
        batch_op.drop_column('ends_at')

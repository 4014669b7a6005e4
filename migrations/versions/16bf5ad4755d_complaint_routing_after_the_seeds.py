"""complaint routing after the seeds; referrals (issue 17, corrections 1 and 2)

The categories are routed as the seeds say (docs/decisions.md, "Complaint routing after the seeds"):
- `illegal_practice`: led by health, with public_security, market and ecology co-handling (it was
  public_security's, health alongside);
- `licences`: health's, with approval co-handling (it was approval's alone);
- `medical_waste` is split: `medical_waste_in_institution` (sorting, storage, handover records inside
  an institution) goes to health, `medical_waste_transfer` (transfer and disposal) to ecology.

`medical_waste` itself is kept, `retired`: no longer offered nor taken, but the cases filed under it keep
it and its name ("医疗废物处置"), since nothing stored says which of the two each of them was about.
Existing cases stay with the department that holds them (as every case does until someone transfers
it); the lead of a co-handled category sees the category's cases wherever they are (complaints.service).

`complaint_referrals` holds the referrals to the police or the judiciary (the `refer` action).

Downgrade: the cases filed under either new waste category go back to `medical_waste` (which of the two
they were is lost), the routing is restored, and the referrals are dropped (their `refer` entries stay
in the timeline, with their public note).

Revision ID: 16bf5ad4755d
Revises: 5d1c0e7a9b3f
Create Date: 2026-12-03 10:48:32.340185

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '16bf5ad4755d'
down_revision = '5d1c0e7a9b3f'
branch_labels = None
depends_on = None

# Frozen here, as in 8bdbdfb2095f: later changes are new migrations.
NEW_CATEGORIES = [
    {"code": "medical_waste_in_institution", "name": "医疗机构内医疗废物管理", "department": "health",
     "also_departments": [], "serious": False, "retired": False, "fields": [
         {"name": "location", "label": "发现地点（科室、暂存点等）", "type": "string", "max_length": 200,
          "required": False},
     ]},
    {"code": "medical_waste_transfer", "name": "医疗废物转运与处置", "department": "ecology",
     "also_departments": [], "serious": False, "retired": False, "fields": [
         {"name": "location", "label": "发现地点", "type": "string", "max_length": 200, "required": False},
         {"name": "carrier", "label": "转运单位或车辆（如车牌号）", "type": "string", "max_length": 100,
          "required": False},
     ]},
]
NEW_CODES = [category["code"] for category in NEW_CATEGORIES]
# code -> (department, also_departments): after, and before (8bdbdfb2095f).
ROUTING = {
    "illegal_practice": (("health", ["public_security", "market", "ecology"]), ("public_security", ["health"])),
    "licences": (("health", ["approval"]), ("approval", [])),
}
# The form's order: the two waste categories where the old one was, the retired one last.
POSITIONS = ["medical_quality", "attitude_ethics", "prices_charges", "drugs_devices", "advertising",
             "insurance_fraud", "medical_waste_in_institution", "medical_waste_transfer", "radiation",
             "illegal_practice", "medical_violence", "licences", "medical_waste"]
OLD_POSITIONS = ["medical_quality", "attitude_ethics", "prices_charges", "drugs_devices", "advertising",
                 "insurance_fraud", "medical_waste", "radiation", "illegal_practice", "medical_violence", "licences"]

categories = sa.table(
    "complaint_categories", sa.column("code", sa.String), sa.column("name", sa.String),
    sa.column("department", sa.String), sa.column("also_departments", sa.JSON), sa.column("serious", sa.Boolean),
    sa.column("fields", sa.JSON), sa.column("position", sa.Integer), sa.column("retired", sa.Boolean),
)
complaints = sa.table("complaints", sa.column("category", sa.String))


def _number(order):
    for position, code in enumerate(order, start=1):
        op.execute(categories.update().where(categories.c.code == code).values(position=position))


def upgrade():
    op.create_table('complaint_referrals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('complaint_id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('referred_to', sa.String(length=32), nullable=False),
    sa.Column('referred_to_name', sa.String(length=100), nullable=True),
    sa.Column('referred_on', sa.Date(), nullable=False),
    sa.Column('reference_no', sa.String(length=64), nullable=True),
    sa.CheckConstraint("referred_to != 'other' OR referred_to_name IS NOT NULL", name=op.f('ck_complaint_referrals_referred_to_named')),
    sa.CheckConstraint("referred_to IN ('public_security', 'procuratorate', 'court', 'other')", name=op.f('ck_complaint_referrals_referred_to')),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'], name=op.f('fk_complaint_referrals_complaint_id_complaints'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['event_id'], ['complaint_events.id'], name=op.f('fk_complaint_referrals_event_id_complaint_events'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_complaint_referrals')),
    sa.UniqueConstraint('complaint_id', 'referred_to', 'reference_no', name=op.f('uq_complaint_referrals_complaint_id')),
    sa.UniqueConstraint('event_id', name=op.f('uq_complaint_referrals_event_id'))
    )
    with op.batch_alter_table('complaint_categories', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retired', sa.Boolean(), nullable=False, server_default=sa.false()))

    op.bulk_insert(categories, [category | {"position": 0} for category in NEW_CATEGORIES])
    op.execute(categories.update().where(categories.c.code == "medical_waste").values(retired=True))
    for code, ((department, also), _) in ROUTING.items():
        op.execute(categories.update().where(categories.c.code == code)
                   .values(department=department, also_departments=also))
    _number(POSITIONS)


def downgrade():
    op.execute(complaints.update().where(complaints.c.category.in_(NEW_CODES)).values(category="medical_waste"))
    op.execute(categories.delete().where(categories.c.code.in_(NEW_CODES)))
    for code, (_, (department, also)) in ROUTING.items():
        op.execute(categories.update().where(categories.c.code == code)
                   .values(department=department, also_departments=also))
    _number(OLD_POSITIONS)
    with op.batch_alter_table('complaint_categories', schema=None) as batch_op:
        batch_op.drop_column('retired')

    op.drop_table('complaint_referrals')

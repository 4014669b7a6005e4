"""ready profiles: each code's public profile stored ready to send (issue 19)

A scan reads the code's ready document (the JSON answer, its ETag, the H5 page) instead of building
the profile; writers mark the documents of what they change stale (registry.ready_profiles). Every code
found here gets an unbuilt document, so its first scan builds it (a document exists for every code from
its issue on, which is what lets a writer's mark always reach it).

Revision ID: a7c4e19d2b68
Revises: fae1888035f1
Create Date: 2026-12-10 12:00:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = 'a7c4e19d2b68'
down_revision = 'fae1888035f1'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "ready_profiles",
        sa.Column("code_id", sa.Integer(), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("built_version", sa.Integer(), nullable=True),
        sa.Column("builder", sa.String(length=16), nullable=True),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("etag", sa.String(length=32), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column("page", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(["code_id"], ["codes.id"], name=op.f("fk_ready_profiles_code_id_codes"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["institution_id"], ["institutions.id"],
                                name=op.f("fk_ready_profiles_institution_id_institutions"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("code_id", name=op.f("pk_ready_profiles")),
    )
    op.create_index(op.f("ix_ready_profiles_institution_id"), "ready_profiles", ["institution_id"], unique=False)
    op.execute(
        "INSERT INTO ready_profiles (code_id, institution_id, version) "
        "SELECT codes.id, COALESCE(codes.institution_id, staff.institution_id), 1 "
        "FROM codes LEFT JOIN staff ON staff.id = codes.staff_id"
    )


def downgrade():
    op.drop_index(op.f("ix_ready_profiles_institution_id"), table_name="ready_profiles")
    op.drop_table("ready_profiles")

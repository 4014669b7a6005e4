"""API clients (machine credentials with scopes) and the 双公示 details of approved penalties (issue 20)

Revision ID: c3f18a6d9e42
Revises: a7c4e19d2b68
Create Date: 2026-12-14 12:00:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = 'c3f18a6d9e42'
down_revision = 'a7c4e19d2b68'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "api_clients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("scopes", sa.String(length=200), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by_id", sa.Integer(), nullable=True),
        sa.Column("last_token_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("scopes <> ''", name=op.f("ck_api_clients_scopes_not_empty")),
        sa.ForeignKeyConstraint(["created_by_id"], ["accounts.id"], name=op.f("fk_api_clients_created_by_id_accounts"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["revoked_by_id"], ["accounts.id"], name=op.f("fk_api_clients_revoked_by_id_accounts"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_clients")),
        sa.UniqueConstraint("client_id", name=op.f("uq_api_clients_client_id")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_api_clients_secret_hash")),
    )
    op.create_table(
        "penalty_details",
        sa.Column("inspection_id", sa.Integer(), nullable=False),
        sa.Column("violation_type", sa.String(length=200), nullable=False),
        sa.Column("facts", sa.Text(), nullable=False),
        sa.Column("basis", sa.Text(), nullable=False),
        sa.Column("kinds", sa.JSON(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("fine_yuan", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("department", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("fine_yuan IS NULL OR fine_yuan >= 0", name=op.f("ck_penalty_details_fine_not_negative")),
        sa.ForeignKeyConstraint(["inspection_id"], ["inspections.id"],
                                name=op.f("fk_penalty_details_inspection_id_inspections"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["updated_by_id"], ["accounts.id"], name=op.f("fk_penalty_details_updated_by_id_accounts"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("inspection_id", name=op.f("pk_penalty_details")),
    )
    op.create_index(op.f("ix_penalty_details_updated_at"), "penalty_details", ["updated_at"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_penalty_details_updated_at"), table_name="penalty_details")
    op.drop_table("penalty_details")
    op.drop_table("api_clients")

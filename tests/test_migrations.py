"""The migrations are the schema: they match the models and run down and up again cleanly."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from api.database import db


def test_the_migrations_match_the_models(app):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == []


def test_the_migrations_go_down_to_nothing_and_up_again(app):
    downgrade(revision="base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    upgrade()
    assert {"institutions", "staff", "codes", "accounts"} <= set(inspect(db.engine).get_table_names())

"""When the database cannot serve a request in time (it refuses connections, a row stays locked too
long, a deadlock picks this transaction), the client is told to retry: 503 UNAVAILABLE with
Retry-After in the contract's envelope, nothing half-stored, and the retry goes through."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from api.errors import RETRY_AFTER
from onecode import create_app
from tests.api.helpers import assert_error
from tests.conftest import BASE_CONFIG, PG_URL

NOTHING_LISTENS = "postgresql+psycopg://postgres@127.0.0.1:1/onecode"  # port 1: connection refused at once


def test_a_login_while_the_database_refuses_connections_answers_503_with_retry_after(tmp_path):
    app = create_app({**BASE_CONFIG, "DATABASE_URL": NOTHING_LISTENS, "UPLOAD_DIR": str(tmp_path / "uploads")})

    response = app.test_client().post("/api/v1/auth/login",
                                      json={"username": "night-officer", "password": "a-long-test-password"})

    body = assert_error(response, 503, "UNAVAILABLE")
    assert set(body) == {"code", "message"}
    assert response.headers["Retry-After"].isdigit()
    text = response.get_data(as_text=True)
    for leak in ("127.0.0.1", "psycopg", "Traceback", "OperationalError"):
        assert leak not in text


def test_a_503_keeps_its_own_retry_after_on_a_rate_limited_route(tmp_path):
    """Flask-Limiter stamps a limited route's answers with its window's reset (up to a minute here)."""
    app = create_app({**BASE_CONFIG, "DATABASE_URL": NOTHING_LISTENS, "UPLOAD_DIR": str(tmp_path / "uploads"),
                      "RATELIMIT_ENABLED": True, "LOGIN_RATE_LIMIT": "10 per minute"})

    response = app.test_client().post("/api/v1/auth/login",
                                      json={"username": "night-officer", "password": "a-long-test-password"})

    assert_error(response, 503, "UNAVAILABLE")
    assert response.headers["Retry-After"] == RETRY_AFTER


def test_a_database_fault_that_no_retry_fixes_is_a_500_not_a_503(tmp_path):
    """A database the migrations never ran on: "no such table" is an OperationalError too."""
    app = create_app({**BASE_CONFIG, "DATABASE_URL": f"sqlite:///{tmp_path / 'never-migrated.db'}",
                      "UPLOAD_DIR": str(tmp_path / "uploads")})

    response = app.test_client().post("/api/v1/auth/login",
                                      json={"username": "night-officer", "password": "a-long-test-password"})

    assert_error(response, 500, "INTERNAL_ERROR")
    assert "Retry-After" not in response.headers


def test_a_request_that_finds_every_pooled_connection_busy_answers_503(make_app):
    app = make_app(SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 1, "max_overflow": 0, "pool_timeout": 0.2})
    client = app.test_client()
    with app.app_context():
        from api.database import db

        with db.engine.connect():  # the pool's only connection, held elsewhere
            response = client.post("/api/v1/auth/login",
                                   json={"username": "night-officer", "password": "a-long-test-password"})

    assert_error(response, 503, "UNAVAILABLE")


def test_a_scanned_code_page_while_the_database_refuses_connections_is_a_503_page_not_json(tmp_path):
    app = create_app({**BASE_CONFIG, "DATABASE_URL": NOTHING_LISTENS, "UPLOAD_DIR": str(tmp_path / "uploads")})

    response = app.test_client().get("/c/Xb3kP9qLm2Vt")

    assert response.status_code == 503
    assert response.mimetype == "text/html"
    assert response.headers["Retry-After"].isdigit()
    assert "请稍后再试" in response.get_data(as_text=True)


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL only: a lock timeout is a PostgreSQL setting")
def test_an_edit_that_waits_too_long_for_a_locked_row_answers_503_and_the_retry_succeeds(
        make_app, database, tmp_path, admin, clinic):
    url = database["url"](tmp_path)
    impatient = make_app(DATABASE_URL=url.replace("options=-csearch_path", "options=-clock_timeout%3D200%20-csearch_path"))
    client = impatient.test_client()
    path = f"/api/v1/institutions/{clinic['id']}"
    other_writer = sa.create_engine(url)
    try:
        with other_writer.connect() as connection:
            connection.execute(sa.text("SELECT id FROM institutions WHERE id = :id FOR UPDATE"), {"id": clinic["id"]})

            blocked = client.patch(path, json={"phone": "0531-99990000"}, headers=admin.headers)

            assert_error(blocked, 503, "UNAVAILABLE")
            assert blocked.headers["Retry-After"].isdigit()
            connection.rollback()
        assert client.get(path, headers=admin.headers).json["phone"] == clinic["phone"]

        retried = client.patch(path, json={"phone": "0531-99990000"}, headers=admin.headers)

        assert retried.status_code == 200, retried.json
        assert client.get(path, headers=admin.headers).json["phone"] == "0531-99990000"
    finally:
        other_writer.dispose()

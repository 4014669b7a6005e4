"""The connection pool on PostgreSQL: a connection the server closed is replaced, not handed out."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from api.database import db
from tests.conftest import PG_URL

pytestmark = pytest.mark.skipif(not PG_URL, reason="PostgreSQL only: SQLite has no server to lose")


def _backend_pid(app) -> int:
    with app.app_context(), db.engine.connect() as connection:
        return connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()


def _terminate(pid: int) -> None:
    """What a server restart or an administrator does to the app's idle pooled connection."""
    admin = sa.create_engine(PG_URL)
    try:
        with admin.connect() as connection:
            connection.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                connection.rollback()  # pg_stat_activity is a snapshot per transaction: look again
                if not connection.execute(sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"),
                                          {"pid": pid}).scalar_one():
                    return
                time.sleep(0.05)
            raise AssertionError(f"backend {pid} still there 30 s after pg_terminate_backend")
    finally:
        admin.dispose()


def test_a_request_after_the_server_closed_the_pooled_connection_succeeds_on_a_new_one(make_app):
    app = make_app()
    client = app.test_client()
    pooled = _backend_pid(app)  # now idle in the pool: the only connection it holds
    _terminate(pooled)

    response = client.get("/api/v1/complaints/categories")

    assert response.status_code == 200, response.get_json()
    assert response.get_json()
    assert _backend_pid(app) != pooled


def test_a_complaint_after_the_server_closed_the_pooled_connections_is_taken(make_app):
    app = make_app()
    client = app.test_client()
    pooled = _backend_pid(app)
    _terminate(pooled)

    response = client.post("/api/v1/complaints", json={
        "category": "licences", "content": "诊所门口没有公示执业许可证，也没有医师信息。", "anonymous": True,
        "target": {"name": "无名诊所", "address": "测试路 1 号"}})

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["tracking_no"].startswith("TS")

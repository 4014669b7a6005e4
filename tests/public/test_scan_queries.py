"""The scan is the hot path: one SQL query for a ready profile, and the same few to build one, whatever
the number of staff."""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3

import pytest
from sqlalchemy import event

from api.database import db, today_shanghai
from directory import service
from registry.models import Institution
from tests.conftest import institution_payload, staff_payload

MAX_BUILD_QUERIES = 8  # the read, the institution, the version, the profile's three, the store


TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


@contextlib.contextmanager
def counting_queries():
    """The SQL statements the driver is given meanwhile (not transaction control): counted at the DBAPI
    connection, since the scan's ready read does not go through SQLAlchemy's Connection (public.ready)."""
    statements: list[str] = []
    traced: dict = {}  # DBAPI connection -> its own cursor_factory (psycopg) or None (sqlite3)

    def record(statement: str) -> None:
        if not statement.lstrip().upper().startswith(TRANSACTION_CONTROL):
            statements.append(statement)

    def trace(dbapi_connection, connection_record=None, proxy=None) -> None:
        if dbapi_connection in traced:
            return
        if isinstance(dbapi_connection, sqlite3.Connection):
            traced[dbapi_connection] = None
            dbapi_connection.set_trace_callback(record)
        else:  # psycopg: its cursors are made by the connection's cursor_factory
            traced[dbapi_connection] = dbapi_connection.cursor_factory
            dbapi_connection.cursor_factory = _counting_cursor(dbapi_connection.cursor_factory, record)

    db.session.close()  # its connection goes back to the pool: the next statement comes from a traced checkout
    event.listen(db.engine, "checkout", trace)
    try:
        yield statements
    finally:
        event.remove(db.engine, "checkout", trace)
        for dbapi_connection, cursor_factory in traced.items():  # connections still checked out included
            if cursor_factory is None:
                dbapi_connection.set_trace_callback(None)
            else:
                dbapi_connection.cursor_factory = cursor_factory


def _counting_cursor(base, record):
    class CountingCursor(base):
        def execute(self, query, *args, **kwargs):
            record(str(query))
            return super().execute(query, *args, **kwargs)

        def executemany(self, query, *args, **kwargs):
            record(str(query))
            return super().executemany(query, *args, **kwargs)

    return CountingCursor


def _institution_with_staff(admin, session, serial: int, staff_count: int) -> dict:
    created = admin.post("/api/v1/institutions", json=institution_payload(serial)).json
    institution = session.get(Institution, created["id"])
    for n in range(staff_count):
        role = ("physician", "nurse", "pharmacist", "technician")[n % 4]
        service.create_staff(session=session, institution=institution,
                             data=staff_payload(serial * 100 + n, role=role, name=f"人员{serial}-{n}"))
    session.commit()
    session.expire_all()
    return created


def _count_scan(client, url):
    with counting_queries() as statements:
        response = client.get(url)
    assert response.status_code == 200
    return response, statements


def _built_then_ready(client, url):
    """The first scan's answer and queries (it builds the profile), then the second's (it reads it)."""
    built, build_queries = _count_scan(client, url)
    ready, ready_queries = _count_scan(client, url)
    assert ready.get_data() == built.get_data()
    return built, build_queries, ready_queries


@pytest.fixture
def small_and_large(admin, session):
    return _institution_with_staff(admin, session, 1, 1), _institution_with_staff(admin, session, 2, 50)


def test_a_ready_scan_is_one_query_and_building_costs_the_same_few_for_1_or_50_staff(client, small_and_large):
    small, large = small_and_large

    small_response, small_build, small_ready = _built_then_ready(client, f"/api/v1/scan/{small['code']['token']}")
    large_response, large_build, large_ready = _built_then_ready(client, f"/api/v1/scan/{large['code']['token']}")

    assert len(small_response.json["institution"]["staff"]) == 1
    assert len(large_response.json["institution"]["staff"]) == 50
    assert all(s["code_url"] for s in large_response.json["institution"]["staff"])
    assert 1 <= len(small_build) == len(large_build) <= MAX_BUILD_QUERIES, large_build
    assert len(small_ready) == len(large_ready) == 1, large_ready
    assert large_ready[0].lstrip().upper().startswith("SELECT")


def test_the_scan_page_is_one_query_once_ready_for_1_or_50_staff(client, small_and_large):
    small, large = small_and_large

    _, small_build, small_ready = _built_then_ready(client, f"/c/{small['code']['token']}")
    large_response, large_build, large_ready = _built_then_ready(client, f"/c/{large['code']['token']}")

    assert "人员2-49" in large_response.get_data(as_text=True)
    assert 1 <= len(small_build) == len(large_build) <= MAX_BUILD_QUERIES, large_build
    assert len(small_ready) == len(large_ready) == 1, large_ready


def test_the_json_and_the_page_are_built_together(client, small_and_large):
    small, _ = small_and_large
    _count_scan(client, f"/api/v1/scan/{small['code']['token']}")

    _, page_queries = _count_scan(client, f"/c/{small['code']['token']}")

    assert len(page_queries) == 1, page_queries


def test_a_staff_scan_is_one_query_once_ready(client, admin, small_and_large):
    _, large = small_and_large
    member = admin.get(f"/api/v1/institutions/{large['id']}/staff?page_size=1").json["items"][0]

    response, build, ready = _built_then_ready(client, f"/api/v1/scan/{member['code']['token']}")

    assert response.json["type"] == "staff"
    assert 1 <= len(build) <= MAX_BUILD_QUERIES, build
    assert len(ready) == 1, ready


def test_a_ready_scan_writes_nothing_while_counts_are_buffered(client, small_and_large):
    small, _ = small_and_large
    _count_scan(client, f"/api/v1/scan/{small['code']['token']}")

    _, statements = _count_scan(client, f"/api/v1/scan/{small['code']['token']}")

    assert not [s for s in statements if s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]


def test_the_scan_costs_the_same_queries_with_joint_inspections_and_approved_penalties(
        client, admin, health_officer, health_supervisor, small_and_large):
    small, large = small_and_large
    for n in range(7):  # more than the profile shows, each on three departments; some approved penalties
        result = "penalty" if n % 3 == 0 else "rectify"
        response = health_officer.post("/api/v1/inspections", json={
            "institution_id": large["id"], "inspected_on": str(today_shanghai() - dt.timedelta(days=n)),
            "summary": f"联合检查{n}", "public": True, "departments": ["health", "market", "medical_insurance"],
            "findings": [{"department": "health", "result": result, "note": "卫生"},
                         {"department": "market", "result": "pass", "note": "市场"},
                         {"department": "medical_insurance", "result": "pass", "note": "医保"}]})
        assert response.status_code == 201, response.get_json()
        if result == "penalty":
            approved = health_supervisor.post(f"/api/v1/inspections/{response.get_json()['id']}/legal-review",
                                              json={"decision": "approved", "note": "合法", "decision_no": f"罚{n}"})
            assert approved.status_code == 200, approved.get_json()

    small_response, small_build, _ = _built_then_ready(client, f"/api/v1/scan/{small['code']['token']}")
    large_response, large_build, large_ready = _built_then_ready(client, f"/api/v1/scan/{large['code']['token']}")
    _, page_queries = _count_scan(client, f"/c/{large['code']['token']}")

    shown = large_response.json["institution"]
    assert small_response.json["institution"]["inspections"] == []
    assert [i["summary"] for i in shown["inspections"]] == [f"联合检查{n}" for n in range(5)]
    assert all(i["departments"] == ["health", "market", "medical_insurance"] for i in shown["inspections"])
    assert [p["decision_no"] for p in shown["penalties"]] == ["罚0", "罚3", "罚6"]
    assert 1 <= len(small_build) == len(large_build) <= MAX_BUILD_QUERIES, large_build
    assert len(large_ready) == len(page_queries) == 1, page_queries

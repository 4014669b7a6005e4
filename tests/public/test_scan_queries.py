"""The scan is the hot path: one SQL query for a ready profile, and the same few to build one, whatever
the number of staff."""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
from sqlalchemy import event

from api.database import db, today_shanghai
from directory import service
from registry.models import Institution
from tests.conftest import institution_payload, staff_payload

MAX_BUILD_QUERIES = 8  # the read, the institution, the version, the profile's three, the store


@contextlib.contextmanager
def counting_queries():
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


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

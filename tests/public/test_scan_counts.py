"""Scan counting: per code per Beijing day, nothing about the scanner, read by regulators only."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from api.database import db, today_shanghai
from codes.models import ScanCount
from tests.conftest import staff_payload


def _scans_of(persona, token, query=""):
    return persona.get(f"/api/v1/codes/{token}/scans{query}")


def test_it_counts_json_and_page_scans_of_today(client, health_officer, clinic):
    token = clinic["code"]["token"]
    for _ in range(3):
        assert client.get(f"/api/v1/scan/{token}").status_code == 200
    for _ in range(2):
        assert client.get(f"/c/{token}").status_code == 200

    response = _scans_of(health_officer, token)

    assert response.status_code == 200, response.json
    assert response.json["token"] == token
    assert response.json["total"] == 5
    assert response.json["days"] == [{"date": today_shanghai().isoformat(), "count": 5}]


def test_counts_add_up_across_flushes(client, admin, clinic):
    token = clinic["code"]["token"]
    client.get(f"/api/v1/scan/{token}")
    assert _scans_of(admin, token).json["total"] == 1

    client.get(f"/api/v1/scan/{token}")
    client.get(f"/c/{token}")

    assert _scans_of(admin, token).json["days"] == [{"date": today_shanghai().isoformat(), "count": 3}]


def test_each_code_has_its_own_count(client, admin, clinic):
    other = admin.post(f"/api/v1/institutions/{clinic['id']}/staff",
                       json=staff_payload(2)).json
    client.get(f"/api/v1/scan/{clinic['code']['token']}")
    client.get(f"/api/v1/scan/{other['code']['token']}")
    client.get(f"/api/v1/scan/{other['code']['token']}")

    assert _scans_of(admin, clinic["code"]["token"]).json["total"] == 1
    assert _scans_of(admin, other["code"]["token"]).json["total"] == 2


def test_scans_of_unknown_tokens_are_not_counted_for_anyone(client, admin, clinic):
    client.get("/api/v1/scan/AAAAAAAAAAAAAAAAAAAA")

    assert _scans_of(admin, clinic["code"]["token"]).json == {
        "token": clinic["code"]["token"], "total": 0, "days": []}


def test_a_code_nobody_scanned_has_no_days(admin, clinic):
    assert _scans_of(admin, clinic["code"]["token"]).json["days"] == []


def test_the_counts_can_be_limited_to_a_date_range(client, admin, clinic):
    token = clinic["code"]["token"]
    client.get(f"/api/v1/scan/{token}")
    today = today_shanghai()

    before = _scans_of(admin, token, f"?from={today - dt.timedelta(days=60)}&to={today - dt.timedelta(days=1)}")
    only_today = _scans_of(admin, token, f"?from={today}&to={today}")

    assert before.json == {"token": token, "total": 0, "days": []}
    assert only_today.json["total"] == 1


def test_nothing_about_the_scanner_is_stored(app, client, admin, clinic):
    token = clinic["code"]["token"]
    client.get(f"/api/v1/scan/{token}", headers={"User-Agent": "MicroMessenger/8.0", "X-Forwarded-For": "203.0.113.9"})
    _scans_of(admin, token)

    columns = {c["name"] for c in sa.inspect(db.engine).get_columns("code_scan_counts")}
    assert columns == {"code_id", "day", "count"}
    assert set(ScanCount.__table__.columns.keys()) == {"code_id", "day", "count"}
    dump = repr(db.session.execute(sa.select(ScanCount.__table__)).all())
    assert "203.0.113.9" not in dump and "MicroMessenger" not in dump


def test_citizens_and_institutions_cannot_read_counts(login, client, clinic):
    token = clinic["code"]["token"]

    assert _scans_of(login("citizen"), token).status_code == 403
    assert _scans_of(login("institution", institution_id=clinic["id"]), token).status_code == 403
    assert client.get(f"/api/v1/codes/{token}/scans").status_code == 401


def test_counts_of_an_unknown_code_are_404(admin):
    response = _scans_of(admin, "AAAAAAAAAAAAAAAAAAAA")

    assert response.status_code == 404
    assert response.json["code"] == "NOT_FOUND"

"""The public scan (JSON): the contract's shape, public facts only, 404 for what is not a code, ETag."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import institution_payload, staff_payload, valid_id_number

BASE_URL = "https://code.example.org"
CREDIT_KEYS = {"grade", "colour", "supervision_mode", "lists"}
INSTITUTION_KEYS = {"name", "category", "licence_no", "licence_valid_to", "licence_status", "scope", "address",
                    "credit", "commitment", "inspections", "penalties", "staff",
                    "staff_count"}  # staff_count: our addition (docs/decisions.md), a count, not a private fact
PUBLIC_STAFF_KEYS = {"name", "role", "title", "practice_category", "practice_scope", "code_url"}
STAFF_KEYS = {"name", "role", "title", "practice_category", "practice_scope", "practice_cert_no", "status",
              "institution", "credit"}


@pytest.fixture
def team(admin, clinic):
    """Two staff at the clinic: a physician and a nurse."""
    made = []
    for serial, role in ((1, "physician"), (2, "nurse")):
        response = admin.post(f"/api/v1/institutions/{clinic['id']}/staff",
                              json=staff_payload(serial, role=role, name=f"人员{serial}"))
        assert response.status_code == 201, response.json
        made.append(response.json)
    return made


def _scan(client, token, **kw):
    return client.get(f"/api/v1/scan/{token}", **kw)


def test_the_institution_scan_has_exactly_the_contract_shape(client, clinic, team):
    response = _scan(client, clinic["code"]["token"])

    assert response.status_code == 200
    body = response.json
    assert set(body) == {"type", "token", "colour", "updated_at", "institution", "complaint_url"}
    assert (body["type"], body["token"], body["colour"]) == ("institution", clinic["code"]["token"], "green")
    assert dt.datetime.fromisoformat(body["updated_at"]).utcoffset() is not None
    assert body["complaint_url"].startswith(BASE_URL)
    institution = body["institution"]
    assert set(institution) == INSTITUTION_KEYS
    assert set(institution["credit"]) == CREDIT_KEYS | {"graded_risk_level"}  # null unless cosmetic or dental
    assert institution["credit"]["graded_risk_level"] is None
    assert institution["credit"]["lists"] == []
    assert institution["commitment"] is None
    assert institution["inspections"] == [] and institution["penalties"] == []
    assert {k: institution[k] for k in ("name", "category", "licence_no", "licence_valid_to", "scope",
                                        "address")} == {k: clinic[k] for k in ("name", "category", "licence_no",
                                                                               "licence_valid_to", "scope",
                                                                               "address")}
    assert institution["licence_status"] == "valid"
    assert [s["name"] for s in institution["staff"]] == ["人员1", "人员2"]
    for person, made in zip(institution["staff"], team, strict=True):
        assert set(person) == PUBLIC_STAFF_KEYS
        assert person["code_url"] == made["code"]["url"]


def test_the_scan_never_shows_private_facts(client, clinic, team):
    text = _scan(client, clinic["code"]["token"]).get_data(as_text=True)

    for private in (valid_id_number(1), valid_id_number(2), clinic["uscc"], clinic["phone"], "88000000"):
        assert private not in text
    for masked in (t["id_number"] for t in team):
        assert masked not in text
    assert "id_number" not in text and "uscc" not in text and "phone" not in text


def test_staff_who_left_are_not_listed(client, admin, clinic, team):
    admin.patch(f"/api/v1/staff/{team[0]['id']}", json={"status": "left"})

    institution = _scan(client, clinic["code"]["token"]).json["institution"]

    assert [s["name"] for s in institution["staff"]] == ["人员2"]
    assert institution["staff_count"] == 1


def test_the_staff_scan_has_the_contract_shape_and_no_id_number(client, clinic, team):
    response = _scan(client, team[0]["code"]["token"])

    assert response.status_code == 200
    body = response.json
    assert set(body) - {"complaint_url"} == {"type", "token", "colour", "updated_at", "staff"}
    assert (body["type"], body["token"], body["colour"]) == ("staff", team[0]["code"]["token"], "green")
    staff = body["staff"]
    assert set(staff) == STAFF_KEYS
    assert set(staff["credit"]) == CREDIT_KEYS
    assert set(staff["institution"]) >= {"name", "licence_no", "code_url"}
    assert set(staff["institution"]) <= {"name", "licence_no", "code_url", "licence_status"}
    assert staff["institution"]["code_url"] == clinic["code"]["url"]
    assert (staff["name"], staff["role"], staff["practice_cert_no"], staff["status"]) == (
        "人员1", "physician", staff_payload(1)["practice_cert_no"], "active")
    text = response.get_data(as_text=True)
    assert valid_id_number(1) not in text and team[0]["id_number"] not in text
    assert clinic["uscc"] not in text and clinic["phone"] not in text


def test_the_staff_scan_says_when_the_person_left(client, admin, team):
    admin.patch(f"/api/v1/staff/{team[0]['id']}", json={"status": "left"})

    assert _scan(client, team[0]["code"]["token"]).json["staff"]["status"] == "left"


def test_an_unknown_token_is_404_not_found(client, clinic):
    response = _scan(client, "AAAAAAAAAAAAAAAAAAAAAAAAAA")

    assert response.status_code == 404
    assert response.json["code"] == "NOT_FOUND"
    assert response.json["message"]


@pytest.mark.parametrize("token", [
    "x" * 33, "x" * 5000, "%00", "a%00b", "ab!cd", "'%20OR%201=1--", "码码码", "..%2F..%2Fetc", "%F0%9F%98%80",
    "a.b", "~tilde", "%25", "%2F",
])
def test_garbage_tokens_are_a_404_envelope(client, clinic, token):
    response = _scan(client, token)

    assert response.status_code == 404
    assert response.json["code"] == "NOT_FOUND"
    assert set(response.json) <= {"code", "message", "fields"}


def test_the_scan_is_public_and_ignores_a_missing_login(client, clinic):
    assert _scan(client, clinic["code"]["token"], headers={}).status_code == 200


def test_the_scan_has_an_etag_and_answers_304_when_unchanged(client, clinic):
    first = _scan(client, clinic["code"]["token"])
    etag = first.headers["ETag"]

    again = _scan(client, clinic["code"]["token"], headers={"If-None-Match": etag})

    assert etag
    assert "public" in first.headers["Cache-Control"] and "max-age" in first.headers["Cache-Control"]
    assert again.status_code == 304
    assert again.get_data() == b""


def test_the_etag_changes_when_the_profile_changes(client, admin, clinic):
    etag = _scan(client, clinic["code"]["token"]).headers["ETag"]
    admin.patch(f"/api/v1/institutions/{clinic['id']}", json={"address": "新地址 9 号"})

    response = _scan(client, clinic["code"]["token"], headers={"If-None-Match": etag})

    assert response.status_code == 200
    assert response.json["institution"]["address"] == "新地址 9 号"
    assert response.headers["ETag"] != etag


def test_the_scan_lists_physicians_before_nurses(client, admin):
    created = admin.post("/api/v1/institutions", json=institution_payload(5)).json
    for serial, role in ((7, "nurse"), (8, "physician")):
        admin.post(f"/api/v1/institutions/{created['id']}/staff", json=staff_payload(serial, role=role))

    staff = _scan(client, created["code"]["token"]).json["institution"]["staff"]

    assert [s["role"] for s in staff] == ["physician", "nurse"]

"""POST /api/v1/accounts: admins create accounts bound to a department or an institution."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from api.models import Account
from tests.api.helpers import assert_error, log_in

PASSWORD = "a-long-enough-password"


def _payload(**overrides):
    payload = {"username": "new-officer", "password": PASSWORD, "role": "officer", "department": "health"}
    payload.update(overrides)
    return {k: v for k, v in payload.items() if v is not None}


def _count(session, username="new-officer"):
    return session.scalar(select(func.count()).select_from(Account).where(Account.username == username))


def test_an_admin_creates_an_officer_who_can_then_log_in(client, admin):
    response = admin.post("/api/v1/accounts", json=_payload())

    assert response.status_code == 201
    assert set(response.json) == {"id", "username", "role", "department", "institution_id"}
    assert response.json["username"] == "new-officer"
    assert response.json["role"] == "officer"
    assert response.json["department"] == "health"
    assert response.json["institution_id"] is None
    login = log_in(client, "new-officer", PASSWORD)
    assert login.status_code == 200
    assert login.json["account"] == response.json


def test_the_answer_never_contains_the_password(admin):
    response = admin.post("/api/v1/accounts", json=_payload())

    assert response.status_code == 201
    text = response.get_data(as_text=True)
    assert PASSWORD not in text
    assert "password" not in text


def test_an_admin_creates_an_institution_account_bound_to_a_clinic(client, admin, clinic):
    payload = _payload(username="clinic-desk", role="institution", department=None, institution_id=clinic["id"])

    response = admin.post("/api/v1/accounts", json=payload)

    assert response.status_code == 201
    assert response.json["institution_id"] == clinic["id"]
    assert response.json["department"] is None
    assert log_in(client, "clinic-desk", PASSWORD).status_code == 200


def test_an_officer_may_not_create_accounts(session, health_officer):
    response = health_officer.post("/api/v1/accounts", json=_payload(role="admin", department=None))

    assert_error(response, 403, "FORBIDDEN")
    assert _count(session) == 0


def test_an_institution_account_may_not_create_accounts(session, clinic_account):
    response = clinic_account.post("/api/v1/accounts", json=_payload())

    assert_error(response, 403, "FORBIDDEN")
    assert _count(session) == 0


def test_creating_an_account_needs_a_token(client, session):
    response = client.post("/api/v1/accounts", json=_payload())

    assert_error(response, 401, "UNAUTHORIZED")
    assert _count(session) == 0


@pytest.mark.parametrize("role", ["officer", "supervisor"])
def test_a_regulator_without_a_department_is_refused_naming_department(session, admin, role):
    response = admin.post("/api/v1/accounts", json=_payload(role=role, department=None))

    body = assert_error(response, 422, "VALIDATION_FAILED")
    assert "department" in body["fields"]
    assert _count(session) == 0


def test_an_unknown_department_is_refused(admin):
    response = admin.post("/api/v1/accounts", json=_payload(department="weather"))

    body = assert_error(response, 422, "VALIDATION_FAILED")
    assert "department" in body["fields"]


def test_a_citizen_with_a_department_is_refused(admin):
    response = admin.post("/api/v1/accounts", json=_payload(role="citizen", department="health"))

    body = assert_error(response, 422, "VALIDATION_FAILED")
    assert "department" in body["fields"]


def test_an_institution_account_without_an_institution_is_refused(session, admin):
    response = admin.post("/api/v1/accounts", json=_payload(role="institution", department=None))

    body = assert_error(response, 422, "VALIDATION_FAILED")
    assert "institution_id" in body["fields"]
    assert _count(session) == 0


def test_an_institution_account_bound_to_an_unknown_institution_is_refused(session, admin):
    payload = _payload(role="institution", department=None, institution_id=424242)

    response = admin.post("/api/v1/accounts", json=payload)

    body = assert_error(response, 422, "VALIDATION_FAILED")
    assert "institution_id" in body["fields"]
    assert _count(session) == 0


def test_an_officer_bound_to_an_institution_is_refused(admin, clinic):
    response = admin.post("/api/v1/accounts", json=_payload(institution_id=clinic["id"]))

    body = assert_error(response, 422, "VALIDATION_FAILED")
    assert "institution_id" in body["fields"]


def test_an_unknown_role_is_refused(admin):
    response = admin.post("/api/v1/accounts", json=_payload(role="superuser", department=None))

    body = assert_error(response, 422, "VALIDATION_FAILED")
    assert "role" in body["fields"]


def test_a_taken_username_answers_409_conflict(session, admin):
    assert admin.post("/api/v1/accounts", json=_payload()).status_code == 201

    response = admin.post("/api/v1/accounts", json=_payload(department="market"))

    assert_error(response, 409, "CONFLICT")
    assert _count(session) == 1


def test_a_short_password_is_refused(session, admin):
    response = admin.post("/api/v1/accounts", json=_payload(password="short-pw"))

    body = assert_error(response, 422, "VALIDATION_FAILED")
    assert "password" in body["fields"]
    assert _count(session) == 0


@pytest.mark.parametrize("username", ["ab", "has space", "名字", "x" * 65])
def test_a_malformed_username_is_refused(admin, username):
    response = admin.post("/api/v1/accounts", json=_payload(username=username))

    body = assert_error(response, 422, "VALIDATION_FAILED")
    assert "username" in body["fields"]


def test_an_unknown_field_is_refused_by_name(session, admin):
    response = admin.post("/api/v1/accounts", json={**_payload(), "is_superuser": True})

    body = assert_error(response, 422, "VALIDATION_FAILED")
    assert "is_superuser" in body["fields"]
    assert _count(session) == 0

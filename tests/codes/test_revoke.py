"""Revoking a code: a new one is issued, the old one answers 410, and only regulators may do it."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from api.errors import Conflict
from codes import service
from codes.models import Code
from tests.conftest import staff_payload

BASE_URL = "https://code.example.org"


def _revoke(persona, token, **body):
    return persona.post(f"/api/v1/codes/{token}/revoke", json=body or {"reason": "海报被盗用"})


@pytest.fixture
def doctor(admin, clinic):
    response = admin.post(f"/api/v1/institutions/{clinic['id']}/staff", json=staff_payload(1))
    assert response.status_code == 201, response.json
    return response.json


def test_an_officer_revokes_a_code_and_gets_the_new_one(health_officer, clinic):
    old = clinic["code"]["token"]

    response = _revoke(health_officer, old)

    assert response.status_code == 200, response.json
    new = response.json
    assert set(new) == {"token", "url", "status", "issued_at", "colour", "image_url"}
    assert new["token"] != old
    assert new["status"] == "active"
    assert new["url"] == f"{BASE_URL}/c/{new['token']}"
    assert new["colour"] == "green"


def test_the_old_token_answers_410_and_the_new_one_the_profile(client, health_officer, clinic):
    old = clinic["code"]["token"]
    new = _revoke(health_officer, old).json["token"]

    gone = client.get(f"/api/v1/scan/{old}")
    current = client.get(f"/api/v1/scan/{new}")

    assert gone.status_code == 410
    assert gone.json["code"] == "CODE_REVOKED"
    assert clinic["name"] not in gone.get_data(as_text=True)
    assert current.status_code == 200
    assert current.json["institution"]["name"] == clinic["name"]


def test_the_institution_answer_shows_the_new_token(admin, health_officer, clinic):
    new = _revoke(health_officer, clinic["code"]["token"]).json["token"]

    assert admin.get(f"/api/v1/institutions/{clinic['id']}").json["code"]["token"] == new
    listed = admin.get("/api/v1/institutions").json["items"]
    assert [i["code"]["token"] for i in listed if i["id"] == clinic["id"]] == [new]


def test_revoking_a_staff_code_issues_the_staff_member_a_new_one(admin, client, doctor, clinic):
    response = _revoke(admin, doctor["code"]["token"])

    assert response.status_code == 200
    assert admin.get(f"/api/v1/staff/{doctor['id']}").json["code"]["token"] == response.json["token"]
    assert client.get(f"/api/v1/scan/{doctor['code']['token']}").status_code == 410
    assert client.get(f"/api/v1/scan/{response.json['token']}").json["type"] == "staff"
    staff_on_door = client.get(f"/api/v1/scan/{clinic['code']['token']}").json["institution"]["staff"]
    assert staff_on_door[0]["code_url"] == response.json["url"]


def test_revoking_again_is_a_conflict(health_officer, clinic, session):
    old = clinic["code"]["token"]
    assert _revoke(health_officer, old).status_code == 200

    response = _revoke(health_officer, old)

    assert response.status_code == 409
    assert response.json["code"] == "CONFLICT"
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Code).where(Code.institution_id == clinic["id"])) == 2


def test_revoking_an_unknown_token_is_404(health_officer):
    response = _revoke(health_officer, "AAAAAAAAAAAAAAAAAAAA")

    assert response.status_code == 404
    assert response.json["code"] == "NOT_FOUND"


@pytest.mark.parametrize("role", ["citizen", "institution"])
def test_citizens_and_institutions_cannot_revoke(login, client, clinic, role):
    persona = login(role, institution_id=clinic["id"] if role == "institution" else None)

    response = _revoke(persona, clinic["code"]["token"])

    assert response.status_code == 403
    assert response.json["code"] == "FORBIDDEN"
    assert client.get(f"/api/v1/scan/{clinic['code']['token']}").status_code == 200


def test_anonymous_callers_cannot_revoke(client, clinic):
    response = client.post(f"/api/v1/codes/{clinic['code']['token']}/revoke", json={"reason": "x"})

    assert response.status_code == 401


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "  "}, {"reason": "x" * 501},
                                  {"reason": "a\x00b"}, {"reason": "ok", "token": "x"}])
def test_a_revocation_needs_a_sensible_reason(health_officer, client, clinic, body):
    response = health_officer.post(f"/api/v1/codes/{clinic['code']['token']}/revoke", json=body)

    assert response.status_code == 422
    assert response.json["code"] == "VALIDATION_FAILED"
    assert response.json["fields"]
    assert client.get(f"/api/v1/scan/{clinic['code']['token']}").status_code == 200


def test_the_database_allows_one_active_code_per_institution(session, clinic):
    session.add(Code(token=service.new_token(), institution_id=clinic["id"], status="active"))

    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


def test_the_database_allows_one_active_code_per_staff_member(session, doctor):
    session.add(Code(token=service.new_token(), staff_id=doctor["id"], status="active"))

    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


def test_the_database_keeps_any_number_of_revoked_codes(session, clinic):
    for _ in range(3):
        session.add(Code(token=service.new_token(), institution_id=clinic["id"], status="revoked"))
    session.commit()

    assert session.scalar(select(func.count()).select_from(Code).where(Code.institution_id == clinic["id"])) == 4


def test_the_service_revokes_once_and_issues_a_new_active_code(session, clinic, admin):
    new = service.revoke(session=session, token=clinic["code"]["token"], reason="伪造", by_account_id=admin.account.id)
    session.commit()

    old = session.scalar(select(Code).where(Code.token == clinic["code"]["token"]))
    assert (old.status, old.revoked_reason, old.revoked_by) == ("revoked", "伪造", admin.account.id)
    assert old.revoked_at is not None
    assert new.status == "active" and new.institution_id == clinic["id"]
    with pytest.raises(Conflict):
        service.revoke(session=session, token=clinic["code"]["token"], reason="again", by_account_id=None)

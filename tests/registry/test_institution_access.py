"""Object checks on institutions: an institution account sees and edits only its own, and only its phone."""

from __future__ import annotations

import pytest

from tests.conftest import institution_payload, valid_uscc


@pytest.fixture
def other_clinic(admin, clinic):
    response = admin.post("/api/v1/institutions", json=institution_payload(2, name="别家诊所"))
    assert response.status_code == 201, response.json
    return response.json


def _url(institution):
    return f"/api/v1/institutions/{institution['id']}"


def test_an_institution_account_reads_its_own_institution(clinic_account, clinic):
    response = clinic_account.get(_url(clinic))

    assert response.status_code == 200
    assert response.json["id"] == clinic["id"]
    assert response.json["code"]["token"] == clinic["code"]["token"]


def test_an_institution_account_gets_404_for_another_institution(clinic_account, other_clinic):
    response = clinic_account.get(_url(other_clinic))

    assert response.status_code == 404
    assert response.json["code"] == "NOT_FOUND"
    assert "别家诊所" not in response.get_data(as_text=True)


def test_another_institution_answers_exactly_like_a_missing_one(clinic_account, other_clinic):
    hidden = clinic_account.get(_url(other_clinic))
    missing = clinic_account.get("/api/v1/institutions/999999")

    assert (hidden.status_code, hidden.json) == (missing.status_code, missing.json)


def test_a_citizen_cannot_read_an_institution_record(login, clinic):
    assert login("citizen").get(_url(clinic)).status_code == 404


def test_an_institution_account_may_change_its_own_phone(clinic_account, clinic, admin):
    response = clinic_account.patch(_url(clinic), json={"phone": "0531-12345678"})

    assert response.status_code == 200, response.json
    assert response.json["phone"] == "0531-12345678"
    assert admin.get(_url(clinic)).json["phone"] == "0531-12345678"


@pytest.mark.parametrize("changes", [
    {"name": "改名诊所"},
    {"licence_valid_to": "2099-12-31"},
    {"status": "active"},
    {"scope": ["内科", "外科", "医疗美容科"]},
    {"phone": "0531-12345678", "address": "别处 1 号"},
])
def test_an_institution_account_may_change_nothing_but_its_phone(clinic_account, clinic, admin, changes):
    response = clinic_account.patch(_url(clinic), json=changes)

    assert response.status_code == 403
    assert response.json["code"] == "FORBIDDEN"
    after = admin.get(_url(clinic)).json
    for name in changes:
        assert after[name] == clinic[name]


def test_an_institution_account_cannot_patch_another_institution(clinic_account, other_clinic, admin):
    response = clinic_account.patch(_url(other_clinic), json={"phone": "0531-12345678"})

    assert response.status_code == 404
    assert admin.get(_url(other_clinic)).json["phone"] == other_clinic["phone"]


def test_a_citizen_cannot_patch_an_institution(login, clinic):
    assert login("citizen").patch(_url(clinic), json={"phone": "0531-12345678"}).status_code == 403


@pytest.mark.parametrize(("role", "department"), [("officer", "health"), ("officer", "market"), ("admin", None)])
def test_regulators_may_change_anything(login, clinic, role, department):
    changes = {"name": "新名诊所", "address": "新路 2 号", "scope": ["全科医疗科"], "category": "tcm_clinic",
               "licence_valid_to": "2035-06-30", "remote_monitoring": True, "status": "suspended"}

    response = login(role, department=department).patch(_url(clinic), json=changes)

    assert response.status_code == 200, response.json
    for name, value in changes.items():
        assert response.json[name] == value
    assert response.json["credit"]["supervision_mode"] == "remote"


def test_a_patch_to_another_institutions_uscc_is_a_conflict(admin, clinic, other_clinic):
    response = admin.patch(_url(clinic), json={"uscc": other_clinic["uscc"]})

    assert response.status_code == 409
    assert response.json["code"] == "CONFLICT"
    assert admin.get(_url(clinic)).json["uscc"] == clinic["uscc"]


def test_a_patch_keeping_its_own_uscc_is_not_a_conflict(admin, clinic):
    response = admin.patch(_url(clinic), json={"uscc": valid_uscc(1), "name": "同号诊所"})

    assert response.status_code == 200, response.json


def test_a_patch_with_unknown_fields_is_refused(admin, clinic):
    response = admin.patch(_url(clinic), json={"credit_grade": "A"})

    assert response.status_code == 422
    assert "credit_grade" in response.json["fields"]
    assert admin.get(_url(clinic)).json["credit"]["grade"] == clinic["credit"]["grade"]


@pytest.mark.parametrize("path", [
    "/api/v1/institutions/99999999999999",
    "/api/v1/institutions/2147483648",
    "/api/v1/institutions/0",
    "/api/v1/institutions/-1",
    "/api/v1/institutions/abc",
    "/api/v1/institutions/99999999999999/staff",
    "/api/v1/staff/99999999999999",
    "/api/v1/staff/2147483647",
])
def test_huge_or_odd_ids_in_the_path_are_a_404_envelope(admin, path):
    response = admin.get(path)

    assert response.status_code == 404
    assert response.json["code"] == "NOT_FOUND"
    assert set(response.json) <= {"code", "message", "fields"}


def test_patching_a_huge_id_is_a_404_envelope(admin):
    response = admin.patch("/api/v1/institutions/99999999999999", json={"phone": "0531-12345678"})

    assert response.status_code == 404
    assert response.json["code"] == "NOT_FOUND"

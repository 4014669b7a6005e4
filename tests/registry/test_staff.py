"""Staff: registration with a checked 身份证 number that is never shown whole, listing, leaving, access."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from codes.models import Code
from directory import service as directory
from registry import service
from registry.models import Staff
from tests.conftest import institution_payload, staff_payload, valid_id_number

BASE_URL = "https://code.example.org"


def bad_id_number(serial: int) -> str:
    good = valid_id_number(serial)
    return good[:-1] + ("0" if good[-1] != "0" else "1")


def _staff_url(institution):
    return f"/api/v1/institutions/{institution['id']}/staff"


@pytest.fixture
def doctor(admin, clinic):
    response = admin.post(_staff_url(clinic), json=staff_payload(1))
    assert response.status_code == 201, response.json
    return response.json


@pytest.fixture
def other_clinic(admin, clinic):
    response = admin.post("/api/v1/institutions", json=institution_payload(2))
    assert response.status_code == 201, response.json
    return response.json


def test_it_registers_staff_with_a_code_and_a_masked_id_number(admin, clinic):
    full = valid_id_number(1)

    response = admin.post(_staff_url(clinic), json=staff_payload(1))

    assert response.status_code == 201, response.json
    body = response.json
    assert body["status"] == "active"
    assert body["institution_id"] == clinic["id"]
    assert body["id_number"] != full
    assert body["id_number"].startswith(full[:6]) and body["id_number"].endswith(full[-4:])
    assert full[6:14] not in body["id_number"]  # the birth date
    assert full not in response.get_data(as_text=True)
    code = body["code"]
    assert code["status"] == "active"
    assert code["url"] == f"{BASE_URL}/c/{code['token']}"
    assert code["token"] != clinic["code"]["token"]


def test_no_staff_answer_ever_carries_the_full_id_number(admin, clinic, doctor):
    full = valid_id_number(1)

    for response in (admin.get(f"/api/v1/staff/{doctor['id']}"), admin.get(_staff_url(clinic)),
                     admin.patch(f"/api/v1/staff/{doctor['id']}", json={"title": "副主任医师"})):
        assert response.status_code == 200
        assert full not in response.get_data(as_text=True)


def test_it_refuses_an_invalid_id_number_checksum(admin, clinic, session):
    response = admin.post(_staff_url(clinic), json=staff_payload(1, id_number=bad_id_number(1)))

    assert response.status_code == 422
    assert response.json["code"] == "VALIDATION_FAILED"
    assert "id_number" in response.json["fields"]
    assert session.scalar(select(func.count()).select_from(Staff)) == 0


@pytest.mark.parametrize(("field", "value"), [
    ("role", "surgeon"), ("id_number", "123"), ("name", ""), ("name", "a\x00b"), ("practice_scope", "x" * 501),
    ("salary", 1000),
])
def test_it_refuses_bad_staff_fields_naming_them(admin, clinic, field, value):
    response = admin.post(_staff_url(clinic), json=staff_payload(1, **{field: value}))

    assert response.status_code == 422
    assert field in response.json["fields"]


def test_the_same_person_registers_once_per_institution(admin, clinic, other_clinic, doctor):
    again = admin.post(_staff_url(clinic), json=staff_payload(1, name="医生一"))
    elsewhere = admin.post(_staff_url(other_clinic), json=staff_payload(1))

    assert again.status_code == 409
    assert again.json["code"] == "CONFLICT"
    assert elsewhere.status_code == 201  # 多点执业


def test_the_service_validates_the_id_number_and_issues_a_code(session, admin, clinic):
    from registry.models import Institution

    institution = session.get(Institution, clinic["id"])
    staff = directory.create_staff(session=session, institution=institution,
                                   data=staff_payload(5, id_number=valid_id_number(5).lower()))
    session.commit()

    assert staff.id_number == valid_id_number(5)
    assert session.scalar(select(Code.status).where(Code.staff_id == staff.id)) == "active"
    assert service.mask_id_number(staff.id_number) == valid_id_number(5)[:6] + "*" * 8 + valid_id_number(5)[-4:]


def test_the_database_refuses_the_same_person_twice_at_one_institution(session, clinic, doctor):
    session.add(Staff(**staff_payload(1), institution_id=clinic["id"], status="active", credit_grade="B",
                      credit_points=0))

    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


def test_it_lists_the_staff_of_an_institution(admin, clinic, other_clinic, doctor):
    admin.post(_staff_url(clinic), json=staff_payload(2, role="nurse", name="护士2"))
    admin.post(_staff_url(other_clinic), json=staff_payload(3, name="别家医生"))

    body = admin.get(_staff_url(clinic)).json

    assert body["total"] == 2
    assert {s["name"] for s in body["items"]} == {"医生1", "护士2"}


def test_it_records_that_a_staff_member_left(admin, clinic, doctor):
    response = admin.patch(f"/api/v1/staff/{doctor['id']}", json={"status": "left"})

    assert response.status_code == 200, response.json
    assert response.json["status"] == "left"
    assert [s["name"] for s in admin.get(f"{_staff_url(clinic)}?status=left").json["items"]] == ["医生1"]
    assert admin.get(f"{_staff_url(clinic)}?status=active").json["total"] == 0


def test_an_institution_account_reads_its_own_staff(clinic_account, clinic, doctor):
    assert clinic_account.get(_staff_url(clinic)).json["total"] == 1
    assert clinic_account.get(f"/api/v1/staff/{doctor['id']}").status_code == 200


def test_an_institution_account_cannot_register_staff(clinic_account, clinic, session):
    response = clinic_account.post(_staff_url(clinic), json=staff_payload(9))

    assert response.status_code == 403
    assert response.json["code"] == "FORBIDDEN"
    assert session.scalar(select(func.count()).select_from(Staff)) == 0


def test_an_institution_account_cannot_change_staff(clinic_account, doctor):
    assert clinic_account.patch(f"/api/v1/staff/{doctor['id']}", json={"title": "主任医师"}).status_code == 403


def test_an_institution_account_cannot_read_another_institutions_staff(login, admin, other_clinic, doctor):
    other_account = login("institution", institution_id=other_clinic["id"])

    listing = other_account.get(_staff_url({"id": doctor["institution_id"]}))
    single = other_account.get(f"/api/v1/staff/{doctor['id']}")

    assert listing.status_code == 404 and listing.json["code"] == "NOT_FOUND"
    assert single.status_code == 404 and single.json["code"] == "NOT_FOUND"
    assert "医生1" not in listing.get_data(as_text=True) + single.get_data(as_text=True)


def test_registering_staff_at_an_unknown_institution_is_404(admin):
    response = admin.post("/api/v1/institutions/99999999999999/staff", json=staff_payload(1))

    assert response.status_code == 404
    assert response.json["code"] == "NOT_FOUND"
    assert admin.post("/api/v1/institutions/424242/staff", json=staff_payload(1)).status_code == 404


def test_anonymous_callers_cannot_read_staff(client, clinic, doctor):
    assert client.get(_staff_url(clinic)).status_code == 401
    assert client.get(f"/api/v1/staff/{doctor['id']}").status_code == 401

"""Registering an institution: the answer's shape, its code, validation, duplicates, nothing half-written."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from api.errors import ValidationFailed
from codes.models import Code
from directory import service as directory
from registry import service
from registry.models import Institution
from tests.conftest import institution_payload, valid_uscc

BASE_URL = "https://code.example.org"
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{14,32}")  # base64url, >= 80 bits, fits a WeChat scene


def bad_uscc(serial: int) -> str:
    """A well-formed USCC whose check character is wrong."""
    good = valid_uscc(serial)
    return good[:-1] + ("0" if good[-1] != "0" else "1")


def _counts(session):
    session.expire_all()
    return (session.scalar(select(func.count()).select_from(Institution)),
            session.scalar(select(func.count()).select_from(Code)))


def _row(serial: int, **overrides) -> Institution:
    data = institution_payload(serial, **overrides)
    for name in ("licence_valid_from", "licence_valid_to"):
        data[name] = dt.date.fromisoformat(data[name])
    return Institution(**data, status="active", credit_grade="B", credit_points=0)


def test_it_registers_an_institution_with_status_credit_and_a_code(admin):
    response = admin.post("/api/v1/institutions", json=institution_payload(1))

    assert response.status_code == 201, response.json
    body = response.json
    assert isinstance(body["id"], int)
    assert body["status"] == "active"
    assert body["licence_status"] == "valid"
    assert body["name"] == "测试诊所1"
    assert set(body["credit"]) >= {"grade", "colour", "supervision_mode", "lists"}
    assert body["credit"]["grade"] in {"A", "B", "C", "D"}
    assert body["credit"]["colour"] == "green"
    assert body["credit"]["supervision_mode"] == "one_code"
    assert body["credit"]["lists"] == []
    code = body["code"]
    assert set(code) == {"token", "url", "status", "issued_at", "colour", "image_url"}
    assert code["status"] == "active"
    assert code["colour"] == "green"
    assert dt.datetime.fromisoformat(code["issued_at"]).utcoffset() is not None
    assert code["url"] == f"{BASE_URL}/c/{code['token']}"
    assert code["image_url"].startswith(f"{BASE_URL}/api/v1/codes/{code['token']}/image")


def test_it_issues_url_safe_tokens_of_at_least_80_bits_and_at_most_32_characters(admin):
    tokens = [admin.post("/api/v1/institutions", json=institution_payload(n)).json["code"]["token"]
              for n in range(1, 6)]

    for token in tokens:
        assert TOKEN_SHAPE.fullmatch(token), token
    assert len(set(tokens)) == len(tokens)


def test_it_refuses_an_invalid_uscc_checksum(admin):
    response = admin.post("/api/v1/institutions", json=institution_payload(7, uscc=bad_uscc(7)))

    assert response.status_code == 422
    assert response.json["code"] == "VALIDATION_FAILED"
    assert "uscc" in response.json["fields"]


@pytest.mark.parametrize("field", ["uscc", "licence_no"])
def test_it_refuses_a_duplicate_uscc_or_licence_number(admin, field):
    first = institution_payload(1)
    assert admin.post("/api/v1/institutions", json=first).status_code == 201

    response = admin.post("/api/v1/institutions", json=institution_payload(2, **{field: first[field]}))

    assert response.status_code == 409
    assert response.json["code"] == "CONFLICT"
    assert field in response.json.get("fields", {field: []})


def test_it_refuses_a_duplicate_uscc_written_in_lower_case(admin):
    first = institution_payload(1)
    assert admin.post("/api/v1/institutions", json=first).status_code == 201

    response = admin.post("/api/v1/institutions", json=institution_payload(2, uscc=first["uscc"].lower()))

    assert response.status_code == 409
    assert response.json["code"] == "CONFLICT"


@pytest.mark.parametrize("field", ["uscc", "licence_no"])
def test_the_database_itself_refuses_a_duplicate(session, field):
    session.add(_row(1))
    session.commit()
    session.add(_row(2, **{field: institution_payload(1)[field]}))

    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


def test_it_refuses_a_licence_valid_from_after_valid_to(admin):
    payload = institution_payload(1, licence_valid_from="2030-01-02", licence_valid_to="2030-01-01")

    response = admin.post("/api/v1/institutions", json=payload)

    assert response.status_code == 422
    assert response.json["code"] == "VALIDATION_FAILED"
    assert {"licence_valid_from", "licence_valid_to"} & set(response.json["fields"])


@pytest.mark.parametrize(("field", "value"), [
    ("category", "spa"),
    ("scope", "内科"),
    ("scope", ["内科", 42]),
    ("remote_monitoring", "maybe"),
    ("licence_valid_to", "next year"),
    ("name", 12345),
    ("name", "诊" * 101),
    ("uscc", valid_uscc(1) + "0"),
    ("address", "测试路\x001号"),
    ("name", "测试\x00诊所"),
    ("phone", "call me"),
    ("colour", "green"),
])
def test_it_refuses_bad_fields_naming_them(admin, session, field, value):
    before = _counts(session)

    response = admin.post("/api/v1/institutions", json={**institution_payload(1), field: value})

    assert response.status_code == 422, response.json
    assert response.json["code"] == "VALIDATION_FAILED"
    assert any(name == field or name.startswith(f"{field}.") for name in response.json["fields"])
    assert _counts(session) == before


def test_it_refuses_a_missing_required_field(admin):
    payload = institution_payload(1)
    del payload["licence_no"]

    response = admin.post("/api/v1/institutions", json=payload)

    assert response.status_code == 422
    assert "licence_no" in response.json["fields"]


@pytest.mark.parametrize("overrides", [
    {"uscc": valid_uscc(1)},  # duplicate of the first
    {"licence_no": institution_payload(1)["licence_no"]},
    {"licence_valid_from": "2031-01-01", "licence_valid_to": "2030-01-01"},
    {"uscc": bad_uscc(2)},
])
def test_a_failed_create_writes_nothing(admin, session, overrides):
    assert admin.post("/api/v1/institutions", json=institution_payload(1)).status_code == 201
    before = _counts(session)

    response = admin.post("/api/v1/institutions", json=institution_payload(2, **overrides))

    assert response.status_code in (409, 422)
    assert _counts(session) == before


def test_the_service_normalises_the_uscc_and_issues_a_code(session):
    payload = institution_payload(3, uscc=valid_uscc(3).lower())
    for name in ("licence_valid_from", "licence_valid_to"):
        payload[name] = dt.date.fromisoformat(payload[name])

    institution = directory.create_institution(session=session, data=payload)
    session.commit()

    assert institution.uscc == valid_uscc(3)
    code = session.scalar(select(Code).where(Code.institution_id == institution.id))
    assert code.status == "active"
    assert TOKEN_SHAPE.fullmatch(code.token)


def test_the_service_refuses_an_invalid_uscc(session):
    with pytest.raises(ValidationFailed) as raised:
        service.normalise_uscc(bad_uscc(1))
    assert "uscc" in raised.value.fields


def test_only_regulators_may_register_institutions(login, client):
    payload = institution_payload(1)

    assert client.post("/api/v1/institutions", json=payload).status_code == 401
    assert login("citizen").post("/api/v1/institutions", json=payload).status_code == 403
    assert login("officer", department="market").post("/api/v1/institutions", json=payload).status_code == 201

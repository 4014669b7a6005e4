"""The code's colour follows credit and licence: green A/B, yellow C, red D, black list or no valid licence."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update

from api.database import today_shanghai
from codes import service as codes_service
from registry.models import Institution
from supervision import grades
from tests.conftest import institution_payload, staff_payload


@pytest.mark.parametrize(("points", "black_listed", "commitment", "breached", "grade"), [
    (0, False, True, False, "A"),
    (0, False, False, False, "B"),
    (0, False, True, True, "B"),
    (1, False, True, False, "B"),
    (5, False, False, False, "B"),
    (6, False, False, False, "C"),
    (11, False, True, False, "C"),
    (12, False, False, False, "D"),
    (40, False, True, False, "D"),
    (0, True, True, False, "D"),
    (3, True, False, False, "D"),
])
def test_grade_for_follows_the_points_table(points, black_listed, commitment, breached, grade):
    assert grades.grade_for(points=points, black_listed=black_listed, commitment_in_force=commitment,
                                 breached=breached) == grade


@pytest.mark.parametrize(("grade", "lists", "licence_status", "colour"), [
    ("A", (), "valid", "green"),
    ("B", (), "valid", "green"),
    ("B", (), "expiring", "green"),
    ("A", ("red",), "valid", "green"),
    ("C", (), "valid", "yellow"),
    ("C", (), "expiring", "yellow"),
    ("D", (), "valid", "red"),
    ("A", ("black",), "valid", "red"),
    ("B", (), "expired", "red"),
    ("A", (), "suspended", "red"),
    ("B", (), "revoked", "red"),
    ("C", (), "expired", "red"),
])
def test_colour_for_follows_the_colour_table(grade, lists, licence_status, colour):
    assert grades.colour_for(grade=grade, lists=lists, licence_status=licence_status) == colour


def test_the_colours_have_their_contract_hex_values():
    assert codes_service.COLOUR_HEX == {"green": "#1a7f37", "yellow": "#9a6700", "red": "#cf222e"}


def _create(admin, serial, **overrides):
    response = admin.post("/api/v1/institutions", json=institution_payload(serial, **overrides))
    assert response.status_code == 201, response.json
    return response.json


def test_a_valid_licence_gives_a_green_code(admin, client):
    created = _create(admin, 1)

    assert created["code"]["colour"] == created["credit"]["colour"] == "green"
    assert client.get(f"/api/v1/scan/{created['code']['token']}").json["colour"] == "green"


def test_an_expired_licence_gives_a_red_code(admin, client):
    yesterday = today_shanghai() - dt.timedelta(days=1)
    created = _create(admin, 1, licence_valid_from=str(yesterday - dt.timedelta(days=365)),
                      licence_valid_to=str(yesterday))

    assert created["licence_status"] == "expired"
    assert created["code"]["colour"] == "red"
    scanned = client.get(f"/api/v1/scan/{created['code']['token']}").json
    assert scanned["colour"] == scanned["institution"]["credit"]["colour"] == "red"


@pytest.mark.parametrize("status", ["suspended", "revoked", "closed"])
def test_a_suspended_revoked_or_closed_institution_has_a_red_code(admin, client, clinic, status):
    patched = admin.patch(f"/api/v1/institutions/{clinic['id']}", json={"status": status}).json

    assert patched["code"]["colour"] == "red"
    assert client.get(f"/api/v1/scan/{clinic['code']['token']}").json["colour"] == "red"


def test_reinstating_an_institution_turns_its_code_green_again(admin, client, clinic):
    admin.patch(f"/api/v1/institutions/{clinic['id']}", json={"status": "suspended"})
    admin.patch(f"/api/v1/institutions/{clinic['id']}", json={"status": "active"})

    assert client.get(f"/api/v1/scan/{clinic['code']['token']}").json["colour"] == "green"


def test_a_staff_badge_is_red_when_the_institution_may_not_practise(admin, client, clinic):
    doctor = admin.post(f"/api/v1/institutions/{clinic['id']}/staff", json=staff_payload(1)).json
    assert client.get(f"/api/v1/scan/{doctor['code']['token']}").json["colour"] == "green"

    admin.patch(f"/api/v1/institutions/{clinic['id']}", json={"status": "suspended"})

    assert client.get(f"/api/v1/scan/{doctor['code']['token']}").json["colour"] == "red"
    assert admin.get(f"/api/v1/staff/{doctor['id']}").json["code"]["colour"] == "red"


@pytest.mark.parametrize(("grade", "colour"), [("C", "yellow"), ("D", "red"), ("B", "green")])
def test_the_stored_grade_sets_the_colour(admin, client, clinic, session, grade, colour):
    session.execute(update(Institution).where(Institution.id == clinic["id"]).values(credit_grade=grade))
    session.commit()

    scanned = client.get(f"/api/v1/scan/{clinic['code']['token']}").json
    assert scanned["colour"] == colour
    assert scanned["institution"]["credit"]["grade"] == grade
    assert admin.get(f"/api/v1/institutions/{clinic['id']}").json["code"]["colour"] == colour

"""Licence status is derived from the dates (Beijing days) and the institution's status, never stored."""

from __future__ import annotations

import datetime as dt

import pytest

from api.database import today_shanghai
from registry.licence import licence_status
from tests.conftest import institution_payload

TODAY = dt.date(2026, 3, 1)


@pytest.mark.parametrize(("valid_to", "expected"), [
    (TODAY + dt.timedelta(days=365), "valid"),
    (TODAY + dt.timedelta(days=31), "valid"),
    (TODAY + dt.timedelta(days=30), "expiring"),
    (TODAY + dt.timedelta(days=1), "expiring"),
    (TODAY, "expiring"),
    (TODAY - dt.timedelta(days=1), "expired"),
    (TODAY - dt.timedelta(days=400), "expired"),
])
def test_it_derives_the_licence_status_from_the_dates(valid_to, expected):
    assert licence_status(institution_status="active", valid_to=valid_to, today=TODAY) == expected


@pytest.mark.parametrize(("institution_status", "expected"), [
    ("suspended", "suspended"),
    ("revoked", "revoked"),
    ("closed", "revoked"),
])
@pytest.mark.parametrize("days_left", [-10, 5, 365])
def test_a_suspended_revoked_or_closed_institution_overrides_the_dates(institution_status, expected, days_left):
    valid_to = TODAY + dt.timedelta(days=days_left)

    assert licence_status(institution_status=institution_status, valid_to=valid_to, today=TODAY) == expected


def _create(admin, serial, valid_to):
    valid_from = min(valid_to, today_shanghai()) - dt.timedelta(days=365)
    response = admin.post("/api/v1/institutions", json=institution_payload(
        serial, licence_valid_from=str(valid_from), licence_valid_to=str(valid_to)))
    assert response.status_code == 201, response.json
    return response.json


@pytest.mark.parametrize(("days_left", "expected"), [
    (400, "valid"),
    (31, "valid"),
    (30, "expiring"),
    (0, "expiring"),
    (-1, "expired"),
])
def test_the_api_shows_the_licence_status_by_beijing_date(admin, days_left, expected):
    body = _create(admin, 1, today_shanghai() + dt.timedelta(days=days_left))

    assert body["licence_status"] == expected
    assert admin.get(f"/api/v1/institutions/{body['id']}").json["licence_status"] == expected


@pytest.mark.parametrize(("status", "expected"), [
    ("suspended", "suspended"),
    ("revoked", "revoked"),
    ("closed", "revoked"),
    ("active", "valid"),
])
def test_patching_the_institution_status_changes_the_licence_status(admin, clinic, status, expected):
    response = admin.patch(f"/api/v1/institutions/{clinic['id']}", json={"status": status})

    assert response.status_code == 200, response.json
    assert response.json["status"] == status
    assert response.json["licence_status"] == expected
    assert admin.get(f"/api/v1/institutions/{clinic['id']}").json["licence_status"] == expected


def test_it_refuses_an_unknown_institution_status(admin, clinic):
    response = admin.patch(f"/api/v1/institutions/{clinic['id']}", json={"status": "paused"})

    assert response.status_code == 422
    assert "status" in response.json["fields"]


def test_patching_dates_into_the_wrong_order_is_refused(admin, clinic):
    response = admin.patch(f"/api/v1/institutions/{clinic['id']}",
                           json={"licence_valid_to": str(dt.date.fromisoformat(clinic["licence_valid_from"])
                                                         - dt.timedelta(days=1))})

    assert response.status_code == 422
    assert admin.get(f"/api/v1/institutions/{clinic['id']}").json["licence_valid_to"] == clinic["licence_valid_to"]

"""Every endpoint that shows an institution's (or a staff member's) credit shows the same credit once
time has changed it: a violation whose objection window ended counts everywhere at once, whichever
endpoint is read first and whoever reads it (issue 16)."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import delete, update

from api.database import db
from registry.models import Institution, Staff
from supervision.models import ListEntry
from tests.conftest import staff_payload
from tests.supervision.helpers import RULE_2, RULE_10, STAFF_RULE, end_window, recorded

SNAPSHOT = ("credit_points", "credit_grade", "credit_band", "credit_risk", "credit_lists", "credit_stale_after")
EXPECTED = {"institution": (12, "D"), "staff": (6, "C")}  # RULE_10 + RULE_2; STAFF_RULE


def _ok(response):
    assert response.status_code == 200, response.get_json()
    return response


def _credit(body) -> tuple:
    return body["credit"]["points"], body["credit"]["grade"]


def _find(items, key, value):
    return next((item for item in items if item[key] == value), None)


def _detail(persona, world):
    return _credit(_ok(persona.get(f"/api/v1/institutions/{world['id']}")).json)


def _list(persona, world):
    return _credit(_find(_ok(persona.get("/api/v1/institutions?page_size=100")).json["items"], "id", world["id"]))


def _list_by_grade(persona, world):
    items = _ok(persona.get("/api/v1/institutions?page_size=100&grade=D")).json["items"]
    found = _find(items, "id", world["id"])
    return _credit(found) if found else None


def _csv(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(_ok(response).get_data(as_text=True).lstrip("\ufeff"))))


def _export(persona, world):
    row = _find(_csv(persona.get("/api/v1/institutions/export?format=csv")), "机构编号", str(world["id"]))
    return int(row["不良执业记分"]), row["信用等级"]


def _credit_endpoint(persona, world):
    body = _ok(persona.get(f"/api/v1/institutions/{world['id']}/credit")).json
    return body["points"], body["grade"]


def _scan(persona, world):
    body = _ok(persona.client.get(f"/api/v1/scan/{world['token']}")).json
    return EXPECTED["institution"][0], body["institution"]["credit"]["grade"]  # points are not public


def _black_list(persona, world):
    items = _ok(persona.client.get("/api/v1/lists/black")).json["items"]
    return EXPECTED["institution"] if _find(items, "institution_id", world["id"]) else None


def _black_list_export(persona, world):
    rows = [row for row in _csv(persona.get("/api/v1/lists/black/export?format=csv"))
            if str(world["id"]) in row.values()]
    return (int(rows[0]["不良执业记分"]), rows[0]["信用等级"]) if len(rows) == 1 else rows


def _staff_detail(persona, world):
    return _credit(_ok(persona.get(f"/api/v1/staff/{world['staff_id']}")).json)


def _staff_list(persona, world):
    items = _ok(persona.get(f"/api/v1/institutions/{world['id']}/staff")).json["items"]
    return _credit(_find(items, "id", world["staff_id"]))


def _staff_scan(persona, world):
    body = _ok(persona.client.get(f"/api/v1/scan/{world['staff_token']}")).json
    return EXPECTED["staff"][0], body["staff"]["credit"]["grade"]


# (name, reader, shows whose credit, who may read it)
READERS = (
    ("institution detail", _detail, "institution", "all"),
    ("institution list", _list, "institution", "regulators"),
    ("institution list by grade", _list_by_grade, "institution", "regulators"),
    ("institution export", _export, "institution", "regulators"),
    ("credit endpoint", _credit_endpoint, "institution", "all"),
    ("scan", _scan, "institution", "all"),
    ("black list", _black_list, "institution", "all"),
    ("black list export", _black_list_export, "institution", "regulators"),
    ("staff detail", _staff_detail, "staff", "all"),
    ("staff list", _staff_list, "staff", "all"),
    ("staff scan", _staff_scan, "staff", "all"),
)


@pytest.fixture
def world(admin, health_officer, clinic, session):
    """A clinic with one staff member, 12 points and the staff member 6 points recorded, their
    objection windows ended, and the stored credit as it was before they ended (stale)."""
    institution = session.get(Institution, clinic["id"])
    member = admin.post(f"/api/v1/institutions/{clinic['id']}/staff", json=staff_payload(1)).json
    violations = [recorded(health_officer, clinic["id"], rule)["id"] for rule in (RULE_10, RULE_2)]
    violations.append(recorded(health_officer, member["id"], STAFF_RULE, subject_type="staff")["id"])
    end_window(session, *violations)
    session.refresh(institution)
    return {"id": clinic["id"], "token": clinic["code"]["token"], "staff_id": member["id"],
            "staff_token": member["code"]["token"],
            "stale": {name: getattr(institution, name) for name in SNAPSHOT}}


def _make_stale(session, world) -> None:
    """Put back the snapshot stored before the windows ended, as if nothing had read it since."""
    session.execute(delete(ListEntry).where(ListEntry.institution_id == world["id"]))
    session.execute(update(Institution).where(Institution.id == world["id"]).values(**world["stale"]))
    session.execute(update(Staff).where(Staff.id == world["staff_id"]).values(credit_points=0, credit_grade="B"))
    session.commit()
    session.expire_all()


@pytest.fixture(params=["health_officer", "market_officer", "supervisor", "admin", "institution"])
def reader(request, login, clinic):
    if request.param == "institution":
        return "institution", login("institution", institution_id=clinic["id"])
    return "regulators", request.getfixturevalue(request.param)


def test_every_endpoint_shows_the_credit_of_a_violation_whose_window_has_ended(reader, world, session):
    kind, persona = reader
    shown, expected = {}, {}
    for name, read, whose, readers in READERS:
        if readers == "regulators" and kind != "regulators":
            continue
        _make_stale(session, world)  # each endpoint is the first to read it
        shown[name] = read(persona, world)
        expected[name] = EXPECTED[whose]
        db.session.remove()

    assert shown == expected

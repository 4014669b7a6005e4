"""Inspection records: recording, what the scan shows (public inspections, public penalties of the
last five years), and the open lead an inspection closes."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from api.database import today_shanghai, utcnow
from supervision import inspections
from supervision.models import Inspection, Violation
from tests.api.helpers import assert_error
from tests.complaints.workflow_helpers import submit
from tests.supervision.helpers import INSPECTIONS, RULE_2, RULE_6, final_violation, recorded, scan


def _body(institution_id, **overrides) -> dict:
    return {"institution_id": institution_id, "inspected_on": str(today_shanghai()), "result": "pass",
            "summary": "现场检查，未发现违法违规行为", "public": True, **overrides}


def _inspect(persona, institution_id, **overrides):
    return persona.post(INSPECTIONS, json=_body(institution_id, **overrides))


def _inspected(persona, institution_id, **overrides) -> dict:
    response = _inspect(persona, institution_id, **overrides)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _count(session) -> int:
    return session.scalar(select(func.count()).select_from(Inspection))


def _profile(client, institution) -> dict:
    return scan(client, institution)["institution"]


def _leads(persona, **query) -> dict:
    response = persona.get("/api/v1/leads", query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _years_ago(years: int, days: int = 0) -> dt.date:
    today = today_shanghai()
    try:
        moved = today.replace(year=today.year - years)
    except ValueError:  # 29 February
        moved = today.replace(year=today.year - years, day=28)
    return moved + dt.timedelta(days=days)


# ---- recording ----------------------------------------------------------------------------------

def test_an_officer_records_an_inspection(health_officer, clinic):
    inspected_on = today_shanghai() - dt.timedelta(days=3)

    body = _inspected(health_officer, clinic["id"], inspected_on=str(inspected_on), result="rectify",
                      summary="医疗废物暂存不规范，责令整改", public=False)

    assert (body["institution_id"], body["inspected_on"], body["result"]) == (clinic["id"], str(inspected_on),
                                                                              "rectify")
    assert (body["summary"], body["public"]) == ("医疗废物暂存不规范，责令整改", False)
    assert (body["department"], body["officer_id"]) == ("health", health_officer.account.id)
    assert body["id"] and body["recorded_at"]
    listed = health_officer.get(INSPECTIONS, query_string={"institution_id": clinic["id"]}).get_json()
    assert [item["id"] for item in listed["items"]] == [body["id"]]


def test_an_inspection_in_the_future_is_refused(health_officer, clinic, session):
    response = _inspect(health_officer, clinic["id"], inspected_on=str(today_shanghai() + dt.timedelta(days=1)))

    assert "inspected_on" in assert_error(response, 422, "VALIDATION_FAILED")["fields"]
    assert _count(session) == 0


def test_an_inspection_of_an_unknown_institution_is_refused(health_officer, session):
    response = _inspect(health_officer, 987_654)

    assert "institution_id" in assert_error(response, 422, "VALIDATION_FAILED")["fields"]
    assert _count(session) == 0


def test_an_inspection_with_an_unknown_result_is_refused(health_officer, clinic, session):
    assert_error(_inspect(health_officer, clinic["id"], result="excellent"), 422, "VALIDATION_FAILED")
    assert _count(session) == 0


@pytest.mark.parametrize("role", ["institution", "citizen"])
def test_only_regulators_record_inspections(login, clinic, session, role):
    persona = login(role, institution_id=clinic["id"] if role == "institution" else None)

    assert_error(_inspect(persona, clinic["id"]), 403, "FORBIDDEN")
    assert _count(session) == 0


def test_an_institution_lists_only_its_own_inspections(health_officer, clinic, other_clinic, clinic_account):
    own = _inspected(health_officer, clinic["id"])
    _inspected(health_officer, other_clinic["id"])

    listed = clinic_account.get(INSPECTIONS, query_string={"institution_id": other_clinic["id"]}).get_json()

    assert [item["id"] for item in listed["items"]] == [own["id"]]


# ---- the scan profile ---------------------------------------------------------------------------

def test_a_public_inspection_shows_on_the_scan_profile(client, health_officer, clinic):
    assert _profile(client, clinic)["inspections"] == []
    inspected_on = today_shanghai() - dt.timedelta(days=2)

    _inspected(health_officer, clinic["id"], inspected_on=str(inspected_on), result="rectify", summary="病历书写不规范")

    assert _profile(client, clinic)["inspections"] == [
        {"date": str(inspected_on), "result": "rectify", "summary": "病历书写不规范", "departments": ["health"]}]


def test_a_non_public_inspection_does_not_show_on_the_scan_profile(client, health_officer, clinic):
    _inspected(health_officer, clinic["id"], public=False, summary="内部检查记录")

    assert _profile(client, clinic)["inspections"] == []


def test_the_profile_shows_the_last_five_public_inspections_newest_first(client, health_officer, clinic):
    for days in range(7):
        _inspected(health_officer, clinic["id"], inspected_on=str(today_shanghai() - dt.timedelta(days=days * 10)),
                   summary=f"第{days}次")

    shown = _profile(client, clinic)["inspections"]

    assert [item["summary"] for item in shown] == [f"第{days}次" for days in range(5)]


def test_another_institutions_inspection_does_not_show(client, health_officer, clinic, other_clinic):
    _inspected(health_officer, other_clinic["id"])

    assert _profile(client, clinic)["inspections"] == []


# ---- penalties on the profile -------------------------------------------------------------------

def test_a_final_public_penalty_shows_on_the_profile(client, health_officer, clinic, session):
    body = final_violation(health_officer, session, clinic["id"], RULE_6, decision_no="济卫罚〔2026〕12号")

    assert _profile(client, clinic)["penalties"] == [
        {"date": body["occurred_on"], "decision_no": "济卫罚〔2026〕12号", "summary": body["description"]}]


def test_a_pending_or_non_public_penalty_does_not_show(client, health_officer, clinic, session):
    recorded(health_officer, clinic["id"], RULE_6)  # pending
    final_violation(health_officer, session, clinic["id"], RULE_2, public=False)

    assert _profile(client, clinic)["penalties"] == []


def test_penalties_older_than_five_years_drop_off_the_profile(client, health_officer, clinic, session):
    old = final_violation(health_officer, session, clinic["id"], RULE_6, decision_no="旧决定")
    recent = final_violation(health_officer, session, clinic["id"], RULE_2, decision_no="近决定")
    session.get(Violation, old["id"]).occurred_on = _years_ago(5, days=-1)
    session.get(Violation, recent["id"]).occurred_on = _years_ago(5, days=1)
    session.commit()

    penalties = _profile(client, clinic)["penalties"]

    assert [item["decision_no"] for item in penalties] == ["近决定"]
    assert penalties[0]["date"] == str(_years_ago(5, days=1))


def test_the_five_year_window_works_on_a_leap_day(clinic, health_officer, session):
    body = final_violation(health_officer, session, clinic["id"], RULE_6, decision_no="闰日前决定")
    session.get(Violation, body["id"]).occurred_on = dt.date(2023, 3, 2)
    session.commit()

    _, penalties = inspections.public_record(session=session, institution_id=clinic["id"],
                                             today=dt.date(2028, 2, 29), now=utcnow())

    assert [item["decision_no"] for item in penalties] == ["闰日前决定"]


# ---- leads --------------------------------------------------------------------------------------

def test_recording_an_inspection_closes_the_institutions_open_lead(client, health_officer, clinic):
    submit(client, {"institution_id": clinic["id"]}, category="illegal_practice")
    (lead,) = _leads(health_officer)["items"]

    inspection = _inspected(health_officer, clinic["id"])

    assert _leads(health_officer)["total"] == 0
    (closed,) = _leads(health_officer, status="inspected")["items"]
    assert (closed["id"], closed["status"]) == (lead["id"], "inspected")
    assert closed["closed_at"]
    assert str(inspection["id"]) in closed["close_note"]


def test_an_inspection_of_another_institution_leaves_the_lead_open(client, health_officer, clinic, other_clinic):
    submit(client, {"institution_id": clinic["id"]}, category="illegal_practice")

    _inspected(health_officer, other_clinic["id"])

    (lead,) = _leads(health_officer)["items"]
    assert (lead["institution_id"], lead["status"]) == (clinic["id"], "open")


def test_a_refused_inspection_leaves_the_lead_open(client, health_officer, clinic):
    submit(client, {"institution_id": clinic["id"]}, category="illegal_practice")

    _inspect(health_officer, clinic["id"], inspected_on=str(today_shanghai() + dt.timedelta(days=1)))

    assert _leads(health_officer)["total"] == 1

"""Violations and points (不良记分): the rule table, recording, the objection window (异议) and the
supervisor's decision, and when points start to count."""

from __future__ import annotations

import datetime as dt

import chinese_calendar
import pytest
from sqlalchemy import func, select

from api.database import SHANGHAI, today_shanghai
from supervision.models import Violation
from tests.api.helpers import assert_error
from tests.conftest import staff_payload
from tests.supervision.helpers import (
    RULE_2,
    RULE_6,
    RULE_10,
    STAFF_RULE,
    VIOLATIONS,
    credit,
    decide,
    end_window,
    object_to,
    record,
    recorded,
    scan,
    violation,
)

RULES = "/api/v1/violations/rules"


def _count(session) -> int:
    return session.scalar(select(func.count()).select_from(Violation))


def _working_day(day: dt.date) -> bool:
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:  # a year chinese-calendar has no schedule for: weekends only
        return day.weekday() < 5


def _seventh_working_day_after(day: dt.date) -> dt.date:
    found = 0
    while found < 7:
        day += dt.timedelta(days=1)
        found += _working_day(day)
    return day


@pytest.fixture
def staff_member(admin, clinic) -> dict:
    response = admin.post(f"/api/v1/institutions/{clinic['id']}/staff", json=staff_payload(1))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@pytest.fixture
def pending(health_officer, clinic) -> dict:
    return recorded(health_officer, clinic["id"], RULE_6)


@pytest.fixture
def objected(pending, clinic_account) -> dict:
    response = object_to(clinic_account, pending["id"])
    assert response.status_code == 200, response.get_json()
    return response.get_json()


# ---- the rule table -----------------------------------------------------------------------------

def test_the_rule_table_lists_thirty_or_more_types_with_allowed_points_and_a_legal_basis(client):
    response = client.get(RULES)

    assert response.status_code == 200, response.get_json()
    rules = response.get_json()
    assert len(rules) >= 30
    assert len({rule["code"] for rule in rules}) == len(rules)
    assert {rule["points"] for rule in rules} <= {1, 2, 4, 6, 10}
    assert {rule["points"] for rule in rules} == {1, 2, 4, 6, 10}
    assert {rule["applies_to"] for rule in rules} == {"institution", "staff"}
    assert all(rule["description"].strip() and rule["basis"].strip() for rule in rules)
    assert "INS-CRD-01" in {rule["code"] for rule in rules if rule["applies_to"] == "institution"}


# ---- recording ----------------------------------------------------------------------------------

def test_a_recorded_violation_is_pending_until_the_end_of_the_seventh_working_day(health_officer, clinic):
    response = record(health_officer, clinic["id"], RULE_6, note="超范围开展口腔科诊疗", decision_no="济卫罚〔2026〕1号")

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["status"], body["rule_code"], body["points"]) == ("pending", RULE_6, 6)
    assert (body["subject_type"], body["subject_id"], body["institution_id"]) == ("institution", clinic["id"],
                                                                                  clinic["id"])
    recorded_on = dt.datetime.fromisoformat(body["recorded_at"]).astimezone(SHANGHAI).date()
    due = dt.datetime.fromisoformat(body["objection_due_at"])
    assert due.utcoffset() is not None
    local_due = due.astimezone(SHANGHAI)
    assert local_due.date() == _seventh_working_day_after(recorded_on)
    assert local_due.time() == dt.time.max
    assert violation(health_officer, body["id"])["status"] == "pending"


def test_an_unknown_rule_is_refused(health_officer, clinic, session):
    response = record(health_officer, clinic["id"], "INS-XXX-99")

    assert "rule_code" in assert_error(response, 422, "VALIDATION_FAILED")["fields"]
    assert _count(session) == 0


@pytest.mark.parametrize("subject", ["institution", "staff"])
def test_a_rule_for_the_other_kind_of_subject_is_refused(health_officer, clinic, staff_member, session, subject):
    subject_id, rule_code = (clinic["id"], STAFF_RULE) if subject == "institution" else (staff_member["id"], RULE_2)

    response = record(health_officer, subject_id, rule_code, subject_type=subject)

    assert "rule_code" in assert_error(response, 422, "VALIDATION_FAILED")["fields"]
    assert _count(session) == 0


def test_a_violation_that_has_not_happened_yet_is_refused(health_officer, clinic, session):
    response = record(health_officer, clinic["id"], occurred_on=today_shanghai() + dt.timedelta(days=1))

    assert "occurred_on" in assert_error(response, 422, "VALIDATION_FAILED")["fields"]
    assert _count(session) == 0


def test_a_violation_that_happened_today_is_accepted(health_officer, clinic):
    assert recorded(health_officer, clinic["id"], occurred_on=today_shanghai())["occurred_on"] == str(today_shanghai())


@pytest.mark.parametrize("subject", ["institution", "staff"])
def test_an_unknown_subject_is_refused(health_officer, clinic, session, subject):
    rule_code = RULE_2 if subject == "institution" else STAFF_RULE

    response = record(health_officer, 987_654, rule_code, subject_type=subject)

    assert "subject_id" in assert_error(response, 422, "VALIDATION_FAILED")["fields"]
    assert _count(session) == 0


def test_a_staff_violation_is_recorded_against_the_staff_member_and_not_the_institution(
        health_officer, admin, clinic, staff_member, session):
    body = recorded(health_officer, staff_member["id"], STAFF_RULE, subject_type="staff")
    assert (body["subject_type"], body["subject_id"], body["institution_id"]) == ("staff", staff_member["id"],
                                                                                  clinic["id"])
    end_window(session, body["id"])

    assert credit(admin, clinic["id"])["points"] == 0
    staff = admin.get(f"/api/v1/staff/{staff_member['id']}").get_json()
    assert staff["credit"]["points"] == 6


@pytest.mark.parametrize("role", ["institution", "citizen"])
def test_only_regulators_record_violations(login, clinic, session, role):
    persona = login(role, institution_id=clinic["id"] if role == "institution" else None)

    assert_error(record(persona, clinic["id"]), 403, "FORBIDDEN")
    assert _count(session) == 0


def test_recording_needs_a_login(client, clinic):
    response = client.post(VIOLATIONS, json={"subject_type": "institution", "subject_id": clinic["id"],
                                             "rule_code": RULE_2, "occurred_on": str(today_shanghai()),
                                             "public": True})

    assert_error(response, 401, "UNAUTHORIZED")


# ---- objection ----------------------------------------------------------------------------------

def test_the_institution_concerned_objects_to_a_pending_violation(pending, clinic_account, health_officer):
    response = object_to(clinic_account, pending["id"], reason="当日并未开展该项目")

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["status"], body["objection_reason"]) == ("objected", "当日并未开展该项目")
    assert body["objected_at"]
    assert violation(health_officer, pending["id"])["status"] == "objected"


def test_another_institution_can_neither_see_nor_object_to_a_violation(pending, other_clinic_account,
                                                                       health_officer):
    assert_error(other_clinic_account.get(f"{VIOLATIONS}/{pending['id']}"), 404, "NOT_FOUND")
    assert_error(object_to(other_clinic_account, pending["id"]), 404, "NOT_FOUND")

    assert violation(health_officer, pending["id"])["status"] == "pending"


def test_an_institution_objects_only_once(objected, clinic_account, health_officer):
    again = object_to(clinic_account, objected["id"], reason="再次异议")

    assert_error(again, 409, "INVALID_TRANSITION")
    assert violation(health_officer, objected["id"])["objection_reason"] != "再次异议"


def test_an_objection_after_the_window_is_refused_and_the_violation_is_final(pending, clinic_account,
                                                                             health_officer, session):
    end_window(session, pending["id"])

    assert_error(object_to(clinic_account, pending["id"]), 409, "INVALID_TRANSITION")

    body = violation(health_officer, pending["id"])
    assert (body["status"], body["objection_reason"]) == ("final", None)
    assert violation(clinic_account, pending["id"])["status"] == "final"


def test_regulators_cannot_object(pending, health_officer):
    assert_error(object_to(health_officer, pending["id"]), 403, "FORBIDDEN")


# ---- decision -----------------------------------------------------------------------------------

def test_a_supervisor_upholds_an_objected_violation_and_its_points_count_at_once(objected, supervisor,
                                                                                 health_officer, clinic):
    assert credit(health_officer, clinic["id"])["points"] == 0

    response = decide(supervisor, objected["id"], "upheld", note="证据确凿，维持记分")

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["status"], body["decision_note"]) == ("final", "证据确凿，维持记分")
    assert body["decided_at"]
    found = credit(health_officer, clinic["id"])
    assert (found["points"], found["grade"]) == (6, "C")


def test_a_supervisor_cancels_an_objected_violation_and_its_points_never_count(objected, supervisor,
                                                                               health_officer, clinic, session):
    response = decide(supervisor, objected["id"], "cancelled", note="证据不足，撤销记分")

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "cancelled"
    end_window(session, objected["id"])  # long after its window, it still does not count
    assert violation(health_officer, objected["id"])["status"] == "cancelled"
    found = credit(health_officer, clinic["id"])
    assert (found["points"], found["grade"]) == (0, "B")


@pytest.mark.parametrize("state", ["pending", "final"])
def test_deciding_a_violation_nobody_objected_to_is_an_invalid_transition(pending, supervisor, health_officer,
                                                                          session, state):
    if state == "final":
        end_window(session, pending["id"])

    assert_error(decide(supervisor, pending["id"], "cancelled"), 409, "INVALID_TRANSITION")
    assert violation(health_officer, pending["id"])["status"] == state


def test_a_decided_violation_cannot_be_decided_again(objected, supervisor, health_officer):
    assert decide(supervisor, objected["id"], "upheld").status_code == 200

    assert_error(decide(supervisor, objected["id"], "cancelled"), 409, "INVALID_TRANSITION")
    assert violation(health_officer, objected["id"])["status"] == "final"


@pytest.mark.parametrize("role", ["officer", "institution"])
def test_only_a_supervisor_decides(objected, login, clinic, health_officer, role):
    persona = login(role, department="health" if role == "officer" else None,
                    institution_id=clinic["id"] if role == "institution" else None)

    assert_error(decide(persona, objected["id"], "cancelled"), 403, "FORBIDDEN")
    assert violation(health_officer, objected["id"])["status"] == "objected"


def test_deciding_an_unknown_violation_is_not_found(supervisor):
    assert_error(decide(supervisor, 987_654, "upheld"), 404, "NOT_FOUND")


# ---- when points count ----------------------------------------------------------------------------

def test_pending_points_do_not_count(health_officer, clinic, client):
    recorded(health_officer, clinic["id"], RULE_10)
    recorded(health_officer, clinic["id"], RULE_6)

    found = credit(health_officer, clinic["id"])
    assert (found["points"], found["grade"], found["colour"]) == (0, "B", "green")
    assert scan(client, clinic)["institution"]["credit"]["grade"] == "B"


def test_objected_points_do_not_count_even_after_the_window(objected, health_officer, clinic, session):
    end_window(session, objected["id"])

    assert violation(health_officer, objected["id"])["status"] == "objected"
    assert credit(health_officer, clinic["id"])["points"] == 0


def test_points_count_on_the_next_credit_read_once_the_window_has_passed(health_officer, clinic, session):
    body = recorded(health_officer, clinic["id"], RULE_6)
    assert credit(health_officer, clinic["id"])["points"] == 0

    end_window(session, body["id"])  # time passes; no job runs

    found = credit(health_officer, clinic["id"])
    assert (found["points"], found["grade"], found["colour"]) == (6, "C", "yellow")


def test_points_count_on_the_next_scan_once_the_window_has_passed(health_officer, clinic, client, session):
    body = recorded(health_officer, clinic["id"], RULE_6)
    assert scan(client, clinic)["institution"]["credit"]["grade"] == "B"

    end_window(session, body["id"])  # time passes; no job runs

    profile = scan(client, clinic)
    assert (profile["colour"], profile["institution"]["credit"]["grade"]) == ("yellow", "C")


def test_only_the_final_violations_add_up(health_officer, supervisor, clinic, clinic_account, session):
    final = recorded(health_officer, clinic["id"], RULE_6)
    end_window(session, final["id"])
    upheld = recorded(health_officer, clinic["id"], RULE_2)
    object_to(clinic_account, upheld["id"])
    decide(supervisor, upheld["id"], "upheld")
    recorded(health_officer, clinic["id"], RULE_10)  # still pending
    still_objected = recorded(health_officer, clinic["id"], RULE_10)
    object_to(clinic_account, still_objected["id"])

    found = credit(health_officer, clinic["id"])

    assert (found["points"], found["grade"]) == (8, "C")
    listed = health_officer.get(VIOLATIONS, query_string={"institution_id": clinic["id"], "status": "final"})
    assert sorted(item["id"] for item in listed.get_json()["items"]) == sorted([final["id"], upheld["id"]])

"""Anonymous means anonymous to staff too (issue 15, defect 1): a citizen logged in when filing an
anonymous complaint keeps the case in /me/complaints, but nothing a regulator, an institution, the
audit log, a lead or an export shows links the case to the citizen's account (on SQLite and on
PostgreSQL, whose intake writes the first timeline entry in the case's own statement)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from complaints.models import ComplaintEvent
from tests.complaints.workflow_helpers import advance, case_url, complaint_body, stored_case
from tests.exchange.helpers import export


@pytest.fixture
def filed(client, clinic, citizen) -> dict:
    """The same logged-in citizen files an anonymous case and a named one about the clinic."""
    def file(**kwargs):
        response = citizen.post("/api/v1/complaints", json=complaint_body({"institution_id": clinic["id"]}, **kwargs))
        assert response.status_code == 201, response.get_json()
        return response.get_json()["tracking_no"]

    return {"anonymous": file(anonymous=True), "named": file(), "serious": file(
        category="insurance_fraud", anonymous=True)}


def _actor_ids(view: dict) -> set:
    return {entry.get("actor_id") for entry in view["timeline"]}


@pytest.mark.parametrize("who", ["health_officer", "health_supervisor", "admin"])
def test_no_regulator_sees_which_account_filed_an_anonymous_case(request, filed, citizen, who):
    regulator = request.getfixturevalue(who)

    view = regulator.get(case_url(filed["anonymous"])).get_json()

    assert view["timeline"][0]["action"] == "submit"
    assert view["timeline"][0]["actor_id"] is None
    assert view["contact"] is None
    assert citizen.account.id not in _actor_ids(view)


def test_the_anonymous_cases_intake_entry_is_stored_without_an_account(session, filed, citizen):
    """Not only hidden in the view: the account id is not in the timeline at all, so no later view,
    export or report can show it. The case itself keeps the link for /me/complaints."""
    case = stored_case(session, filed["anonymous"])
    (entry,) = session.scalars(select(ComplaintEvent).where(ComplaintEvent.complaint_id == case.id)).all()

    assert (entry.action, entry.actor_id) == ("submit", None)
    assert case.account_id == citizen.account.id


def test_the_named_case_of_the_same_citizen_shares_no_account_id_with_the_anonymous_one(filed, health_officer):
    anonymous = health_officer.get(case_url(filed["anonymous"])).get_json()
    named = health_officer.get(case_url(filed["named"])).get_json()

    assert named["contact"] is not None
    assert not (_actor_ids(anonymous) - {None}) & _actor_ids(named)


def test_the_citizen_still_finds_the_anonymous_case_in_my_complaints(filed, citizen):
    response = citizen.get("/api/v1/me/complaints")

    assert response.status_code == 200
    assert set(filed.values()) <= {item["tracking_no"] for item in response.get_json()["items"]}


def test_the_workflow_adds_only_staff_to_an_anonymous_cases_timeline(filed, citizen, health_supervisor,
                                                                    health_officer):
    advance(health_supervisor, filed["anonymous"], "resolved", handler_id=health_officer.account.id)

    view = health_officer.get(case_url(filed["anonymous"])).get_json()

    assert _actor_ids(view) == {None, health_supervisor.account.id}


def test_the_institution_sees_no_actor_of_an_anonymous_case(filed, clinic_account, health_supervisor,
                                                            health_officer, citizen):
    advance(health_supervisor, filed["anonymous"], "resolved", handler_id=health_officer.account.id)

    view = clinic_account.get(case_url(filed["anonymous"])).get_json()

    assert all("actor_id" not in entry for entry in view["timeline"])
    assert "account_id" not in view


def test_leads_audit_log_and_exports_do_not_name_the_citizen(filed, citizen, admin, health_officer):
    citizen_id = str(citizen.account.id)
    health_officer.get(case_url(filed["named"]))  # a contact read: the audit log's only kind of entry here

    reasons = [reason for lead in admin.get("/api/v1/leads").get_json()["items"] for reason in lead["reasons"]]
    audit = admin.get("/api/v1/audit-log").get_json()["items"]
    rows = export(health_officer, "/api/v1/complaints/export", "csv")

    assert reasons and all(set(reason) == {"kind", "detail", "at"} for reason in reasons)
    assert all(citizen_id not in reason["detail"].split() for reason in reasons)
    assert {entry["account_id"] for entry in audit} == {health_officer.account.id}
    assert not [header for header in rows[0] if "账号" in header or "account" in header.lower()]

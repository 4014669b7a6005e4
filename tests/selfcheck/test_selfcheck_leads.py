"""Leads from self-inspections: a non-compliant veto item at once; a rectification past due and a
missed quarter from the daily sweep, each reason once."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from api.database import SHANGHAI, today_shanghai
from leads import service as leads
from leads.models import Lead, LeadReason
from registry.models import Institution
from selfcheck import service
from selfcheck.models import SelfCheck
from tests.api.helpers import assert_error
from tests.conftest import institution_payload
from tests.selfcheck.conftest import SELFCHECKS, filed, first_code, plan

LEADS = "/api/v1/leads"


def _leads(persona, **query) -> list[dict]:
    response = persona.get(LEADS, query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def _reasons(session, institution_id) -> list[LeadReason]:
    """Every reason of every lead of the institution, as stored (with their refs)."""
    session.expire_all()
    return [r for lead in session.scalars(select(Lead).where(Lead.institution_id == institution_id))
            for r in lead.reasons]


def _sweep(session, today) -> int:
    changed = service.sweep_leads(session=session, today=today)
    session.commit()
    return changed


def _registered_on(session, institution_id, day: dt.date) -> None:
    institution = session.get(Institution, institution_id)
    institution.created_at = dt.datetime.combine(day, dt.time(9), tzinfo=SHANGHAI)
    session.commit()


# ---- a non-compliant veto item ----------------------------------------------------------------

def test_a_non_compliant_veto_item_opens_a_high_priority_lead_at_once(clinic, clinic_account, health_officer,
                                                                      general_template):
    veto = first_code(general_template, "veto")

    filing = filed(clinic_account, general_template, non_compliant={veto: plan()})

    assert filing["veto_count"] == 1
    (lead,) = _leads(health_officer)
    assert lead["institution_id"] == clinic["id"]
    assert lead["score"] >= leads.HIGH_PRIORITY and lead["priority"] == "high"
    (reason,) = lead["reasons"]
    assert reason["kind"] == "veto_item"
    assert veto in reason["detail"] and filing["period"] in reason["detail"]


def test_each_non_compliant_veto_item_is_a_reason(clinic_account, health_officer, general_template):
    vetoes = [item["code"] for item in general_template["items"] if item["tier"] == "veto"][:2]

    filed(clinic_account, general_template, non_compliant={code: plan() for code in vetoes})

    (lead,) = _leads(health_officer)
    assert [r["kind"] for r in lead["reasons"]] == ["veto_item", "veto_item"]
    assert all(code in r["detail"] for code, r in zip(vetoes, lead["reasons"], strict=True))


@pytest.mark.parametrize("tier", ["key", "major", "general"])
def test_a_non_compliant_item_below_veto_opens_no_lead(session, clinic, clinic_account, health_officer,
                                                       general_template, tier):
    filing = filed(clinic_account, general_template, non_compliant={first_code(general_template, tier): plan()})

    assert (filing["non_compliant_count"], filing["veto_count"]) == (1, 0)
    assert _leads(health_officer) == []
    assert _reasons(session, clinic["id"]) == []


def test_a_compliant_filing_opens_no_lead(session, clinic, clinic_account, health_officer, general_template):
    filed(clinic_account, general_template)

    assert _leads(health_officer) == []


def test_a_corrected_revision_repeating_the_veto_item_does_not_add_it_twice(clinic_account, health_officer,
                                                                           general_template):
    veto = first_code(general_template, "veto")
    first = filed(clinic_account, general_template, non_compliant={veto: plan()})
    returned = health_officer.post(f"{SELFCHECKS}/{first['id']}/review", json={"decision": "returned", "note": "请补充"})
    assert returned.status_code == 200, returned.get_json()

    second = filed(clinic_account, general_template, non_compliant={veto: plan()})

    assert second["revision"] == 2
    (lead,) = _leads(health_officer)
    assert [r["kind"] for r in lead["reasons"]] == ["veto_item"]


# ---- a rectification past due -----------------------------------------------------------------

@pytest.fixture
def due_filing(clinic_account, general_template) -> dict:
    """A filing with one non-compliant `major` item due in 7 days."""
    code = first_code(general_template, "major")
    due = today_shanghai() + dt.timedelta(days=7)
    filing = filed(clinic_account, general_template, non_compliant={code: plan(due)})
    return filing | {"_code": code, "_due": due}


def test_a_rectification_past_due_becomes_a_lead_reason_once(session, clinic, health_officer, due_filing):
    assert _sweep(session, due_filing["_due"]) == 0  # due today: not late yet
    assert _leads(health_officer) == []

    assert _sweep(session, due_filing["_due"] + dt.timedelta(days=1)) == 1

    (lead,) = _leads(health_officer)
    assert lead["institution_id"] == clinic["id"]
    (reason,) = lead["reasons"]
    assert reason["kind"] == "rectification_overdue"
    assert due_filing["_code"] in reason["detail"] and str(due_filing["_due"]) in reason["detail"]
    assert lead["score"] == leads.WEIGHTS["rectification_overdue"]

    assert _sweep(session, due_filing["_due"] + dt.timedelta(days=2)) == 0
    assert [r["kind"] for r in _leads(health_officer)[0]["reasons"]] == ["rectification_overdue"]


def test_a_rectified_item_is_not_overdue(session, clinic, clinic_account, health_officer, due_filing):
    response = clinic_account.post(f"{SELFCHECKS}/{due_filing['id']}/rectifications",
                                   json={"item_code": due_filing["_code"], "done_on": str(today_shanghai()),
                                         "note": "已整改"})
    assert response.status_code == 201, response.get_json()

    assert _sweep(session, due_filing["_due"] + dt.timedelta(days=30)) == 0
    assert _leads(health_officer) == []
    assert _reasons(session, clinic["id"]) == []


def test_an_overdue_reason_does_not_come_back_after_its_lead_was_dismissed(session, clinic, login, due_filing):
    supervisor = login("supervisor", department="health")
    _sweep(session, due_filing["_due"] + dt.timedelta(days=1))
    (lead,) = _leads(supervisor)
    assert supervisor.post(f"{LEADS}/{lead['id']}/dismiss", json={"note": "已现场核实"}).status_code == 200

    assert _sweep(session, due_filing["_due"] + dt.timedelta(days=2)) == 0
    assert _leads(supervisor) == []


def test_an_overdue_item_of_a_returned_filing_is_not_a_reason(session, clinic, health_officer, due_filing):
    returned = health_officer.post(f"{SELFCHECKS}/{due_filing['id']}/review",
                                   json={"decision": "returned", "note": "重报"})
    assert returned.status_code == 200, returned.get_json()

    assert _sweep(session, due_filing["_due"] + dt.timedelta(days=1)) == 0
    assert _reasons(session, clinic["id"]) == []


# ---- a missed quarter -------------------------------------------------------------------------

def test_a_missed_quarter_becomes_a_lead_reason_after_its_deadline(session, clinic, health_officer):
    _registered_on(session, clinic["id"], dt.date(2026, 6, 15))

    assert _sweep(session, dt.date(2026, 10, 31)) == 0  # the deadline for Q3 is 31 October
    assert _reasons(session, clinic["id"]) == []

    assert _sweep(session, dt.date(2026, 11, 1)) == 1

    (lead,) = _leads(health_officer)
    (reason,) = lead["reasons"]
    assert reason["kind"] == "missed_selfcheck"
    assert "2026-Q3" in reason["detail"]
    assert _sweep(session, dt.date(2026, 11, 2)) == 0
    assert len(_reasons(session, clinic["id"])) == 1


def test_an_institution_that_filed_the_quarter_has_not_missed_it(session, clinic, clinic_account, general_template):
    _registered_on(session, clinic["id"], dt.date(2026, 6, 15))
    filed(clinic_account, general_template, "2026-Q3")

    assert _sweep(session, dt.date(2026, 11, 1)) == 0
    assert _reasons(session, clinic["id"]) == []


def test_a_full_year_filing_submitted_during_the_quarter_counts_for_it(session, clinic, clinic_account,
                                                                       general_template):
    _registered_on(session, clinic["id"], dt.date(2026, 6, 15))
    filing = filed(clinic_account, general_template, "2026")
    row = session.get(SelfCheck, filing["id"])
    row.submitted_at = dt.datetime(2026, 8, 10, 10, tzinfo=SHANGHAI)
    session.commit()

    assert _sweep(session, dt.date(2026, 11, 1)) == 0
    assert _reasons(session, clinic["id"]) == []


def test_a_full_year_filing_submitted_after_the_deadline_does_not_cover_the_quarter(session, clinic,
                                                                                   clinic_account,
                                                                                   general_template):
    _registered_on(session, clinic["id"], dt.date(2026, 6, 15))
    filing = filed(clinic_account, general_template, "2026")
    row = session.get(SelfCheck, filing["id"])
    row.submitted_at = dt.datetime(2026, 11, 5, 10, tzinfo=SHANGHAI)
    session.commit()

    assert _sweep(session, dt.date(2026, 11, 6)) == 1
    assert [r.kind for r in _reasons(session, clinic["id"])] == ["missed_selfcheck"]


def test_an_institution_registered_during_the_quarter_has_not_missed_it(session, clinic):
    _registered_on(session, clinic["id"], dt.date(2026, 8, 1))

    assert _sweep(session, dt.date(2026, 11, 1)) == 0
    assert _reasons(session, clinic["id"]) == []


def test_a_closed_institution_has_not_missed_a_quarter(session, clinic):
    _registered_on(session, clinic["id"], dt.date(2026, 6, 15))
    session.get(Institution, clinic["id"]).status = "closed"
    session.commit()

    assert _sweep(session, dt.date(2026, 11, 1)) == 0


# ---- running the sweep ------------------------------------------------------------------------

@pytest.fixture
def long_registered(admin, session):
    """An institution registered years ago that never filed: it has missed the last quarter past due."""
    made = admin.post("/api/v1/institutions", json=institution_payload(5, name="老诊所")).get_json()
    _registered_on(session, made["id"], dt.date(2020, 1, 2))
    return made


@pytest.mark.parametrize("role", ["supervisor", "admin"])
def test_supervisors_and_admins_run_the_sweep(login, health_officer, long_registered, role):
    persona = login(role, department="health" if role == "supervisor" else None)

    response = persona.post(f"{LEADS}/refresh")

    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"institutions": 1}
    (lead,) = _leads(health_officer)
    assert (lead["institution_id"], [r["kind"] for r in lead["reasons"]]) == (long_registered["id"],
                                                                             ["missed_selfcheck"])
    assert persona.post(f"{LEADS}/refresh").get_json() == {"institutions": 0}


@pytest.mark.parametrize("role, department", [("officer", "health"), ("officer", "market"), ("citizen", None)])
def test_officers_cannot_run_the_sweep(session, login, long_registered, role, department):
    persona = login(role, department=department)

    assert_error(persona.post(f"{LEADS}/refresh"), 403, "FORBIDDEN")
    assert _reasons(session, long_registered["id"]) == []


def test_an_institution_cannot_run_the_sweep(session, clinic_account, long_registered):
    assert_error(clinic_account.post(f"{LEADS}/refresh"), 403, "FORBIDDEN")
    assert_error(clinic_account.get(LEADS), 403, "FORBIDDEN")


def test_the_refresh_leads_command_runs_the_sweep(app, session, health_officer, long_registered):
    result = app.test_cli_runner().invoke(args=["refresh-leads"])

    assert result.exit_code == 0, result.output
    assert "1 institution(s)" in result.output
    assert [r.kind for r in _reasons(session, long_registered["id"])] == ["missed_selfcheck"]

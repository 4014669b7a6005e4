"""Inspection leads (线索) from complaints: when one opens, how it is scored, listed and dismissed."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError

from api.database import db, utcnow
from leads import service as leads
from leads.models import Lead
from supervision import leads as lead_review
from tests.api.helpers import assert_error
from tests.complaints.workflow_helpers import submit, update_case
from tests.conftest import institution_payload

LEADS = "/api/v1/leads"
SERIOUS = ["illegal_practice", "insurance_fraud", "medical_violence"]


def _complain(client, institution, times=1, **kwargs) -> list[str]:
    return [submit(client, {"institution_id": institution["id"]}, **kwargs)["tracking_no"] for _ in range(times)]


def _open_leads(persona, **query) -> dict:
    response = persona.get(LEADS, query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _only_lead(persona) -> dict:
    page = _open_leads(persona)
    assert page["total"] == 1, page
    return page["items"][0]


def _numbers(lead: dict) -> list[str]:
    return [reason["detail"].split()[0] for reason in lead["reasons"]]


def _dismiss(persona, lead_id, **data):
    return persona.post(f"{LEADS}/{lead_id}/dismiss", json=data)


# ---- opening a lead ---------------------------------------------------------------------------

def test_two_complaints_in_30_days_make_no_lead(client, clinic, health_officer, session):
    _complain(client, clinic, 2)

    assert _open_leads(health_officer)["total"] == 0
    assert lead_review.open_lead_for(session=session, institution_id=clinic["id"]) is None


def test_the_third_complaint_in_30_days_opens_a_lead_with_three_reasons(client, clinic, health_officer):
    numbers = _complain(client, clinic, 3)

    lead = _only_lead(health_officer)

    assert (lead["institution_id"], lead["institution_name"]) == (clinic["id"], clinic["name"])
    assert lead["status"] == "open"
    assert lead["score"] == 30
    assert [r["kind"] for r in lead["reasons"]] == ["complaint"] * 3
    assert _numbers(lead) == numbers
    assert all(r["at"] for r in lead["reasons"])


def test_a_fourth_complaint_joins_the_open_lead(client, clinic, health_officer):
    numbers = _complain(client, clinic, 4)

    lead = _only_lead(health_officer)

    assert lead["score"] == 40
    assert len(lead["reasons"]) == 4
    assert _numbers(lead) == numbers


def test_joining_the_open_lead_changes_only_its_score_and_reasons(client, clinic, health_officer, session):
    _complain(client, clinic, 3)
    columns = (Lead.id, Lead.institution_id, Lead.status, Lead.place_name, Lead.place_address, Lead.opened_at,
               Lead.closed_at, Lead.closed_by_id, Lead.close_note)
    before = session.execute(select(*columns)).one()

    _complain(client, clinic, 2)

    session.expire_all()
    assert session.execute(select(*columns)).one() == before
    lead = session.get(Lead, before.id)
    assert lead.score == 50
    assert [r.kind for r in lead.reasons] == ["complaint"] * 5


def test_complaints_about_different_institutions_do_not_add_up(client, clinic, second_clinic, health_officer):
    _complain(client, clinic, 2)
    _complain(client, second_clinic, 2)

    assert _open_leads(health_officer)["total"] == 0


def test_complaints_older_than_30_days_do_not_count(client, clinic, health_officer, session):
    old = _complain(client, clinic, 2)
    for number in old:
        update_case(session, number, submitted_at=utcnow() - dt.timedelta(days=31))

    first_new = _complain(client, clinic)
    assert _open_leads(health_officer)["total"] == 0

    newer = _complain(client, clinic, 2)
    lead = _only_lead(health_officer)
    assert _numbers(lead) == first_new + newer
    assert lead["score"] == 30


def test_complaints_within_30_days_count_even_when_weeks_old(client, clinic, health_officer, session):
    old = _complain(client, clinic, 2)
    for number in old:
        update_case(session, number, submitted_at=utcnow() - dt.timedelta(days=29))

    new = _complain(client, clinic)

    lead = _only_lead(health_officer)
    assert _numbers(lead) == old + new


@pytest.mark.parametrize("category", SERIOUS)
def test_a_single_complaint_in_a_serious_category_opens_a_high_priority_lead(client, clinic, health_officer,
                                                                             category):
    number = _complain(client, clinic, category=category)

    lead = _only_lead(health_officer)

    assert lead["institution_id"] == clinic["id"]
    assert [r["kind"] for r in lead["reasons"]] == ["serious_complaint"]
    assert _numbers(lead) == number
    assert lead["score"] == leads.WEIGHTS["serious_complaint"] == 40
    assert lead["priority"] == "high"


def test_a_serious_complaint_through_the_scanned_code_opens_a_lead_for_the_institution(client, clinic,
                                                                                       health_officer):
    submit(client, {"code_token": clinic["code"]["token"]}, category="illegal_practice")

    assert _only_lead(health_officer)["institution_id"] == clinic["id"]


def test_a_serious_complaint_joins_an_open_complaints_lead(client, clinic, health_officer):
    _complain(client, clinic, 3)
    _complain(client, clinic, category="medical_violence")

    lead = _only_lead(health_officer)

    assert [r["kind"] for r in lead["reasons"]] == ["complaint"] * 3 + ["serious_complaint"]
    assert lead["score"] == 70


def test_an_unlicensed_place_reported_for_illegal_practice_gets_a_lead_without_institution(client,
                                                                                          health_officer):
    place = {"name": "无名诊所", "address": "历城区某村 3 号"}
    submit(client, place, category="illegal_practice")

    lead = _only_lead(health_officer)

    assert lead["institution_id"] is None
    assert lead["unlicensed"] is True
    assert (lead["institution_name"], lead["address"]) == (place["name"], place["address"])
    assert [r["kind"] for r in lead["reasons"]] == ["serious_complaint"]
    assert lead["score"] == 40


def test_an_unlicensed_place_with_an_ordinary_complaint_gets_no_lead(client, health_officer):
    for _ in range(3):
        submit(client, {"name": "无名诊所", "address": "历城区某村 3 号"})

    assert _open_leads(health_officer)["total"] == 0


# ---- listing ----------------------------------------------------------------------------------

def test_leads_are_listed_highest_score_first_and_paged(client, admin, clinic, second_clinic, health_officer):
    third = admin.post("/api/v1/institutions", json=institution_payload(3, name="第三诊所")).get_json()
    _complain(client, clinic, 3)  # 30
    _complain(client, second_clinic, category="illegal_practice")  # 40 ...
    _complain(client, second_clinic)  # ... + 10 = 50
    _complain(client, third, 4)  # 40

    first = _open_leads(health_officer, page_size=2)
    second = _open_leads(health_officer, page_size=2, page=2)

    assert (first["total"], first["page"], first["page_size"]) == (3, 1, 2)
    listed = first["items"] + second["items"]
    assert [(lead["institution_id"], lead["score"]) for lead in listed] == [
        (second_clinic["id"], 50), (third["id"], 40), (clinic["id"], 30)]


def test_leads_filter_by_minimum_score(client, clinic, second_clinic, health_officer):
    _complain(client, clinic, 3)  # 30
    _complain(client, second_clinic, category="medical_violence")  # 40

    page = _open_leads(health_officer, min_score=40)

    assert [lead["institution_id"] for lead in page["items"]] == [second_clinic["id"]]


def test_leads_filter_by_institution(client, clinic, second_clinic, health_officer):
    _complain(client, clinic, 3)
    _complain(client, second_clinic, category="medical_violence")

    page = _open_leads(health_officer, institution_id=clinic["id"])

    assert [lead["institution_id"] for lead in page["items"]] == [clinic["id"]]


@pytest.mark.parametrize(("role", "department"), [("officer", "market"), ("supervisor", "health"), ("admin", None)])
def test_regulators_list_leads(client, clinic, login, role, department):
    _complain(client, clinic, category="insurance_fraud")

    page = _open_leads(login(role, department=department))

    assert [lead["institution_id"] for lead in page["items"]] == [clinic["id"]]


def test_institutions_and_citizens_cannot_list_leads(client, clinic, clinic_account, login):
    _complain(client, clinic, category="insurance_fraud")

    assert_error(clinic_account.get(LEADS), 403, "FORBIDDEN")
    assert_error(login("citizen").get(LEADS), 403, "FORBIDDEN")
    assert_error(client.get(LEADS), 401, "UNAUTHORIZED")


@contextlib.contextmanager
def counting_queries():
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def test_listing_leads_costs_the_same_queries_for_one_or_many_leads(client, admin, health_officer, session):
    institutions = [admin.post("/api/v1/institutions", json=institution_payload(n)).get_json() for n in range(1, 8)]
    _complain(client, institutions[0], category="illegal_practice")
    session.expire_all()

    with counting_queries() as few:
        one = _open_leads(health_officer)
    for institution in institutions[1:]:
        _complain(client, institution, category="illegal_practice")
    submit(client, {"name": "无名诊所", "address": "某村 1 号"}, category="illegal_practice")
    session.expire_all()
    with counting_queries() as many:
        eight = _open_leads(health_officer)

    assert (one["total"], eight["total"]) == (1, 8)
    assert all(lead["institution_name"] for lead in eight["items"])
    assert len(few) == len(many), many
    assert 1 <= len(many) <= 6, many


# ---- dismissing -------------------------------------------------------------------------------

@pytest.fixture
def lead(client, clinic, health_officer):
    numbers = _complain(client, clinic, 3)
    found = _only_lead(health_officer)
    found["numbers"] = numbers
    return found


@pytest.mark.parametrize("data", [{}, {"note": ""}, {"note": "   "}])
def test_dismissing_needs_a_note(lead, supervisor, health_officer, data):
    response = _dismiss(supervisor, lead["id"], **data)

    assert "note" in assert_error(response, 422, "VALIDATION_FAILED")["fields"]
    assert _only_lead(health_officer)["status"] == "open"


def test_an_officer_cannot_dismiss_a_lead(lead, health_officer):
    assert_error(_dismiss(health_officer, lead["id"], note="无需检查"), 403, "FORBIDDEN")
    assert _only_lead(health_officer)["status"] == "open"


@pytest.mark.parametrize("who", ["supervisor", "admin"])
def test_a_supervisor_or_admin_dismisses_a_lead(lead, health_officer, supervisor, admin, who):
    persona = {"supervisor": supervisor, "admin": admin}[who]

    response = _dismiss(persona, lead["id"], note="经电话核实，已整改")

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["id"], body["status"], body["close_note"]) == (lead["id"], "dismissed", "经电话核实，已整改")
    assert body["closed_at"]
    assert _open_leads(health_officer)["total"] == 0
    dismissed = _open_leads(health_officer, status="dismissed")
    assert [item["id"] for item in dismissed["items"]] == [lead["id"]]


def test_dismissing_twice_is_an_invalid_transition(lead, supervisor):
    assert _dismiss(supervisor, lead["id"], note="无需检查").status_code == 200

    again = _dismiss(supervisor, lead["id"], note="再次驳回")

    assert_error(again, 409, "INVALID_TRANSITION")
    assert _open_leads(supervisor, status="dismissed")["items"][0]["close_note"] == "无需检查"


def test_dismissing_an_unknown_lead_is_not_found(supervisor):
    assert_error(_dismiss(supervisor, 999_999, note="无需检查"), 404, "NOT_FOUND")


def test_after_dismissal_only_three_new_complaints_open_a_new_lead(client, clinic, lead, supervisor,
                                                                   health_officer):
    assert _dismiss(supervisor, lead["id"], note="已核实").status_code == 200

    new = _complain(client, clinic, 2)
    # With the three dismissed ones these are five in 30 days, but the dismissed ones were dealt with.
    assert _open_leads(health_officer)["total"] == 0

    new += _complain(client, clinic)
    reopened = _only_lead(health_officer)
    assert reopened["id"] != lead["id"]
    assert _numbers(reopened) == new
    assert reopened["score"] == 30


# ---- the database and the score ---------------------------------------------------------------

def test_the_database_refuses_two_open_leads_for_one_institution(clinic, session):
    session.add(Lead(institution_id=clinic["id"], score=0))
    session.flush()
    session.add(Lead(institution_id=clinic["id"], score=0))

    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


def test_the_database_allows_closed_leads_beside_the_open_one(clinic, session):
    closed = Lead(institution_id=clinic["id"], score=0, status="dismissed", closed_at=utcnow())
    session.add_all([closed, Lead(institution_id=clinic["id"], score=0),
                     Lead(institution_id=clinic["id"], score=0, status="inspected", closed_at=utcnow())])
    session.commit()

    statuses = session.scalars(select(Lead.status).where(Lead.institution_id == clinic["id"])).all()
    assert sorted(statuses) == ["dismissed", "inspected", "open"]


def test_unlicensed_places_may_each_have_an_open_lead(session):
    session.add_all([Lead(place_name="甲", place_address="某村 1 号", score=40),
                     Lead(place_name="乙", place_address="某村 2 号", score=40)])
    session.commit()

    assert len(session.scalars(select(Lead).where(Lead.status == "open")).all()) == 2


def test_add_reasons_adds_to_the_open_lead_instead_of_opening_another(clinic, session):
    now = utcnow()
    first = leads.add_reasons(session=session, institution_id=clinic["id"],
                              reasons=[leads.reason("complaint", "TS1 投诉", now, ref="TS1")])
    second = leads.add_reasons(session=session, institution_id=clinic["id"],
                               reasons=[leads.reason("commitment_breach", "违背承诺", now),
                                        leads.reason("complaint", "TS1 投诉", now, ref="TS1")])  # known ref

    assert second == first
    lead = session.get(Lead, first)
    assert [r.kind for r in lead.reasons] == ["complaint", "commitment_breach"]
    assert lead.score == 40


def test_the_score_is_the_sum_of_the_weights():
    now = utcnow()
    reasons = [leads.reason("complaint", "a", now), leads.reason("serious_complaint", "b", now),
               leads.reason("missed_selfcheck", "c", now)]

    assert leads.score(reasons) == 10 + 40 + 20


def test_the_score_is_capped_at_100():
    now = utcnow()

    assert leads.score([leads.reason("complaint", str(n), now) for n in range(10)]) == 100
    assert leads.score([leads.reason("complaint", str(n), now) for n in range(11)]) == 100
    assert leads.score([leads.reason("veto_item", "v", now)] * 3) == 100


def test_a_lead_with_many_complaints_shows_a_score_of_100(client, clinic, health_officer):
    _complain(client, clinic, 11)

    lead = _only_lead(health_officer)

    assert len(lead["reasons"]) == 11
    assert lead["score"] == 100


def test_an_unknown_reason_kind_is_refused():
    with pytest.raises(ValueError):
        leads.reason("rumour", "听说", utcnow())


def test_rescoring_from_the_old_score_equals_scoring_all_the_reasons():
    now = utcnow()
    kinds = list(leads.WEIGHTS)
    for before in itertools.product(kinds, repeat=2):
        for added in itertools.combinations_with_replacement(kinds, 2):
            old = [leads.reason(kind, "x", now) for kind in before]
            new = [leads.reason(kind, "x", now) for kind in added]
            assert leads.rescore(leads.score(old), list(added)) == leads.score(old + new)

"""Joint inspection records: one visit, one record, each department's findings, legal review of penalties."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from api.database import today_shanghai, utcnow
from leads import service as leads
from leads.models import Lead
from supervision.models import Inspection, InspectionPlan, PlanDepartment, PlanItem
from tests.supervision.helpers import DRAWS, INSPECTIONS, credit, new_institution, scan

TODAY = today_shanghai()



@pytest.fixture(autouse=True)
def _today_of_this_test():
    """TODAY as of this test, not of the collection: a run may cross midnight in Beijing (16:00 UTC)
    between the two (conftest's guard only keeps a test from starting in its last minute)."""
    global TODAY
    TODAY = today_shanghai()


@pytest.fixture
def market_supervisor(login):
    return login("supervisor", department="market")


@pytest.fixture
def ecology_officer(login):
    return login("officer", department="ecology")


@pytest.fixture
def complaint_lead(session, clinic) -> int:
    """An open lead on the clinic: a serious complaint."""
    lead_id = leads.add_reasons(session=session, institution_id=clinic["id"],
                                reasons=[leads.reason("serious_complaint", "无证行医", utcnow(), ref="TS-1")])
    session.commit()
    return lead_id


def _body(institution_id: int, **extra) -> dict:
    return {"institution_id": institution_id, "inspected_on": str(TODAY), "summary": "卫健、市场监管联合检查",
            "public": True, **extra}


def _joint(persona, institution_id: int, findings: list[dict], departments=("health", "market"), **extra):
    return persona.post(INSPECTIONS, json=_body(institution_id, departments=list(departments), findings=findings,
                                                **extra))


def _joint_recorded(persona, institution_id: int, findings: list[dict], **extra) -> dict:
    response = _joint(persona, institution_id, findings, **extra)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _finding(department: str, result: str = "pass", note: str = "未发现问题", **extra) -> dict:
    return {"department": department, "result": result, "note": note, **extra}


def _review(persona, inspection_id: int, decision: str = "approved", note: str = "事实清楚，证据确凿", **extra):
    return persona.post(f"{INSPECTIONS}/{inspection_id}/legal-review", json={"decision": decision, "note": note,
                                                                            **extra})


def _count(session) -> int:
    return session.scalar(select(func.count()).select_from(Inspection))


# ---- one visit, one record --------------------------------------------------------------------------

def test_a_joint_visit_is_one_record_with_each_departments_findings_and_the_most_severe_result(
        clinic, health_officer, market_officer, session):
    record = _joint_recorded(health_officer, clinic["id"], [
        _finding("health"), _finding("market", "rectify", "价格公示不全")], inspector_ids=[market_officer.account.id])

    assert record["departments"] == ["health", "market"]
    assert (record["result"], record["status"]) == ("rectify", "recorded")
    assert {(i["account_id"], i["department"]) for i in record["inspectors"]} == {
        (health_officer.account.id, "health"), (market_officer.account.id, "market")}
    assert [(f["department"], f["result"]) for f in record["findings"]] == [("health", "pass"), ("market", "rectify")]
    assert record["published_at"] is not None
    assert _count(session) == 1


def test_an_officer_of_a_department_on_the_record_adds_its_findings_and_joins_the_inspectors(
        clinic, health_officer, login):
    market_officer = login("officer", department="market")  # not named when the visit was recorded
    record = _joint_recorded(health_officer, clinic["id"], [_finding("health")])
    assert record["result"] == "pass"

    response = market_officer.post(f"{INSPECTIONS}/{record['id']}/findings", json={"findings": [
        _finding("market", "rectify", "未按规定明码标价")]})

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["result"] == "rectify"
    assert market_officer.account.id in body["inspector_ids"]


def test_a_department_not_on_the_record_may_not_add_findings(clinic, health_officer, ecology_officer, session):
    record = _joint_recorded(health_officer, clinic["id"], [_finding("health")])

    response = ecology_officer.post(f"{INSPECTIONS}/{record['id']}/findings", json={"findings": [
        _finding("ecology", "penalty", "医疗废物混入生活垃圾")]})

    assert response.status_code == 403
    assert response.get_json()["code"] == "FORBIDDEN"
    assert session.get(Inspection, record["id"]).result == "pass"


def test_an_officer_adds_only_its_own_departments_findings(clinic, health_officer, market_officer):
    record = _joint_recorded(health_officer, clinic["id"], [_finding("health")])

    response = market_officer.post(f"{INSPECTIONS}/{record['id']}/findings", json={"findings": [
        _finding("health", "rectify")]})

    assert response.status_code == 403


def test_an_officer_may_not_record_a_visit_its_department_was_not_on(clinic, ecology_officer, session):
    response = _joint(ecology_officer, clinic["id"], [_finding("health")])

    assert response.status_code == 403
    assert _count(session) == 0


def test_a_finding_of_a_department_not_on_the_record_is_refused_and_nothing_is_stored(
        clinic, health_officer, session, complaint_lead):
    response = _joint(health_officer, clinic["id"], [_finding("health"), _finding("ecology", "rectify")])

    assert response.status_code == 422
    assert list(response.get_json()["fields"]) == ["findings.1.department"]
    assert _count(session) == 0
    assert session.get(Lead, complaint_lead).status == "open"  # nothing half-written: the lead stays open


def test_a_result_that_is_not_the_most_severe_finding_is_refused(clinic, health_officer):
    response = _joint(health_officer, clinic["id"], [_finding("health"), _finding("market", "rectify")],
                      result="pass")

    assert response.status_code == 422
    assert "result" in response.get_json()["fields"]


def test_a_record_without_findings_or_result_is_refused(clinic, health_officer):
    response = health_officer.post(INSPECTIONS, json=_body(clinic["id"]))

    assert response.status_code == 422
    assert "result" in response.get_json()["fields"]


def test_inspectors_must_be_active_officers_of_a_department_on_the_record(clinic, health_officer, ecology_officer,
                                                                          clinic_account):
    for wrong in (ecology_officer.account.id, clinic_account.account.id, 999_999):
        response = _joint(health_officer, clinic["id"], [_finding("health")], inspector_ids=[wrong])
        assert response.status_code == 422, wrong
        assert str(wrong) in response.get_json()["fields"]["inspector_ids"][0]


def test_the_single_department_form_still_records_one_finding(clinic, health_officer):
    response = health_officer.post(INSPECTIONS, json=_body(clinic["id"], result="rectify"))

    assert response.status_code == 201
    record = response.get_json()
    assert record["departments"] == ["health"]
    assert [(f["department"], f["result"], f["note"]) for f in record["findings"]] == [
        ("health", "rectify", "卫健、市场监管联合检查")]


# ---- who reads records ------------------------------------------------------------------------------

def test_the_institution_reads_its_own_record_and_not_anothers(clinic, clinic_account, second_clinic, health_officer,
                                                               login):
    own = _joint_recorded(health_officer, clinic["id"], [_finding("health")])
    other = _joint_recorded(health_officer, second_clinic["id"], [_finding("market", "rectify")])

    assert clinic_account.get(f"{INSPECTIONS}/{own['id']}").status_code == 200
    assert clinic_account.get(f"{INSPECTIONS}/{other['id']}").status_code == 404
    listed = clinic_account.get(f"{INSPECTIONS}?institution_id={second_clinic['id']}").get_json()
    assert [item["id"] for item in listed["items"]] == [own["id"]]
    assert login("citizen").get(f"{INSPECTIONS}/{own['id']}").status_code == 403


def test_regulators_list_records_by_department_and_status(clinic, second_clinic, health_officer, market_officer):
    joint = _joint_recorded(health_officer, clinic["id"], [_finding("health"), _finding("market", "penalty")])
    health_only = _joint_recorded(health_officer, second_clinic["id"], [_finding("health")], departments=["health"])

    def ids(query: str) -> list[int]:
        response = market_officer.get(f"{INSPECTIONS}?{query}")
        assert response.status_code == 200, response.get_json()
        return [item["id"] for item in response.get_json()["items"]]

    assert ids("department=market") == [joint["id"]]
    assert set(ids("department=health")) == {joint["id"], health_only["id"]}
    assert ids("status=pending_review") == [joint["id"]]
    assert market_officer.get(f"{INSPECTIONS}?department=nowhere").status_code == 422


# ---- legal review (法制审核) ---------------------------------------------------------------------------

def test_a_penalty_waits_for_legal_review_and_only_then_is_public_and_counts(
        clinic, health_officer, market_officer, market_supervisor, client):
    record = _joint_recorded(health_officer, clinic["id"], [
        _finding("health"), _finding("market", "penalty", "销售过期药品")])
    assert (record["status"], record["result"], record["published_at"]) == ("pending_review", "penalty", None)
    assert credit(health_officer, clinic["id"])["supervision_mode"] != "stationed"
    assert scan(client, clinic)["institution"]["inspections"] == []

    response = _review(market_supervisor, record["id"], decision_no="历市监罚〔2026〕12号")

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["status"], body["result"], body["decision_no"]) == ("recorded", "penalty", "历市监罚〔2026〕12号")
    assert body["published_at"] is not None and body["penalty_approved_at"] is not None
    assert [(r["decision"], r["reviewed_by"]) for r in body["reviews"]] == [("approved", market_supervisor.account.id)]
    assert credit(health_officer, clinic["id"])["supervision_mode"] == "stationed"
    assert [shown["result"] for shown in scan(client, clinic)["institution"]["inspections"]] == ["penalty"]


def test_a_returned_penalty_goes_back_with_the_note_never_counts_and_the_inspectors_conclude_again(
        clinic, health_officer, health_supervisor, client):
    record = _joint_recorded(health_officer, clinic["id"], [_finding("health", "penalty", "超范围执业")],
                             departments=["health"])

    response = _review(health_supervisor, record["id"], "returned", "证据不足：缺少病历复印件")

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "returned" and body["published_at"] is None
    assert body["reviews"][0]["note"] == "证据不足：缺少病历复印件"
    assert body["findings"][0]["review"] == "returned"
    assert credit(health_officer, clinic["id"])["supervision_mode"] != "stationed"
    assert scan(client, clinic)["institution"]["inspections"] == []

    response = health_officer.post(f"{INSPECTIONS}/{record['id']}/findings", json={"findings": [
        _finding("health", "rectify", "改为责令整改")]})
    assert response.status_code == 201
    assert (response.get_json()["status"], response.get_json()["result"]) == ("recorded", "rectify")
    assert [shown["result"] for shown in scan(client, clinic)["institution"]["inspections"]] == ["rectify"]


def test_a_penalty_sent_again_after_return_waits_for_review_again(clinic, health_officer, health_supervisor):
    record = _joint_recorded(health_officer, clinic["id"], [_finding("health", "penalty")], departments=["health"])
    assert _review(health_supervisor, record["id"], "returned", "补充证据").status_code == 200

    response = health_officer.post(f"{INSPECTIONS}/{record['id']}/findings", json={"findings": [
        _finding("health", "penalty", "补充证据后维持处罚")]})

    assert response.get_json()["status"] == "pending_review"
    assert _review(health_supervisor, record["id"]).get_json()["status"] == "recorded"


def test_an_inspector_of_the_record_may_not_review_it(clinic, health_supervisor, session):
    record = _joint_recorded(health_supervisor, clinic["id"], [_finding("health", "penalty")], departments=["health"])

    response = _review(health_supervisor, record["id"])

    assert response.status_code == 403
    assert session.get(Inspection, record["id"]).status == "pending_review"


def test_a_named_inspector_may_not_review_either(clinic, health_officer, login):
    inspecting_supervisor = login("supervisor", department="health")
    record = _joint_recorded(health_officer, clinic["id"], [_finding("health", "penalty")], departments=["health"],
                             inspector_ids=[inspecting_supervisor.account.id])

    assert _review(inspecting_supervisor, record["id"]).status_code == 403


def test_only_a_supervisor_of_a_department_on_the_record_reviews(clinic, health_officer, market_officer, login, admin):
    record = _joint_recorded(health_officer, clinic["id"], [_finding("health", "penalty")], departments=["health"])

    assert _review(login("supervisor", department="ecology"), record["id"]).status_code == 403
    assert _review(market_officer, record["id"]).status_code == 403
    assert _review(admin, record["id"]).status_code == 403
    assert _review(login("officer", department="health"), record["id"]).status_code == 403


def test_a_record_with_nothing_to_review_answers_invalid_transition(clinic, health_officer, health_supervisor):
    record = _joint_recorded(health_officer, clinic["id"], [_finding("health", "rectify")], departments=["health"])

    response = _review(health_supervisor, record["id"])

    assert response.status_code == 409
    assert response.get_json()["code"] == "INVALID_TRANSITION"


# ---- plans' items and draws --------------------------------------------------------------------------

@pytest.fixture
def plan(session, clinic) -> int:
    plan = InspectionPlan(year=TODAY.year, name="医疗美容与口腔联合检查", categories=[], streets=[],
                          due_on=dt.date(TODAY.year, 12, 31))
    session.add(plan)
    session.flush()
    session.add_all([PlanDepartment(plan_id=plan.id, department="health"),
                     PlanDepartment(plan_id=plan.id, department="market"),
                     PlanItem(plan_id=plan.id, department="health", code="WS-01", text="执业许可与登记"),
                     PlanItem(plan_id=plan.id, department="market", code="SC-01", text="价格公示")])
    session.commit()
    return plan.id


def test_findings_name_the_plans_items_of_their_department(clinic, health_officer, plan):
    ok = _joint(health_officer, clinic["id"], [_finding("health", item_code="WS-01"),
                                               _finding("market", "rectify", item_code="SC-01")], plan_id=plan)
    assert ok.status_code == 201, ok.get_json()
    assert [f["item_code"] for f in ok.get_json()["findings"]] == ["WS-01", "SC-01"]

    wrong = _joint(health_officer, clinic["id"], [_finding("health", item_code="SC-01")], plan_id=plan)
    assert wrong.status_code == 422
    assert list(wrong.get_json()["fields"]) == ["findings.0.item_code"]


def test_an_item_code_without_a_plan_or_an_unknown_plan_is_refused(clinic, health_officer):
    assert _joint(health_officer, clinic["id"], [_finding("health", item_code="WS-01")]).status_code == 422
    assert _joint(health_officer, clinic["id"], [_finding("health")], plan_id=999_999).status_code == 422


def test_a_department_not_on_the_plan_cannot_record_under_it(clinic, login, plan):
    ecology = login("officer", department="ecology")

    response = _joint(ecology, clinic["id"], [_finding("ecology")], departments=["ecology"], plan_id=plan)

    assert response.status_code == 422
    assert "plan_id" in response.get_json()["fields"]


def test_a_drawn_institution_is_recorded_with_its_drawn_team(clinic, health_officer, supervisor, login):
    team_mate = login("officer", department="health")
    response = supervisor.post(DRAWS, json={"department": "health", "ratios": {"A": 1, "B": 1, "C": 1, "D": 1},
                                            "inspectors_per_target": 2, "seed": "team"})
    assert response.status_code == 201, response.get_json()
    target = next(t for t in response.get_json()["targets"] if t["institution_id"] == clinic["id"])
    recorder = health_officer if health_officer.account.id in target["inspector_ids"] else team_mate

    record = recorder.post(INSPECTIONS, json=_body(clinic["id"], result="pass",
                                                   draw_id=response.get_json()["id"])).get_json()

    assert set(target["inspector_ids"]) <= set(record["inspector_ids"])


def test_an_institution_not_drawn_cannot_be_recorded_under_the_draw(clinic, second_clinic, health_officer,
                                                                     supervisor):
    response = supervisor.post(DRAWS, json={"department": "health", "ratios": {"A": 0, "B": 0, "C": 0, "D": 0},
                                            "inspectors_per_target": 1, "seed": "none"})
    assert response.status_code == 201, response.get_json()

    recorded = health_officer.post(INSPECTIONS, json=_body(clinic["id"], result="pass",
                                                           draw_id=response.get_json()["id"]))

    assert recorded.status_code == 422
    assert "draw_id" in recorded.get_json()["fields"]


# ---- what stays settled while a record is reviewed again --------------------------------------------

def test_an_approved_penalty_stays_public_and_counted_while_a_later_penalty_waits_or_is_returned(
        admin, health_officer, health_supervisor, market_officer, market_supervisor, client):
    dental = new_institution(admin, 61, category="dental")
    record = _joint_recorded(health_officer, dental["id"], [_finding("health", "penalty", "超范围执业")])
    assert _review(market_supervisor, record["id"]).status_code == 200
    assert credit(health_officer, dental["id"])["graded_risk_level"] == "high"

    added = market_officer.post(f"{INSPECTIONS}/{record['id']}/findings", json={"findings": [
        _finding("market", "penalty", "虚假宣传")]})
    assert added.get_json()["status"] == "pending_review"
    assert credit(health_officer, dental["id"])["graded_risk_level"] == "high"
    assert [shown["result"] for shown in scan(client, dental)["institution"]["inspections"]] == ["penalty"]

    returned = _review(health_supervisor, record["id"], "returned", "虚假宣传证据不足")
    assert returned.get_json()["status"] == "returned"
    assert credit(health_officer, dental["id"])["graded_risk_level"] == "high"
    assert credit(health_officer, dental["id"])["supervision_mode"] == "stationed"
    assert [shown["result"] for shown in scan(client, dental)["institution"]["inspections"]] == ["penalty"]


def test_a_record_concluded_again_after_a_return_moves_credit_at_once(admin, health_officer, market_officer,
                                                                       market_supervisor):
    dental = new_institution(admin, 62, category="dental")
    record = _joint_recorded(health_officer, dental["id"], [_finding("health", "rectify"),
                                                            _finding("market", "penalty", "价格欺诈")])
    assert _review(market_supervisor, record["id"], "returned", "定性不准").status_code == 200
    assert credit(health_officer, dental["id"])["graded_risk_level"] == "low"  # nothing settled yet

    response = market_officer.post(f"{INSPECTIONS}/{record['id']}/findings", json={"findings": [
        _finding("market", "pass", "复核后未发现价格违法")]})

    assert (response.get_json()["status"], response.get_json()["settled_result"]) == ("recorded", "rectify")
    assert credit(health_officer, dental["id"])["graded_risk_level"] == "medium"


def test_a_returned_penalty_waits_for_its_own_departments_answer_not_anothers(clinic, health_officer,
                                                                               market_officer, market_supervisor):
    record = _joint_recorded(health_officer, clinic["id"], [_finding("health"), _finding("market", "penalty")])
    assert _review(market_supervisor, record["id"], "returned", "补充证据").status_code == 200

    other = health_officer.post(f"{INSPECTIONS}/{record['id']}/findings", json={"findings": [
        _finding("health", "pass", "补充检查未见问题")]})
    assert other.get_json()["status"] == "returned"

    own = market_officer.post(f"{INSPECTIONS}/{record['id']}/findings", json={"findings": [
        _finding("market", "rectify", "改为责令改正")]})
    assert (own.get_json()["status"], own.get_json()["result"]) == ("recorded", "rectify")


def test_a_record_whose_only_finding_was_returned_has_no_result(clinic, health_officer, health_supervisor):
    record = _joint_recorded(health_officer, clinic["id"], [_finding("health", "penalty")], departments=["health"])

    body = _review(health_supervisor, record["id"], "returned", "证据不足").get_json()

    assert (body["status"], body["result"], body["settled_result"]) == ("returned", None, None)


def test_a_review_naming_findings_that_are_no_longer_the_pending_ones_decides_nothing(
        clinic, health_officer, market_officer, market_supervisor, session):
    record = _joint_recorded(health_officer, clinic["id"], [_finding("health", "penalty")])
    seen = [f["id"] for f in record["findings"]]
    market_officer.post(f"{INSPECTIONS}/{record['id']}/findings", json={"findings": [
        _finding("market", "penalty", "后补的处罚")]})

    response = _review(market_supervisor, record["id"], finding_ids=seen)

    assert response.status_code == 409
    assert response.get_json()["code"] == "CONFLICT"
    assert {f.review for f in session.get(Inspection, record["id"]).findings} == {"pending"}
    current = [f["id"] for f in market_officer.get(f"{INSPECTIONS}/{record['id']}").get_json()["findings"]]
    assert _review(market_supervisor, record["id"], finding_ids=current).status_code == 200


def test_the_institution_reads_its_findings_but_not_the_legal_reviews(clinic, clinic_account, health_officer,
                                                                       health_supervisor):
    record = _joint_recorded(health_officer, clinic["id"], [_finding("health", "penalty")], departments=["health"])
    _review(health_supervisor, record["id"], "approved", "内部审核意见：裁量适当")

    own = clinic_account.get(f"{INSPECTIONS}/{record['id']}").get_json()
    regulators = health_officer.get(f"{INSPECTIONS}/{record['id']}").get_json()

    assert own["findings"] and own["reviews"] == []
    assert regulators["reviews"][0]["note"] == "内部审核意见：裁量适当"


def test_a_draw_under_another_years_plan_is_refused(session, supervisor, health_officer, clinic):
    old = InspectionPlan(year=TODAY.year - 1, name="去年的计划", categories=[], streets=[],
                         due_on=dt.date(TODAY.year - 1, 12, 31))
    session.add(old)
    session.flush()
    session.add(PlanDepartment(plan_id=old.id, department="health"))
    session.commit()

    response = supervisor.post(DRAWS, json={"department": "health", "ratios": {"A": 1, "B": 1, "C": 1, "D": 1},
                                            "inspectors_per_target": 1, "plan_id": old.id})

    assert response.status_code == 422
    assert "plan_id" in response.get_json()["fields"]

"""Yearly inspection plans (一单): who makes them, what a plan must hold, who reads them, and the
progress each shows: completion (完成率) and closing (完结率) rates, Huancui's "提高完成率和完结率"."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from api.database import today_shanghai, utcnow
from registry.models import Institution
from supervision.models import Inspection, InspectionDepartment, InspectionPlan, PlanItem
from tests.api.helpers import assert_error
from tests.supervision.helpers import counting_statements, new_institution

PLANS = "/api/v1/inspection-plans"
YEAR = today_shanghai().year



@pytest.fixture(autouse=True)
def _year_of_this_test():
    """YEAR as of this test, not of the collection: a run may cross midnight in Beijing (16:00 UTC)
    between the two (conftest's guard only keeps a test from starting in its last minute)."""
    global YEAR
    YEAR = today_shanghai().year
KEY_SECTORS = ["cosmetic", "tcm_clinic", "dental"]


def plan_body(**overrides) -> dict:
    body = {
        "year": YEAR, "name": f"{YEAR} 年医疗服务领域综合监管检查计划", "departments": ["health", "market"],
        "items": [
            {"department": "health", "code": "H-01", "text": "医疗机构执业许可证是否在有效期内", "basis": "《医疗机构管理条例》第二十四条"},
            {"department": "health", "code": "H-02", "text": "医师是否超范围执业"},
            {"department": "market", "code": "M-01", "text": "医疗服务价格是否明码标价", "basis": "《价格法》第十三条"},
        ],
        "due_on": f"{YEAR}-11-15",
    }
    body.update(overrides)
    return body


def _made(persona, **overrides) -> dict:
    response = persona.post(PLANS, json=plan_body(**overrides))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _plan(persona, plan_id: int) -> dict:
    response = persona.get(f"{PLANS}/{plan_id}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _count(session) -> int:
    return session.scalar(select(func.count()).select_from(InspectionPlan))


def _inspected(session, institution_id: int, plan_id: int | None, *, status: str = "recorded",
               penalty: bool = False, departments=("health",)) -> int:
    """An inspection record under a plan, as the joint records will write it (POST /inspections with
    plan_id is another branch's work): the record, its departments, its status and an approved penalty."""
    inspection = Inspection(institution_id=institution_id, inspected_on=today_shanghai(),
                            result="penalty" if penalty else "pass", summary="联合检查", public=True,
                            department=departments[0], status=status, plan_id=plan_id,
                            penalty_approved_at=utcnow() if penalty else None)
    session.add(inspection)
    session.flush()
    session.add_all([InspectionDepartment(inspection_id=inspection.id, department=d) for d in departments])
    session.commit()
    return inspection.id


@pytest.fixture
def market_supervisor(login):
    return login("supervisor", department="market")


@pytest.fixture
def directory(admin) -> dict[str, dict]:
    """Institutions of several categories on two streets, and a closed cosmetic clinic."""
    found = {
        "cosmetic": new_institution(admin, 41, category="cosmetic", street="山大路街道"),
        "tcm_clinic": new_institution(admin, 42, category="tcm_clinic", street="洪家楼街道"),
        "dental": new_institution(admin, 43, category="dental", street="山大路街道"),
        "clinic": new_institution(admin, 44, category="clinic", street="洪家楼街道"),
        "hospital": new_institution(admin, 45, category="hospital", street="山大路街道"),
        "closed_cosmetic": new_institution(admin, 46, category="cosmetic", street="洪家楼街道"),
    }
    response = admin.patch(f"/api/v1/institutions/{found['closed_cosmetic']['id']}", json={"status": "closed"})
    assert response.status_code == 200, response.get_json()
    return found


# ---- making a plan --------------------------------------------------------------------------------

def test_a_health_supervisor_makes_a_joint_plan_with_each_departments_items(health_supervisor, directory):
    made = _made(health_supervisor, departments=["market", "health"], categories=KEY_SECTORS,
                 streets=["山大路街道", "洪家楼街道"])

    assert made["id"] and made["created_at"]
    assert (made["year"], made["name"], made["due_on"]) == (YEAR, plan_body()["name"], f"{YEAR}-11-15")
    assert made["departments"] == ["health", "market"]  # the lead first, whatever the order sent
    assert (made["categories"], made["streets"]) == (KEY_SECTORS, ["山大路街道", "洪家楼街道"])
    assert [(i["department"], i["code"], i["basis"]) for i in made["items"]] == [
        ("health", "H-01", "《医疗机构管理条例》第二十四条"), ("health", "H-02", None), ("market", "M-01", "《价格法》第十三条")]
    assert made["progress"] == {"institutions": 3, "inspected": 0, "completion_rate": 0.0, "penalties": 0,
                                "closed": 0, "close_rate": 0.0}
    assert made["created_by_id"] == health_supervisor.account.id


def test_a_supervisor_of_any_department_on_the_plan_may_make_it(market_supervisor):
    assert _made(market_supervisor)["departments"] == ["health", "market"]


def test_an_admin_makes_a_plan_for_any_departments(admin):
    made = _made(admin, departments=["ecology", "medical_insurance"], items=[
        {"department": "ecology", "code": "E-01", "text": "医疗废物是否交有资质单位处置"}])

    assert made["departments"] == ["medical_insurance", "ecology"]


def test_a_supervisor_of_none_of_the_plans_departments_is_forbidden(market_supervisor, session):
    response = market_supervisor.post(PLANS, json=plan_body(departments=["health", "ecology"], items=[
        {"department": "health", "code": "H-01", "text": "执业许可证"}]))

    assert_error(response, 403, "FORBIDDEN")
    assert _count(session) == 0


@pytest.mark.parametrize("who", ["health officer", "institution", "citizen"])
def test_nobody_but_supervisors_and_admins_makes_a_plan(login, clinic, session, who):
    persona = {"health officer": lambda: login("officer", department="health"),
               "institution": lambda: login("institution", institution_id=clinic["id"]),
               "citizen": lambda: login("citizen")}[who]()

    assert_error(persona.post(PLANS, json=plan_body()), 403, "FORBIDDEN")
    assert _count(session) == 0


def test_making_a_plan_needs_a_login(client, session):
    assert_error(client.post(PLANS, json=plan_body()), 401, "UNAUTHORIZED")
    assert _count(session) == 0


def test_an_item_of_a_department_not_on_the_plan_is_refused_naming_it(health_supervisor, session):
    items = [*plan_body()["items"], {"department": "ecology", "code": "E-01", "text": "医疗废物处置"}]

    body = assert_error(health_supervisor.post(PLANS, json=plan_body(items=items)), 422, "VALIDATION_FAILED")

    assert list(body["fields"]) == ["items.3.department"]
    assert "ecology" in body["fields"]["items.3.department"][0]
    assert _count(session) == 0


def test_a_repeated_item_code_within_a_department_is_refused_naming_the_duplicate(health_supervisor, session):
    items = [*plan_body()["items"], {"department": "market", "code": "H-01", "text": "另一部门可用同一编号"},
             {"department": "health", "code": "H-01", "text": "重复的编号"}]

    body = assert_error(health_supervisor.post(PLANS, json=plan_body(items=items)), 422, "VALIDATION_FAILED")

    assert list(body["fields"]) == ["items.4.code"]  # market's H-01 (item 3) is another department's
    assert "H-01" in body["fields"]["items.4.code"][0] and "items.0" in body["fields"]["items.4.code"][0]
    assert _count(session) == 0


def test_the_database_refuses_a_repeated_item_code_too(health_supervisor, session):
    """The unique constraint backs the service's check (a request never reaches it: see above)."""
    plan_id = _made(health_supervisor)["id"]
    session.add(PlanItem(plan_id=plan_id, department="health", code="H-01", text="重复"))

    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


def test_the_same_year_and_name_twice_is_a_conflict(health_supervisor, session):
    _made(health_supervisor)

    assert_error(health_supervisor.post(PLANS, json=plan_body()), 409, "CONFLICT")
    assert _count(session) == 1
    assert _made(health_supervisor, year=YEAR + 1, due_on=f"{YEAR + 1}-06-30")["year"] == YEAR + 1


@pytest.mark.parametrize("due_on", [f"{YEAR + 1}-01-15", f"{YEAR - 1}-12-31"])
def test_a_plan_is_due_within_its_year(health_supervisor, session, due_on):
    body = assert_error(health_supervisor.post(PLANS, json=plan_body(due_on=due_on)), 422, "VALIDATION_FAILED")

    assert list(body["fields"]) == ["due_on"]
    assert _count(session) == 0


@pytest.mark.parametrize("change", [
    {"departments": ["health", "forestry"]},
    {"categories": ["spa"]},
    {"departments": []},
    {"items": []},
    {"year": 1999, "due_on": "1999-06-30"},
    {"items": [{"department": "health", "code": "H-01"}]},
    {"unknown": 1},
])
def test_a_plan_with_unknown_departments_categories_or_missing_parts_is_refused(health_supervisor, session, change):
    assert_error(health_supervisor.post(PLANS, json=plan_body(**change)), 422, "VALIDATION_FAILED")
    assert _count(session) == 0


# ---- reading plans --------------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["health officer", "market officer", "health supervisor", "admin"])
def test_every_regulator_reads_the_plans(login, health_supervisor, who):
    made = _made(health_supervisor)
    role, department = {"health officer": ("officer", "health"), "market officer": ("officer", "market"),
                        "health supervisor": ("supervisor", "health"), "admin": ("admin", None)}[who]
    persona = login(role, department=department)

    listed = persona.get(PLANS)
    assert listed.status_code == 200, listed.get_json()
    assert listed.get_json()["total"] == 1 and listed.get_json()["items"][0] == made
    assert _plan(persona, made["id"]) == made


@pytest.mark.parametrize("who", ["citizen", "institution"])
def test_citizens_and_institutions_do_not_read_plans(login, health_supervisor, clinic, who):
    made = _made(health_supervisor)
    persona = login(who, institution_id=clinic["id"] if who == "institution" else None)

    assert_error(persona.get(PLANS), 403, "FORBIDDEN")
    assert_error(persona.get(f"{PLANS}/{made['id']}"), 403, "FORBIDDEN")


def test_reading_plans_needs_a_login(client, health_supervisor):
    made = _made(health_supervisor)

    assert_error(client.get(PLANS), 401, "UNAUTHORIZED")
    assert_error(client.get(f"{PLANS}/{made['id']}"), 401, "UNAUTHORIZED")


def test_an_unknown_plan_is_not_found(health_officer):
    assert_error(health_officer.get(f"{PLANS}/987654"), 404, "NOT_FOUND")


def test_plans_are_listed_newest_year_first_by_year_and_department_and_in_pages(admin, health_officer):
    this_year = _made(admin)
    ecology = _made(admin, name="医疗废物专项检查", departments=["ecology", "health"], items=[
        {"department": "ecology", "code": "E-01", "text": "医疗废物处置"}])
    last_year = _made(admin, year=YEAR - 1, due_on=f"{YEAR - 1}-11-30")

    def ids(query=""):
        response = health_officer.get(f"{PLANS}{query}")
        assert response.status_code == 200, response.get_json()
        return [plan["id"] for plan in response.get_json()["items"]]

    assert ids() == [ecology["id"], this_year["id"], last_year["id"]]
    assert ids(f"?year={YEAR - 1}") == [last_year["id"]]
    assert ids("?department=ecology") == [ecology["id"]]
    assert ids(f"?department=market&year={YEAR}") == [this_year["id"]]
    page = health_officer.get(f"{PLANS}?page=2&page_size=2").get_json()
    assert (page["total"], page["page"], page["page_size"], [p["id"] for p in page["items"]]) == (
        3, 2, 2, [last_year["id"]])
    assert_error(health_officer.get(f"{PLANS}?department=forestry"), 422, "VALIDATION_FAILED")


# ---- progress -------------------------------------------------------------------------------------

def test_the_key_sector_plans_completion_rate_moves_as_its_institutions_are_inspected(
        health_supervisor, health_officer, directory, session):
    """Licheng: "在医疗美容机构、中医备案诊所、口腔医疗机构等重点行业做到执法检查全覆盖" — a plan over the key
    categories, all streets: the closed cosmetic clinic is out of scope, and so is the general clinic."""
    plan = _made(health_supervisor, name="重点行业执法检查全覆盖", categories=KEY_SECTORS)
    other = _made(health_supervisor, name="其他计划")
    assert plan["progress"]["institutions"] == 3

    rates = []
    for key in ("cosmetic", "tcm_clinic", "dental"):
        _inspected(session, directory[key]["id"], plan["id"])
        rates.append(_plan(health_officer, plan["id"])["progress"]["completion_rate"])
    assert rates == [0.3333, 0.6667, 1.0]

    _inspected(session, directory["cosmetic"]["id"], plan["id"])  # a second visit: still one institution
    _inspected(session, directory["clinic"]["id"], plan["id"])  # not in scope
    _inspected(session, directory["closed_cosmetic"]["id"], plan["id"])  # no longer active
    progress = _plan(health_officer, plan["id"])["progress"]
    assert (progress["institutions"], progress["inspected"], progress["completion_rate"]) == (3, 3, 1.0)
    assert _plan(health_officer, other["id"])["progress"]["inspected"] == 0


def test_records_under_another_plan_or_under_none_do_not_count(health_supervisor, health_officer, directory,
                                                               session):
    plan = _made(health_supervisor, categories=KEY_SECTORS)
    other = _made(health_supervisor, name="另一计划", categories=KEY_SECTORS)
    _inspected(session, directory["cosmetic"]["id"], other["id"])
    _inspected(session, directory["dental"]["id"], None)

    assert _plan(health_officer, plan["id"])["progress"]["inspected"] == 0
    assert _plan(health_officer, other["id"])["progress"]["inspected"] == 1


def test_streets_limit_a_plan_to_their_institutions(health_supervisor, health_officer, directory, session):
    plan = _made(health_supervisor, streets=["山大路街道"])  # every category there: cosmetic, dental, hospital

    _inspected(session, directory["hospital"]["id"], plan["id"])
    _inspected(session, directory["tcm_clinic"]["id"], plan["id"])  # 洪家楼街道: out of scope

    progress = _plan(health_officer, plan["id"])["progress"]
    assert (progress["institutions"], progress["inspected"], progress["completion_rate"]) == (3, 1, 0.3333)


def test_an_institution_is_closed_once_none_of_its_records_under_the_plan_awaits_review_or_was_returned(
        health_supervisor, health_officer, directory, session):
    plan = _made(health_supervisor, categories=KEY_SECTORS)
    _inspected(session, directory["cosmetic"]["id"], plan["id"])
    _inspected(session, directory["tcm_clinic"]["id"], plan["id"])
    pending = _inspected(session, directory["tcm_clinic"]["id"], plan["id"], status="pending_review")
    _inspected(session, directory["dental"]["id"], plan["id"], status="returned")

    progress = _plan(health_officer, plan["id"])["progress"]
    assert (progress["inspected"], progress["closed"], progress["close_rate"]) == (3, 1, 0.3333)

    found = session.get(Inspection, pending)
    found.status, found.penalty_approved_at = "recorded", utcnow()  # the penalty approved after legal review
    session.commit()
    progress = _plan(health_officer, plan["id"])["progress"]
    assert (progress["closed"], progress["close_rate"], progress["penalties"]) == (2, 0.6667, 1)


def test_only_approved_penalties_under_the_plan_count(health_supervisor, health_officer, directory, session):
    plan = _made(health_supervisor, categories=KEY_SECTORS, departments=["health", "market"])
    _inspected(session, directory["cosmetic"]["id"], plan["id"], penalty=True, departments=("health", "market"))
    _inspected(session, directory["dental"]["id"], plan["id"], status="pending_review")  # not approved yet
    _inspected(session, directory["tcm_clinic"]["id"], None, penalty=True)  # not under the plan

    assert _plan(health_officer, plan["id"])["progress"]["penalties"] == 1


def test_progress_takes_the_same_statements_however_many_institutions_and_records(
        admin, health_supervisor, health_officer, directory, session):
    plan = _made(health_supervisor)
    _inspected(session, directory["cosmetic"]["id"], plan["id"])
    with counting_statements() as few:
        assert _plan(health_officer, plan["id"])["progress"]["inspected"] == 1

    for serial in range(60, 70):
        institution = new_institution(admin, serial, category="dental")
        _inspected(session, institution["id"], plan["id"], status="pending_review" if serial % 2 else "recorded")
    with counting_statements() as many:
        progress = _plan(health_officer, plan["id"])["progress"]

    assert (progress["inspected"], progress["closed"]) == (11, 6)
    assert len(many) == len(few)


def test_progress_over_ten_thousand_institutions_is_quick(health_supervisor, health_officer, session):
    """10,000 active institutions in scope, 4,000 of them inspected under the plan (a quarter of those
    awaiting review), 100 approved penalties: one statement, well under a second."""
    plan = _made(health_supervisor, categories=["clinic", "village_clinic"])
    today = today_shanghai()
    session.execute(insert(Institution), [
        {"name": f"村卫生室{n}", "uscc": f"X{n:017d}", "licence_no": f"L{n:08d}",
         "category": "village_clinic" if n % 2 else "clinic", "scope": [], "address": "村委会旁", "street": f"街道{n % 20}",
         "legal_representative": "张某", "principal": "张某", "licence_valid_from": today,
         "licence_valid_to": today + dt.timedelta(days=365)} for n in range(10_000)])
    ids = session.scalars(select(Institution.id).order_by(Institution.id).limit(4_000)).all()
    session.execute(insert(Inspection), [
        {"institution_id": institution_id, "inspected_on": today, "result": "pass", "summary": "检查",
         "department": "health", "plan_id": plan["id"], "status": "pending_review" if n % 4 == 0 else "recorded",
         "penalty_approved_at": utcnow() if n % 40 == 1 else None} for n, institution_id in enumerate(ids)])
    session.commit()

    started = time.perf_counter()
    progress = _plan(health_officer, plan["id"])["progress"]
    elapsed = time.perf_counter() - started

    assert progress == {"institutions": 10_000, "inspected": 4_000, "completion_rate": 0.4, "penalties": 100,
                        "closed": 3_000, "close_rate": 0.75}
    assert elapsed < 1.0, elapsed


def test_a_plans_progress_follows_joint_records_and_legal_review_through_the_api(
        directory, health_supervisor, health_officer, market_officer, market_supervisor):
    """End to end: a key-sector plan, joint visits recorded under it, a penalty approved in legal review."""
    plan = _made(health_supervisor, name="重点行业全覆盖", categories=KEY_SECTORS)
    visit = {"inspected_on": str(today_shanghai()), "summary": "卫健、市场监管联合检查", "public": True,
             "departments": ["health", "market"], "plan_id": plan["id"]}

    response = health_officer.post("/api/v1/inspections", json={**visit, "institution_id": directory["cosmetic"]["id"],
                                                                "findings": [
        {"department": "health", "item_code": "H-01", "result": "pass", "note": "许可证在有效期内"},
        {"department": "market", "item_code": "M-01", "result": "penalty", "note": "未明码标价，拒不改正"}]})
    assert response.status_code == 201, response.get_json()
    penalised = response.get_json()
    progress = _plan(health_officer, plan["id"])["progress"]
    assert (progress["inspected"], progress["closed"], progress["penalties"]) == (1, 0, 0)  # awaiting review

    response = market_officer.post("/api/v1/inspections", json={**visit, "institution_id": directory["dental"]["id"],
                                                                "findings": [
        {"department": "market", "item_code": "M-01", "result": "pass", "note": "价格公示规范"}]})
    assert response.status_code == 201, response.get_json()
    response = market_supervisor.post(f"/api/v1/inspections/{penalised['id']}/legal-review",
                                      json={"decision": "approved", "note": "事实清楚，证据确凿"})
    assert response.status_code == 200, response.get_json()

    progress = _plan(market_officer, plan["id"])["progress"]
    assert progress["institutions"] == 3  # the open cosmetic, TCM and dental institutions
    assert (progress["inspected"], progress["closed"], progress["penalties"]) == (2, 2, 1)
    assert progress["completion_rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert progress["close_rate"] == 1.0

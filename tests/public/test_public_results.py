"""Public disclosure of inspection results (双随机一公开): what a citizen sees without logging in, across
institutions, and what the scan profile shows of joint inspections and approved penalties.

Everything is created through the API: joint records with each department's findings, legal review by
a supervisor who did not inspect."""

from __future__ import annotations

import datetime as dt

import pytest

from api import workdays
from api.database import SHANGHAI, today_shanghai
from public import disclosure
from supervision import grades
from tests.public.test_scan_queries import counting_queries
from tests.supervision.helpers import INSPECTIONS, new_institution, scan

RESULTS = "/api/v1/public/inspections"
PENALTIES = "/api/v1/public/penalties"
EAST, WEST = "洪家楼街道", "山大路街道"
APPROVE = {"decision": "approved", "note": "事实清楚，证据确凿，程序合法"}


@pytest.fixture
def market_supervisor(login):
    return login("supervisor", department="market")


@pytest.fixture
def west_clinic(admin):
    return new_institution(admin, 11, name="西区诊所", street=WEST)


@pytest.fixture
def east_clinic(admin):
    return new_institution(admin, 12, name="东区诊所", street=EAST)


def joint(officer, institution_id: int, findings: list[tuple[str, str]], *, departments=("health", "market"),
          on: dt.date | None = None, public: bool = True, **extra) -> dict:
    """POST one visit's record with the departments' findings [(department, result), ...]."""
    response = officer.post(INSPECTIONS, json={
        "institution_id": institution_id, "inspected_on": str(on or today_shanghai()), "summary": "现场检查记录",
        "public": public, "departments": list(departments),
        "findings": [{"department": d, "result": r, "note": f"{d} {r}"} for d, r in findings], **extra})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def review(supervisor, record: dict, decision: dict = APPROVE, **extra):
    return supervisor.post(f"{INSPECTIONS}/{record['id']}/legal-review", json={**decision, **extra})


def listed(client, path: str = RESULTS, **query) -> dict:
    response = client.get(path, query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def ids(page: dict) -> list[int]:
    return [item["id"] for item in page["items"]]


def profile(client, institution: dict) -> dict:
    return scan(client, institution)["institution"]


# ---- a citizen's view across institutions ----------------------------------------------------------

def test_a_citizen_sees_results_across_institutions_filtered_by_year_department_and_street(
        client, health_officer, market_officer, west_clinic, east_clinic):
    today = today_shanghai()
    last_year = joint(health_officer, west_clinic["id"], [("health", "pass")], departments=["health"],
                      on=dt.date(today.year - 1, 6, 1))
    market_only = joint(market_officer, east_clinic["id"], [("market", "rectify")], departments=["market"],
                        on=dt.date(today.year, 1, 1))
    together = joint(health_officer, east_clinic["id"], [("health", "pass"), ("market", "pass")])

    everything = listed(client)  # no Authorization header: a citizen
    assert everything["total"] == 3 and everything["page"] == 1 and everything["page_size"] == 20
    assert ids(everything) == [together["id"], market_only["id"], last_year["id"]]  # newest published first
    assert ids(listed(client, year=today.year - 1)) == [last_year["id"]]
    assert ids(listed(client, year=today.year)) == [together["id"], market_only["id"]]
    assert ids(listed(client, department="market")) == [together["id"], market_only["id"]]
    assert ids(listed(client, department="health")) == [together["id"], last_year["id"]]
    assert ids(listed(client, street=EAST)) == [together["id"], market_only["id"]]
    assert ids(listed(client, street=WEST)) == [last_year["id"]]
    assert ids(listed(client, department="health", street=EAST, year=today.year)) == [together["id"]]
    assert listed(client, department="ecology")["total"] == 0
    second_page = listed(client, page=2, page_size=2)
    assert ids(second_page) == [last_year["id"]] and second_page["total"] == 3


def test_an_item_shows_the_institution_its_street_and_the_result(client, health_officer, east_clinic):
    record = joint(health_officer, east_clinic["id"], [("health", "pass"), ("market", "rectify")])

    item = listed(client)["items"][0]

    assert item["institution_id"] == east_clinic["id"] and item["institution_name"] == "东区诊所"
    assert item["street"] == EAST
    assert item["inspected_on"] == record["inspected_on"]
    assert item["result"] == "rectify" and item["summary"] == "现场检查记录" and item["draw_id"] is None
    assert item["published_at"] is not None
    assert "decision_no" not in item


def test_a_joint_health_and_market_record_appears_once_with_both_departments(
        client, health_officer, east_clinic):
    joint(health_officer, east_clinic["id"], [("market", "rectify"), ("health", "pass")])

    page = listed(client)
    shown = profile(client, east_clinic)["inspections"]
    html = client.get(f"/c/{east_clinic['code']['token']}").get_data(as_text=True)

    assert page["total"] == 1 and page["items"][0]["departments"] == ["health", "market"]
    assert len(shown) == 1 and shown[0]["departments"] == ["health", "market"]
    assert "卫生健康委、市场监管局 联合检查 责令整改" in html


def test_a_single_department_record_is_not_called_joint_on_the_page(client, market_officer, east_clinic):
    joint(market_officer, east_clinic["id"], [("market", "pass")], departments=["market"])

    html = client.get(f"/c/{east_clinic['code']['token']}").get_data(as_text=True)

    assert "市场监管局 检查 合格" in html
    assert "联合检查" not in html


# ---- legal review decides what is public -------------------------------------------------------------

def test_a_penalty_pending_review_is_absent_until_a_supervisor_who_did_not_inspect_approves_it(
        client, login, health_officer, health_supervisor, east_clinic):
    inspecting_supervisor = login("supervisor", department="health")
    record = joint(health_officer, east_clinic["id"], [("health", "penalty"), ("market", "pass")],
                   inspector_ids=[inspecting_supervisor.account.id])
    assert record["status"] == "pending_review"

    assert listed(client, PENALTIES)["total"] == 0
    assert listed(client)["total"] == 0
    assert profile(client, east_clinic)["penalties"] == [] and profile(client, east_clinic)["inspections"] == []
    assert review(inspecting_supervisor, record).status_code == 403  # an inspector may not review it
    assert listed(client, PENALTIES)["total"] == 0

    assert review(health_supervisor, record, decision_no="济卫罚〔2026〕7号").status_code == 200

    penalty = listed(client, PENALTIES)["items"]
    assert [(p["id"], p["decision_no"], p["result"], p["departments"]) for p in penalty] == [
        (record["id"], "济卫罚〔2026〕7号", "penalty", ["health", "market"])]
    assert ids(listed(client)) == [record["id"]]
    shown = profile(client, east_clinic)
    assert shown["penalties"] == [{"date": record["inspected_on"], "decision_no": "济卫罚〔2026〕7号",
                                   "summary": "现场检查记录"}]
    assert [i["result"] for i in shown["inspections"]] == ["penalty"]


def test_a_returned_penalty_never_appears(client, health_officer, health_supervisor, east_clinic):
    record = joint(health_officer, east_clinic["id"], [("health", "penalty"), ("market", "pass")])

    assert review(health_supervisor, record, {"decision": "returned", "note": "证据不足"}).status_code == 200
    assert listed(client, PENALTIES)["total"] == 0 and listed(client)["total"] == 0
    # the inspectors conclude otherwise: the record is public with that result, never as a penalty
    response = health_officer.post(f"{INSPECTIONS}/{record['id']}/findings",
                                   json={"findings": [{"department": "health", "result": "rectify", "note": "责令整改"}]})
    assert response.status_code in (200, 201), response.get_json()

    assert listed(client, PENALTIES)["total"] == 0
    assert [(i["id"], i["result"]) for i in listed(client)["items"]] == [(record["id"], "rectify")]
    assert profile(client, east_clinic)["penalties"] == []


def test_a_penalty_approved_by_the_other_departments_supervisor_is_public(
        client, health_officer, market_supervisor, east_clinic):
    record = joint(health_officer, east_clinic["id"], [("market", "penalty"), ("health", "rectify")])

    assert review(market_supervisor, record, decision_no="济市监罚〔2026〕3号").status_code == 200

    assert [(p["id"], p["decision_no"]) for p in listed(client, PENALTIES, department="market")["items"]] == [
        (record["id"], "济市监罚〔2026〕3号")]


def test_non_public_records_are_absent(client, health_officer, health_supervisor, east_clinic):
    joint(health_officer, east_clinic["id"], [("health", "pass")], departments=["health"], public=False)
    hidden_penalty = joint(health_officer, east_clinic["id"], [("health", "penalty")], departments=["health"],
                           public=False)
    assert review(health_supervisor, hidden_penalty, decision_no="济卫罚〔2026〕8号").status_code == 200

    assert listed(client)["total"] == 0
    assert listed(client, PENALTIES)["total"] == 0
    shown = profile(client, east_clinic)
    assert shown["inspections"] == [] and shown["penalties"] == []


def test_a_penalty_older_than_the_public_window_is_on_neither_list(client, health_officer, health_supervisor,
                                                                    east_clinic):
    today = today_shanghai()
    window_start = grades.years_before(today, 5)
    old = joint(health_officer, east_clinic["id"], [("health", "penalty")], departments=["health"],
                on=window_start - dt.timedelta(days=1))
    recent = joint(health_officer, east_clinic["id"], [("health", "penalty")], departments=["health"],
                   on=window_start)
    old_pass = joint(health_officer, east_clinic["id"], [("health", "pass")], departments=["health"],
                     on=window_start - dt.timedelta(days=1))
    for record in (old, recent):
        assert review(health_supervisor, record).status_code == 200

    assert ids(listed(client, PENALTIES)) == [recent["id"]]
    assert set(ids(listed(client))) == {recent["id"], old_pass["id"]}


# ---- published within 20 working days of the decision -----------------------------------------------

def test_results_and_approved_penalties_are_published_within_20_working_days_of_the_decision(
        client, health_officer, health_supervisor, east_clinic):
    long_ago = today_shanghai() - dt.timedelta(days=90)  # the decision is today's, not the visit's
    joint(health_officer, east_clinic["id"], [("health", "pass"), ("market", "rectify")], on=long_ago)
    penalty = joint(health_officer, east_clinic["id"], [("health", "penalty")], departments=["health"], on=long_ago)
    assert review(health_supervisor, penalty).status_code == 200

    items = listed(client)["items"] + listed(client, PENALTIES)["items"]

    assert len(items) == 3
    for item in items:
        published_on = dt.datetime.fromisoformat(item["published_at"]).astimezone(SHANGHAI).date()
        due = dt.date.fromisoformat(item["publish_due_on"])
        decided = dt.date.fromisoformat(item["decided_on"])
        assert decided == today_shanghai()
        assert due == workdays.add_working_days(decided, 20)
        assert published_on <= due


def test_the_publication_deadline_counts_official_working_days_not_weekdays(app):
    # 2024: 1–7 October off (National Day), Sunday 29 September and Saturday 12 October worked (调休).
    approved_at = dt.datetime(2024, 9, 30, 9, tzinfo=SHANGHAI)
    recorded_at = dt.datetime(2024, 9, 25, 9, tzinfo=SHANGHAI)
    with app.app_context():
        assert disclosure.decided_on(recorded_at, approved_at) == dt.date(2024, 9, 30)
        assert disclosure.publish_due_on(recorded_at, approved_at) == dt.date(2024, 11, 1)
        assert disclosure.publish_due_on(recorded_at, None) == dt.date(2024, 10, 28)  # from the recording day
        # Late on 30 September in UTC is already 1 October in Beijing: the decision day is Beijing's.
        assert disclosure.decided_on(dt.datetime(2024, 9, 30, 17, tzinfo=dt.UTC), None) == dt.date(2024, 10, 1)


# ---- the contract's errors and the query budget -------------------------------------------------------

@pytest.mark.parametrize(("path", "query", "field"), [
    (RESULTS, {"department": "police"}, "department"),
    (PENALTIES, {"department": "police"}, "department"),
    (RESULTS, {"year": "1999"}, "year"),
    (PENALTIES, {"year": "2101"}, "year"),
    (RESULTS, {"year": "this"}, "year"),
    (RESULTS, {"page_size": "101"}, "page_size"),
    (PENALTIES, {"page": "0"}, "page"),
])
def test_bad_filters_are_422_in_the_contracts_format(client, path, query, field):
    response = client.get(path, query_string=query)

    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == "VALIDATION_FAILED" and body["message"]
    assert field in body["fields"]


def test_a_page_costs_the_same_three_queries_for_one_record_or_many(client, health_officer, east_clinic,
                                                                      west_clinic):
    joint(health_officer, east_clinic["id"], [("health", "pass"), ("market", "pass")])
    with counting_queries() as one:
        assert listed(client)["total"] == 1
    for n in range(6):
        joint(health_officer, (east_clinic, west_clinic)[n % 2]["id"],
              [("health", "rectify"), ("market", "pass"), ("medical_insurance", "pass")],
              departments=["health", "market", "medical_insurance"])
    with counting_queries() as many:
        page = listed(client)
    with counting_queries() as penalties:
        listed(client, PENALTIES)

    assert page["total"] == 7 and all(len(i["departments"]) == 3 for i in page["items"][:6])
    assert len(one) == len(many) == 3, many
    assert len(penalties) <= 3

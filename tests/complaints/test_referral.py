"""The `refer` action (移送, issue 17 correction 1): the department holding a case records its referral to
the police or the judiciary and keeps the case. Who may, from which statuses, what is checked, and where
the referral shows: the regulators' timeline, the complainant's tracking (the entry, not its details),
never the institution's view, and both export formats."""

from __future__ import annotations

import datetime as dt

import pytest

from api.database import today_shanghai
from tests.api.helpers import assert_error
from tests.complaints.helpers import rows, track
from tests.complaints.workflow_helpers import act, action_data, advance, case_url, submit, update_case
from tests.exchange.helpers import export

EXPORT = "/api/v1/complaints/export"
POLICE_BODY = "济南市公安局历城区分局"
LETTER = "历卫移〔2026〕3号"
REFERRAL = {"referred_to": "public_security", "referred_to_name": POLICE_BODY, "reference_no": LETTER,
            "note": "涉嫌非法行医犯罪，已移送公安机关", "internal_note": "移送材料共 12 页"}


@pytest.fixture
def illegal_practice(client, clinic) -> dict:
    """A named illegal-practice complaint about the clinic: health handles it."""
    receipt = submit(client, {"institution_id": clinic["id"]}, category="illegal_practice")
    assert receipt["department"] == "health"
    return receipt


@pytest.fixture
def investigating(illegal_practice, health_officer, health_supervisor) -> dict:
    advance(health_supervisor, illegal_practice["tracking_no"], "investigating", handler_id=health_officer.account.id)
    return illegal_practice


def _case(persona, number: str) -> dict:
    response = persona.get(case_url(number))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


# ---- the handling department refers and keeps the case ---------------------------------------------

def test_the_handling_department_refers_a_case_and_keeps_it(investigating, health_officer):
    number = investigating["tracking_no"]
    before = _case(health_officer, number)

    response = act(health_officer, number, "refer", referred_on=str(today_shanghai()), **REFERRAL)

    assert response.status_code == 200, response.get_json()
    case = response.get_json()
    assert (case["status"], case["department"], case["handler_id"]) == (
        "investigating", "health", before["handler_id"])
    assert (case["accept_due_at"], case["reply_due_at"]) == (before["accept_due_at"], before["reply_due_at"])
    entry = case["timeline"][-1]
    assert len(case["timeline"]) == len(before["timeline"]) + 1
    assert (entry["action"], entry["status"], entry["department"], entry["actor_id"]) == (
        "refer", "investigating", "health", health_officer.account.id)
    assert (entry["note"], entry["internal_note"]) == (REFERRAL["note"], REFERRAL["internal_note"])
    assert entry["referral"] == {"referred_to": "public_security", "referred_to_name": POLICE_BODY,
                                 "referred_on": str(today_shanghai()), "reference_no": LETTER}
    assert all("referral" not in e for e in case["timeline"][:-1])
    assert _case(health_officer, number)["timeline"][-1]["referral"] == entry["referral"]


def test_after_a_referral_the_department_goes_on_with_the_case(investigating, health_officer):
    number = investigating["tracking_no"]
    act(health_officer, number, "refer", referred_to="public_security")

    for action in ("resolve", "reply", "close"):
        response = act(health_officer, number, action, **action_data(action))
        assert response.status_code == 200, (action, response.get_json())

    case = _case(health_officer, number)
    assert [e["action"] for e in case["timeline"]][-4:] == ["refer", "resolve", "reply", "close"]
    assert (case["status"], case["department"]) == ("closed", "health")


def test_a_supervisor_refers_an_anonymous_case_about_an_unlicensed_place(client, health_supervisor):
    number = submit(client, {"name": "无名诊所", "address": "某村 1 号"}, category="illegal_practice",
                    anonymous=True)["tracking_no"]
    act(health_supervisor, number, "accept")

    response = act(health_supervisor, number, "refer", referred_to="procuratorate")

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["timeline"][-1]["referral"] == {
        "referred_to": "procuratorate", "referred_to_name": None, "referred_on": str(today_shanghai()),
        "reference_no": None}


def test_an_admin_may_refer_as_it_may_take_any_action(investigating, admin):
    response = act(admin, investigating["tracking_no"], "refer", referred_to="court", reference_no=LETTER)

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["timeline"][-1]["actor_id"] == admin.account.id


def test_the_same_letter_may_go_to_the_police_and_as_a_copy_to_the_procuratorate_but_not_twice(
        investigating, health_officer):
    number = investigating["tracking_no"]

    first = act(health_officer, number, "refer", referred_to="public_security", reference_no=LETTER)
    copy = act(health_officer, number, "refer", referred_to="procuratorate", reference_no=LETTER)
    again = act(health_officer, number, "refer", referred_to="public_security", reference_no=LETTER)

    assert (first.status_code, copy.status_code) == (200, 200)
    assert_error(again, 409, "CONFLICT")
    timeline = _case(health_officer, number)["timeline"]
    assert [e["referral"]["referred_to"] for e in timeline if e["action"] == "refer"] == [
        "public_security", "procuratorate"]
    assert rows("complaint_referrals") == 2


@pytest.mark.parametrize("status", ["accepted", "assigned", "investigating", "resolved"])
def test_a_case_may_be_referred_while_it_is_open(illegal_practice, health_officer, health_supervisor, status):
    number = illegal_practice["tracking_no"]
    advance(health_supervisor, number, status, handler_id=health_officer.account.id)

    response = act(health_officer, number, "refer", referred_to="public_security")

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == status


@pytest.mark.parametrize("status", ["submitted", "rejected", "replied", "closed"])
def test_a_case_not_accepted_or_already_answered_cannot_be_referred(illegal_practice, health_officer,
                                                                   health_supervisor, status):
    number = illegal_practice["tracking_no"]
    before = advance(health_supervisor, number, status, handler_id=health_officer.account.id)

    response = act(health_officer, number, "refer", referred_to="public_security", reference_no=LETTER)

    assert_error(response, 409, "INVALID_TRANSITION")
    after = _case(health_officer, number)
    assert (after["status"], len(after["timeline"])) == (status, len(before["timeline"]))
    assert rows("complaint_referrals") == 0


# ---- who may not --------------------------------------------------------------------------------

@pytest.mark.parametrize(("role", "department"), [
    ("officer", "public_security"), ("supervisor", "public_security"), ("officer", "market"), ("officer", "ecology"),
])
def test_a_co_handling_department_may_not_refer(investigating, health_officer, login, role, department):
    persona = login(role, department=department)
    number = investigating["tracking_no"]

    assert_error(act(persona, number, "refer", **REFERRAL), 403, "FORBIDDEN")

    case = _case(health_officer, number)
    assert (case["status"], case["department"]) == ("investigating", "health")
    assert "refer" not in [e["action"] for e in case["timeline"]]
    assert rows("complaint_referrals") == 0


def test_another_department_cannot_even_see_the_case_to_refer(investigating, login):
    insurance = login("supervisor", department="medical_insurance")

    assert_error(act(insurance, investigating["tracking_no"], "refer", **REFERRAL), 404, "NOT_FOUND")
    assert rows("complaint_referrals") == 0


def test_the_institution_and_citizens_may_not_refer(investigating, clinic_account, citizen, client):
    number = investigating["tracking_no"]

    assert_error(act(clinic_account, number, "refer", **REFERRAL), 403, "FORBIDDEN")
    assert_error(act(citizen, number, "refer", **REFERRAL), 403, "FORBIDDEN")
    assert_error(client.post(f"{case_url(number)}/actions", json={"action": "refer", **REFERRAL}),
                 401, "UNAUTHORIZED")
    assert rows("complaint_referrals") == 0


# ---- what a referral must say ---------------------------------------------------------------------

def _tomorrow() -> str:
    return str(today_shanghai() + dt.timedelta(days=1))


@pytest.mark.parametrize(("data", "field"), [
    ({}, "referred_to"),
    ({"referred_to": None}, "referred_to"),
    ({"referred_to": "police_station"}, "referred_to"),
    ({"referred_to": "other"}, "referred_to_name"),
    ({"referred_to": "other", "referred_to_name": "   "}, "referred_to_name"),
    ({"referred_to": "public_security", "referred_on": "tomorrow"}, "referred_on"),
    ({"referred_to": "public_security", "referred_on": "future"}, "referred_on"),
    ({"referred_to": "public_security", "reference_no": "号" * 65}, "reference_no"),
    ({"referred_to": "public_security", "referred_to_name": "公安\u202e局"}, "referred_to_name"),
])
def test_a_referral_needs_a_body_a_plausible_date_and_a_short_reference(investigating, health_officer, data,
                                                                          field):
    if data.get("referred_on") == "future":
        data = data | {"referred_on": _tomorrow()}
    number = investigating["tracking_no"]

    response = act(health_officer, number, "refer", **data)

    assert field in assert_error(response, 422, "VALIDATION_FAILED")["fields"]
    assert "refer" not in [e["action"] for e in _case(health_officer, number)["timeline"]]


def test_a_referral_cannot_be_dated_before_the_case_was_submitted(investigating, health_officer, session):
    number = investigating["tracking_no"]
    update_case(session, number, submitted_at=dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC))

    too_early = act(health_officer, number, "refer", referred_to="public_security", referred_on="2026-03-01")
    same_day = act(health_officer, number, "refer", referred_to="public_security", referred_on="2026-03-02")

    assert "referred_on" in assert_error(too_early, 422, "VALIDATION_FAILED")["fields"]
    assert same_day.status_code == 200, same_day.get_json()
    assert same_day.get_json()["timeline"][-1]["referral"]["referred_on"] == "2026-03-02"


def test_another_body_is_named_in_full(investigating, health_officer):
    response = act(health_officer, investigating["tracking_no"], "refer", referred_to="other",
                   referred_to_name="某市监察委员会")

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["timeline"][-1]["referral"]["referred_to_name"] == "某市监察委员会"


# ---- where it shows -------------------------------------------------------------------------------

def test_the_complainant_sees_the_referral_entry_and_its_note_but_not_its_details(client, investigating,
                                                                               health_officer):
    act(health_officer, investigating["tracking_no"], "refer", **REFERRAL)

    response = track(client, investigating["tracking_no"], investigating["query_code"])

    assert response.status_code == 200
    entry = response.get_json()["timeline"][-1]
    assert (entry["action"], entry["status"], entry["note"]) == ("refer", "investigating", REFERRAL["note"])
    text = response.get_data(as_text=True)
    for detail in (LETTER, POLICE_BODY, REFERRAL["internal_note"]):
        assert detail not in text


def test_the_institution_concerned_never_sees_the_referral(investigating, health_officer, clinic_account):
    number = investigating["tracking_no"]
    act(health_officer, number, "refer", **REFERRAL)
    act(health_officer, number, "resolve", finding="substantiated", note="情况属实")

    response = clinic_account.get(case_url(number))

    assert response.status_code == 200
    assert [e["action"] for e in response.get_json()["timeline"]] == [
        "submit", "accept", "assign", "investigate", "resolve"]
    text = response.get_data(as_text=True)
    for detail in (LETTER, POLICE_BODY, REFERRAL["note"], "移送"):
        assert detail not in text


def test_a_co_handling_department_reads_the_referral_in_the_timeline(investigating, health_officer, login):
    police = login("officer", department="public_security")
    act(health_officer, investigating["tracking_no"], "refer", **REFERRAL)

    entry = _case(police, investigating["tracking_no"])["timeline"][-1]

    assert entry["referral"]["reference_no"] == LETTER


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("persona", ["health_officer", "admin", "police"])
def test_the_export_lists_a_cases_referrals_in_order(client, clinic, investigating, health_officer, login, admin,
                                                     session, fmt, persona):
    reader = {"health_officer": health_officer, "admin": admin,
              "police": login("officer", department="public_security")}[persona]
    number = investigating["tracking_no"]
    other = submit(client, {"institution_id": clinic["id"]}, category="illegal_practice")["tracking_no"]
    update_case(session, number, submitted_at=dt.datetime(2026, 3, 1, 1, 0, tzinfo=dt.UTC))
    act(health_officer, number, "refer", referred_on="2026-03-02", **REFERRAL)
    act(health_officer, number, "refer", referred_to="other", referred_to_name="某市监察委员会")

    exported = {row["受理编号"]: row for row in export(reader, EXPORT, fmt)}

    assert set(exported) == {number, other}
    assert exported[number]["移送情况"] == (
        f"2026-03-02 移送公安机关（{POLICE_BODY}），文号：{LETTER}；{today_shanghai()} 移送某市监察委员会")
    assert exported[other]["移送情况"] in ("", None)
    assert exported[number]["状态"] == "调查核实中"

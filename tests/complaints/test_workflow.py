"""The regulators' handling workflow over HTTP: transitions, who may do what, deadlines, overdue, filters."""

from __future__ import annotations

import datetime as dt

import pytest

from api.database import utcnow
from api.models import DEPARTMENTS
from complaints import deadlines
from complaints.models import STATUSES
from complaints.service import TRANSITIONS
from tests.api.helpers import assert_error
from tests.complaints.workflow_helpers import act, action_data, advance, case_url, ids, submit, update_case

LIST = "/api/v1/complaints"


def _at(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def _track(client, receipt) -> dict:
    response = client.get("/api/v1/complaints/track", query_string={
        "tracking_no": receipt["tracking_no"], "query_code": receipt["query_code"]})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


# ---- the happy path ---------------------------------------------------------------------------

def test_a_case_goes_from_submitted_to_closed_and_the_timeline_records_every_action(
        client, health_case, health_officer, health_supervisor):
    number = health_case["tracking_no"]
    officer, supervisor = health_officer.account.id, health_supervisor.account.id

    steps = [
        (health_officer, "accept", {"note": "予以受理"}, "accepted"),
        (health_supervisor, "assign", {"handler_id": officer, "internal_note": "请尽快核查"}, "assigned"),
        (health_officer, "investigate", {"note": "已到现场核查", "internal_note": "现场照片已存档"}, "investigating"),
        (health_officer, "resolve", {"finding": "partly_substantiated", "note": "部分属实"}, "resolved"),
        (health_officer, "reply", {"note": "经核查，收费问题部分属实，已责令退费。"}, "replied"),
        (health_officer, "close", {}, "closed"),
    ]
    for persona, action, data, status in steps:
        response = act(persona, number, action, **data)
        assert response.status_code == 200, (action, response.get_json())
        assert response.get_json()["status"] == status

    case = health_officer.get(case_url(number)).get_json()
    assert case["status"] == "closed"
    assert case["handler_id"] == officer
    assert case["finding"] == "partly_substantiated"
    assert case["reply"] == "经核查，收费问题部分属实，已责令退费。"
    assert case["accepted_at"] and case["replied_at"] and case["closed_at"]
    timeline = case["timeline"]
    assert [e["action"] for e in timeline] == ["submit", "accept", "assign", "investigate", "resolve", "reply",
                                               "close"]
    assert [e["status"] for e in timeline] == ["submitted", "accepted", "assigned", "investigating", "resolved",
                                               "replied", "closed"]
    assert [e["actor_id"] for e in timeline] == [None, officer, supervisor, officer, officer, officer, officer]
    assert [e["note"] for e in timeline] == [None, "予以受理", None, "已到现场核查", "部分属实",
                                             "经核查，收费问题部分属实，已责令退费。", None]
    assert [e["internal_note"] for e in timeline] == [None, None, "请尽快核查", "现场照片已存档", None, None, None]
    assert {e["department"] for e in timeline} == {"health"}
    times = [_at(e["at"]) for e in timeline]
    assert times == sorted(times)


def test_the_complainant_sees_the_public_notes_and_reply_but_no_internal_note(
        client, health_case, health_officer, health_supervisor):
    number = health_case["tracking_no"]
    act(health_officer, number, "accept", note="予以受理")
    act(health_supervisor, number, "assign", handler_id=health_officer.account.id)
    act(health_officer, number, "investigate", note="已到现场核查", internal_note="举报人系同行")
    act(health_officer, number, "resolve", finding="substantiated")
    act(health_officer, number, "reply", note="已责令整改。")

    tracking = _track(client, health_case)

    assert tracking["status"] == "replied"
    assert tracking["reply"] == "已责令整改。"
    assert "已到现场核查" in [e["note"] for e in tracking["timeline"]]
    assert "举报人系同行" not in str(tracking)


def test_accepting_sets_the_reply_deadline_sixty_days_on(health_case, health_officer):
    case = act(health_officer, health_case["tracking_no"], "accept").get_json()

    assert case["status"] == "accepted"
    assert _at(case["reply_due_at"]) == deadlines.reply_due(_at(case["accepted_at"]))
    assert _at(case["reply_due_at"]) - _at(case["accepted_at"]) >= dt.timedelta(days=60)


def test_an_admin_may_act_on_any_departments_case(health_case, market_case, admin):
    assert act(admin, health_case["tracking_no"], "accept").get_json()["status"] == "accepted"
    assert act(admin, market_case["tracking_no"], "accept").get_json()["status"] == "accepted"


# ---- assigning --------------------------------------------------------------------------------

@pytest.fixture
def accepted_case(health_case, health_officer):
    assert act(health_officer, health_case["tracking_no"], "accept").status_code == 200
    return health_case


def test_a_supervisor_assigns_an_officer_of_the_department(accepted_case, health_supervisor, login):
    colleague = login("officer", department="health")

    response = act(health_supervisor, accepted_case["tracking_no"], "assign", handler_id=colleague.account.id)

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "assigned"
    assert response.get_json()["handler_id"] == colleague.account.id


def test_a_supervisor_may_assign_another_supervisor_and_reassign(accepted_case, health_supervisor, health_officer,
                                                                  login):
    other_supervisor = login("supervisor", department="health")
    number = accepted_case["tracking_no"]

    first = act(health_supervisor, number, "assign", handler_id=other_supervisor.account.id)
    second = act(health_supervisor, number, "assign", handler_id=health_officer.account.id)

    assert first.get_json()["handler_id"] == other_supervisor.account.id
    assert second.status_code == 200
    assert second.get_json()["handler_id"] == health_officer.account.id
    assert [e["action"] for e in second.get_json()["timeline"]].count("assign") == 2


@pytest.mark.parametrize("who", ["market_officer", "inactive_health_officer", "health_citizen",
                                 "institution_account", "an_admin", "unknown_id", "missing"])
def test_assigning_to_anyone_but_an_active_officer_of_the_department_is_refused(
        accepted_case, health_supervisor, login, session, clinic, who):
    if who == "market_officer":
        handler_id = login("officer", department="market").account.id
    elif who == "inactive_health_officer":
        persona = login("officer", department="health")
        persona.account.active = False
        session.commit()
        handler_id = persona.account.id
    elif who == "health_citizen":
        handler_id = login("citizen").account.id
    elif who == "institution_account":
        handler_id = login("institution", institution_id=clinic["id"]).account.id
    elif who == "an_admin":
        handler_id = login("admin").account.id
    elif who == "unknown_id":
        handler_id = 999_999
    else:
        handler_id = None
    data = {} if handler_id is None else {"handler_id": handler_id}

    response = act(health_supervisor, accepted_case["tracking_no"], "assign", **data)

    body = assert_error(response, 422, "VALIDATION_FAILED")
    assert "handler_id" in body["fields"]
    case = health_supervisor.get(case_url(accepted_case["tracking_no"])).get_json()
    assert (case["status"], case["handler_id"]) == ("accepted", None)
    assert "assign" not in [e["action"] for e in case["timeline"]]


def test_an_officer_cannot_assign(accepted_case, health_officer):
    response = act(health_officer, accepted_case["tracking_no"], "assign", handler_id=health_officer.account.id)

    assert_error(response, 403, "FORBIDDEN")
    assert health_officer.get(case_url(accepted_case["tracking_no"])).get_json()["status"] == "accepted"


# ---- notes and findings -----------------------------------------------------------------------

@pytest.mark.parametrize("data", [{}, {"note": None}, {"note": "   "}])
def test_rejecting_needs_a_note(health_case, health_officer, data):
    response = act(health_officer, health_case["tracking_no"], "reject", **data)

    body = assert_error(response, 422, "VALIDATION_FAILED")
    assert "note" in body["fields"]
    assert health_officer.get(case_url(health_case["tracking_no"])).get_json()["status"] == "submitted"


def test_a_rejected_case_is_final(client, health_case, health_officer, admin):
    number = health_case["tracking_no"]

    rejected = act(health_officer, number, "reject", note="不属于投诉受理范围")
    assert rejected.status_code == 200
    assert rejected.get_json()["status"] == "rejected"
    assert rejected.get_json()["timeline"][-1]["note"] == "不属于投诉受理范围"

    assert_error(act(health_officer, number, "accept"), 409, "INVALID_TRANSITION")
    assert_error(act(admin, number, "accept"), 409, "INVALID_TRANSITION")
    assert _track(client, health_case)["status"] == "rejected"


def test_resolving_needs_a_finding(health_case, health_officer, health_supervisor):
    number = health_case["tracking_no"]
    advance(health_supervisor, number, "investigating", handler_id=health_officer.account.id)

    missing = act(health_officer, number, "resolve", note="已处理")
    unknown = act(health_officer, number, "resolve", finding="maybe")

    assert "finding" in assert_error(missing, 422, "VALIDATION_FAILED")["fields"]
    assert "finding" in assert_error(unknown, 422, "VALIDATION_FAILED")["fields"]
    case = health_officer.get(case_url(number)).get_json()
    assert (case["status"], case["finding"]) == ("investigating", None)


def test_replying_needs_the_reply_as_a_note(health_case, health_officer, health_supervisor):
    number = health_case["tracking_no"]
    advance(health_supervisor, number, "resolved", handler_id=health_officer.account.id)

    response = act(health_officer, number, "reply")

    assert "note" in assert_error(response, 422, "VALIDATION_FAILED")["fields"]
    case = health_officer.get(case_url(number)).get_json()
    assert (case["status"], case["reply"]) == ("resolved", None)


def test_an_unknown_action_is_refused(health_case, health_officer):
    response = act(health_officer, health_case["tracking_no"], "approve")

    assert "action" in assert_error(response, 422, "VALIDATION_FAILED")["fields"]


# ---- the transition table, both ways ------------------------------------------------------------

INVALID = [(status, action) for status in STATUSES for action, rule in TRANSITIONS.items()
           if status not in rule.sources]
VALID = [(status, action) for action, rule in TRANSITIONS.items() for status in sorted(rule.sources)]


def test_the_transition_table_covers_every_status_and_action():
    assert {s for s, _ in INVALID} | {s for s, _ in VALID} == set(STATUSES)
    assert len(INVALID) + len(VALID) == len(STATUSES) * len(TRANSITIONS)
    assert {"rejected", "closed"} <= {s for s in STATUSES
                                      if all(s not in rule.sources for rule in TRANSITIONS.values())}


def test_an_invalid_transition_names_the_actions_the_status_allows(health_case, health_officer, health_supervisor):
    number = health_case["tracking_no"]
    advance(health_supervisor, number, "investigating", handler_id=health_officer.account.id)

    response = act(health_officer, number, "reply", note="已核实并处理")

    message = assert_error(response, 409, "INVALID_TRANSITION")["message"]
    assert "resolve（办结）" in message and "transfer（转办）" in message and "extend（延期）" in message
    assert "reply（答复）" not in message


@pytest.mark.parametrize(("status", "action"), INVALID, ids=[f"{a}-from-{s}" for s, a in INVALID])
def test_an_action_not_allowed_from_the_status_is_an_invalid_transition(
        health_case, health_officer, health_supervisor, status, action):
    number = health_case["tracking_no"]
    before = advance(health_supervisor, number, status, handler_id=health_officer.account.id)

    response = act(health_supervisor, number, action,
                   **action_data(action, handler_id=health_officer.account.id))

    assert_error(response, 409, "INVALID_TRANSITION")
    after = health_supervisor.get(case_url(number)).get_json()
    assert after["status"] == status
    assert len(after["timeline"]) == len(before["timeline"])
    assert after["department"] == "health"


@pytest.mark.parametrize(("status", "action"), VALID, ids=[f"{a}-from-{s}" for s, a in VALID])
def test_an_action_allowed_from_the_status_moves_the_case_as_the_table_says(
        health_case, health_officer, health_supervisor, status, action):
    number = health_case["tracking_no"]
    before = advance(health_supervisor, number, status, handler_id=health_officer.account.id)

    response = act(health_supervisor, number, action, **action_data(action, handler_id=health_officer.account.id))

    assert response.status_code == 200, response.get_json()
    case = response.get_json()
    assert case["status"] == (TRANSITIONS[action].target or status)
    assert len(case["timeline"]) == len(before["timeline"]) + 1
    assert case["timeline"][-1]["action"] == action
    assert case["timeline"][-1]["actor_id"] == health_supervisor.account.id


# ---- extending the reply deadline -------------------------------------------------------------

@pytest.mark.parametrize("data", [
    {"note": "需补充调查"},
    {"days": 0, "note": "需补充调查"},
    {"days": 31, "note": "需补充调查"},
    {"days": -5, "note": "需补充调查"},
    {"days": "10", "note": "需补充调查"},
    {"days": 10},
])
def test_an_extension_needs_1_to_30_days_and_a_note(accepted_case, health_officer, data):
    number = accepted_case["tracking_no"]
    before = health_officer.get(case_url(number)).get_json()

    response = act(health_officer, number, "extend", **data)

    assert_error(response, 422, "VALIDATION_FAILED")
    after = health_officer.get(case_url(number)).get_json()
    assert (after["reply_due_at"], after["extended_days"]) == (before["reply_due_at"], None)


def test_an_extension_moves_the_reply_deadline_once(client, accepted_case, health_officer):
    number = accepted_case["tracking_no"]
    due = _at(health_officer.get(case_url(number)).get_json()["reply_due_at"])

    extended = act(health_officer, number, "extend", days=30, note="需委托鉴定，延期答复")

    assert extended.status_code == 200, extended.get_json()
    case = extended.get_json()
    assert case["status"] == "accepted"
    assert case["extended_days"] == 30
    assert _at(case["reply_due_at"]) == deadlines.extended(due, 30)
    assert _at(case["reply_due_at"]) >= due + dt.timedelta(days=30)
    assert case["timeline"][-1]["action"] == "extend"
    # The reason is public: the complainant sees it.
    assert "需委托鉴定，延期答复" in [e["note"] for e in _track(client, accepted_case)["timeline"]]

    again = act(health_officer, number, "extend", days=5, note="再延期")

    assert_error(again, 409, "INVALID_TRANSITION")
    after = health_officer.get(case_url(number)).get_json()
    assert (after["extended_days"], after["reply_due_at"]) == (30, case["reply_due_at"])


def test_an_extension_is_possible_while_investigating(health_case, health_officer, health_supervisor):
    number = health_case["tracking_no"]
    before = advance(health_supervisor, number, "investigating", handler_id=health_officer.account.id)

    case = act(health_officer, number, "extend", days=7, note="等待检验报告").get_json()

    assert case["status"] == "investigating"
    assert _at(case["reply_due_at"]) == deadlines.extended(_at(before["reply_due_at"]), 7)


# ---- transfer ---------------------------------------------------------------------------------

def test_a_transfer_hands_the_case_to_another_department(health_case, health_officer, health_supervisor,
                                                         market_officer, session):
    number = health_case["tracking_no"]
    advance(health_supervisor, number, "assigned", handler_id=health_officer.account.id)
    long_ago = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    update_case(session, number, accept_due_at=long_ago)

    response = act(health_officer, number, "transfer", department="market", note="属于收费问题")

    assert response.status_code == 200, response.get_json()
    case = response.get_json()
    assert (case["status"], case["department"]) == ("submitted", "market")
    assert case["handler_id"] is None and case["accepted_at"] is None and case["reply_due_at"] is None
    event = case["timeline"][-1]
    assert (event["action"], event["status"], event["department"], event["note"]) == (
        "transfer", "submitted", "market", "属于收费问题")
    assert event["actor_id"] == health_officer.account.id
    assert _at(case["accept_due_at"]) == deadlines.accept_due(_at(event["at"]))
    assert _at(case["accept_due_at"]) > utcnow()

    assert_error(health_officer.get(case_url(number)), 404, "NOT_FOUND")
    assert_error(act(health_officer, number, "accept"), 404, "NOT_FOUND")
    assert number not in ids(health_officer.get(LIST).get_json())

    seen = market_officer.get(case_url(number))
    assert seen.status_code == 200
    assert seen.get_json()["department"] == "market"
    assert number in ids(market_officer.get(LIST).get_json())
    assert act(market_officer, number, "accept").get_json()["status"] == "accepted"


def test_a_transfer_without_a_note_says_where_the_case_went(health_case, health_officer):
    case = act(health_officer, health_case["tracking_no"], "transfer", department="market").get_json()

    assert DEPARTMENTS["market"] in case["timeline"][-1]["note"]


@pytest.mark.parametrize(("data", "field"), [
    ({"department": "health"}, "department"),
    ({}, "department"),
    ({"department": "tax"}, "department"),
])
def test_a_transfer_needs_another_existing_department(health_case, health_officer, data, field):
    number = health_case["tracking_no"]

    response = act(health_officer, number, "transfer", **data)

    assert field in assert_error(response, 422, "VALIDATION_FAILED")["fields"]
    case = health_officer.get(case_url(number)).get_json()
    assert (case["department"], len(case["timeline"])) == ("health", 1)


# ---- overdue ----------------------------------------------------------------------------------

def _overdue_lists(persona):
    return (ids(persona.get(LIST, query_string={"overdue": "true"}).get_json()),
            ids(persona.get(LIST, query_string={"overdue": "false"}).get_json()))


def test_a_case_not_accepted_by_its_deadline_is_overdue(client, clinic, health_officer, session):
    late = submit(client, {"institution_id": clinic["id"]})["tracking_no"]
    on_time = submit(client, {"institution_id": clinic["id"]})["tracking_no"]
    update_case(session, late, accept_due_at=utcnow() - dt.timedelta(hours=1))

    assert health_officer.get(case_url(late)).get_json()["overdue"] is True
    assert health_officer.get(case_url(on_time)).get_json()["overdue"] is False
    overdue, not_overdue = _overdue_lists(health_officer)
    assert overdue == [late]
    assert not_overdue == [on_time]


def test_a_case_not_replied_by_its_deadline_is_overdue(accepted_case, health_officer, session):
    number = accepted_case["tracking_no"]
    update_case(session, number, reply_due_at=utcnow() - dt.timedelta(minutes=5))

    case = health_officer.get(case_url(number)).get_json()
    assert case["overdue"] is True
    overdue, not_overdue = _overdue_lists(health_officer)
    assert number in overdue and number not in not_overdue


def test_an_accepted_case_is_judged_on_the_reply_deadline_not_the_accept_deadline(accepted_case, health_officer,
                                                                                  session):
    number = accepted_case["tracking_no"]
    update_case(session, number, accept_due_at=utcnow() - dt.timedelta(days=10))

    assert health_officer.get(case_url(number)).get_json()["overdue"] is False
    overdue, not_overdue = _overdue_lists(health_officer)
    assert number in not_overdue and number not in overdue


@pytest.mark.parametrize("status", ["rejected", "replied", "closed"])
def test_a_case_answered_in_time_or_not_is_no_longer_overdue(health_case, health_officer, health_supervisor,
                                                             session, status):
    number = health_case["tracking_no"]
    advance(health_supervisor, number, status, handler_id=health_officer.account.id)
    past = utcnow() - dt.timedelta(days=1)
    update_case(session, number, accept_due_at=past, **({} if status == "rejected" else {"reply_due_at": past}))

    assert health_officer.get(case_url(number)).get_json()["overdue"] is False
    overdue, not_overdue = _overdue_lists(health_officer)
    assert number in not_overdue and number not in overdue


def test_an_overdue_case_stops_being_overdue_when_the_deadline_is_extended(accepted_case, health_officer,
                                                                           session):
    number = accepted_case["tracking_no"]
    # Due yesterday in Beijing; an extension of 30 days moves it well into the future.
    yesterday = deadlines.end_of(deadlines.local_date(utcnow()) - dt.timedelta(days=1))
    update_case(session, number, reply_due_at=yesterday)
    assert health_officer.get(case_url(number)).get_json()["overdue"] is True

    case = act(health_officer, number, "extend", days=30, note="延期").get_json()

    assert case["overdue"] is False
    assert number not in _overdue_lists(health_officer)[0]


# ---- filters ----------------------------------------------------------------------------------

def _listed(persona, **query) -> list[str]:
    response = persona.get(LIST, query_string=query)
    assert response.status_code == 200, response.get_json()
    return sorted(ids(response.get_json()))


def test_the_list_filters_by_status_and_category(client, clinic, health_officer):
    quality = submit(client, {"institution_id": clinic["id"]})["tracking_no"]
    ethics = submit(client, {"institution_id": clinic["id"]}, category="attitude_ethics")["tracking_no"]
    act(health_officer, ethics, "accept")

    assert _listed(health_officer) == sorted([quality, ethics])
    assert _listed(health_officer, status="accepted") == [ethics]
    assert _listed(health_officer, status="submitted") == [quality]
    assert _listed(health_officer, category="attitude_ethics") == [ethics]
    assert _listed(health_officer, category="medical_quality") == [quality]
    assert _listed(health_officer, category="medical_quality", status="accepted") == []
    assert _listed(health_officer, status="closed") == []


def test_the_list_filters_by_institution(client, clinic, second_clinic, health_officer):
    here = submit(client, {"institution_id": clinic["id"]})["tracking_no"]
    elsewhere = submit(client, {"institution_id": second_clinic["id"]})["tracking_no"]

    assert _listed(health_officer, institution_id=second_clinic["id"]) == [elsewhere]
    assert _listed(health_officer, institution_id=clinic["id"]) == [here]
    assert _listed(health_officer, institution_id=clinic["id"], status="accepted") == []


def test_the_list_is_paged_newest_first(client, clinic, health_officer):
    numbers = [submit(client, {"institution_id": clinic["id"]})["tracking_no"] for _ in range(3)]

    first = health_officer.get(LIST, query_string={"page_size": 2}).get_json()
    second = health_officer.get(LIST, query_string={"page_size": 2, "page": 2}).get_json()

    assert (first["total"], first["page"], first["page_size"]) == (3, 1, 2)
    assert ids(first) + ids(second) == list(reversed(numbers))


def test_an_unknown_status_filter_is_refused(health_officer):
    assert_error(health_officer.get(LIST, query_string={"status": "lost"}), 422, "VALIDATION_FAILED")

"""Tracking (public): the number plus the secret query code; public notes only; a wrong code answers
exactly like an unknown number; rating once the case is replied to."""

from __future__ import annotations

import pytest

from tests.complaints.helpers import (
    act,
    advance,
    assert_error,
    assert_validation_error,
    complaint_body,
    named,
    submitted,
    track,
)

PUBLIC_EVENT_KEYS = {"status", "action", "at", "note"}
INTERNAL = "内部备注：投诉人与该诊所另有经济纠纷，勿外传"
PUBLIC = "已受理，将组织现场核查。"
UNKNOWN_NUMBER = "TS20260101999999"


def _rate(client, tracking_no, query_code, score=4, **extra):
    return client.post(f"/api/v1/complaints/{tracking_no}/rating",
                       json={"query_code": query_code, "score": score, **extra})


def _wrong(code: str) -> str:
    """A well-formed query code that is not `code`."""
    return ("23456789" if code != "23456789" else "98765432")


# ---- what tracking shows -----------------------------------------------------------------------

def test_tracking_shows_the_status_department_and_the_public_timeline(client, health_officer):
    receipt = submitted(client)
    act(health_officer, receipt["tracking_no"], "accept", note=PUBLIC, internal_note=INTERNAL)

    response = track(client, receipt["tracking_no"], receipt["query_code"])

    assert response.status_code == 200
    view = response.get_json()
    assert (view["tracking_no"], view["status"], view["department"]) == (receipt["tracking_no"], "accepted", "health")
    assert [(e["status"], e["note"]) for e in view["timeline"]] == [("submitted", None), ("accepted", PUBLIC)]
    for event in view["timeline"]:
        assert set(event) <= PUBLIC_EVENT_KEYS, event
    assert view["reply"] is None and view["rating"] is None


def test_internal_notes_never_appear_in_tracking_at_any_step(client, health_officer, health_supervisor, citizen):
    receipt = submitted(client, headers=citizen.headers)
    number, code = receipt["tracking_no"], receipt["query_code"]
    steps = [
        (health_officer, "accept", {}),
        (health_supervisor, "assign", {"handler_id": health_officer.account.id}),
        (health_officer, "investigate", {}),
        (health_officer, "resolve", {"finding": "partly_substantiated"}),
        (health_officer, "reply", {"note": "经核查，部分属实，已责令整改。"}),
        (health_officer, "close", {}),
    ]
    for serial, (persona, action, fields) in enumerate(steps):
        act(persona, number, action, internal_note=f"{INTERNAL}-{serial}", **fields)

        tracked = track(client, number, code).get_data(as_text=True)
        mine = citizen.get("/api/v1/me/complaints").get_data(as_text=True)

        for text in (tracked, mine):
            assert "内部备注" not in text and "internal_note" not in text, (action, text)


def test_tracking_never_names_the_staff_who_handled_the_case(client, health_officer):
    receipt = submitted(client)
    act(health_officer, receipt["tracking_no"], "accept", note=PUBLIC)

    text = track(client, receipt["tracking_no"], receipt["query_code"]).get_data(as_text=True)

    assert health_officer.account.username not in text
    assert "actor" not in text and "handler" not in text


def test_tracking_shows_the_reply_once_given(client, health_officer, health_supervisor):
    receipt = submitted(client)
    advance(receipt["tracking_no"], "replied", officer=health_officer, supervisor=health_supervisor,
            reply="经核查属实，已对该机构立案处理。")

    view = track(client, receipt["tracking_no"], receipt["query_code"]).get_json()

    assert view["status"] == "replied"
    assert view["reply"] == "经核查属实，已对该机构立案处理。"


def test_contact_data_never_appears_in_tracking(client, health_officer):
    receipt = submitted(client, named())
    read = health_officer.get(f"/api/v1/complaints/{receipt['tracking_no']}")
    assert read.get_json()["contact"] == {"name": "张三丰", "phone": "13912345678"}  # the department sees it
    act(health_officer, receipt["tracking_no"], "accept", note=PUBLIC)

    text = track(client, receipt["tracking_no"], receipt["query_code"]).get_data(as_text=True)

    assert "张三丰" not in text and "13912345678" not in text and "contact" not in text


# ---- the query code ----------------------------------------------------------------------------

def test_a_wrong_query_code_answers_like_an_unknown_number(client):
    receipt = submitted(client)

    wrong_code = track(client, receipt["tracking_no"], _wrong(receipt["query_code"]))
    unknown_number = track(client, UNKNOWN_NUMBER, receipt["query_code"])

    assert_error(wrong_code, 404, "NOT_FOUND")
    assert wrong_code.get_data() == unknown_number.get_data()
    assert wrong_code.status_code == unknown_number.status_code
    assert wrong_code.headers.get("Content-Type") == unknown_number.headers.get("Content-Type")


def test_another_cases_query_code_does_not_open_this_case(client):
    mine, theirs = submitted(client), submitted(client)

    response = track(client, mine["tracking_no"], theirs["query_code"])

    assert response.get_data() == track(client, UNKNOWN_NUMBER, theirs["query_code"]).get_data()
    assert_error(response, 404, "NOT_FOUND")


@pytest.mark.parametrize("spell", [str.lower, lambda c: c[:4] + "-" + c[4:], lambda c: f" {c[:4]} {c[4:].lower()} "],
                         ids=["lower-case", "grouped-with-a-hyphen", "spaced-and-mixed-case"])
def test_the_query_code_is_read_the_way_people_type_it(client, spell):
    receipt = submitted(client)

    response = track(client, receipt["tracking_no"], spell(receipt["query_code"]))

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["tracking_no"] == receipt["tracking_no"]


def test_tracking_without_a_query_code_is_refused(client):
    receipt = submitted(client)

    response = client.get("/api/v1/complaints/track", query_string={"tracking_no": receipt["tracking_no"]})

    assert_validation_error(response, "query_code")


# ---- rating ------------------------------------------------------------------------------------

def test_a_case_cannot_be_rated_before_the_reply(client, health_officer, health_supervisor):
    receipt = submitted(client)
    assert_error(_rate(client, receipt["tracking_no"], receipt["query_code"]), 409, "INVALID_TRANSITION")
    advance(receipt["tracking_no"], "resolved", officer=health_officer, supervisor=health_supervisor)

    response = _rate(client, receipt["tracking_no"], receipt["query_code"])

    assert_error(response, 409, "INVALID_TRANSITION")
    assert track(client, receipt["tracking_no"], receipt["query_code"]).get_json()["rating"] is None


def test_a_replied_case_can_be_rated_and_tracking_shows_the_rating(client, health_officer, health_supervisor):
    receipt = submitted(client)
    advance(receipt["tracking_no"], "replied", officer=health_officer, supervisor=health_supervisor)

    response = _rate(client, receipt["tracking_no"], receipt["query_code"], score=4, comment="处理及时，态度很好。")

    assert response.status_code == 200, response.get_json()
    rating = response.get_json()["rating"]
    assert (rating["score"], rating["comment"]) == (4, "处理及时，态度很好。")
    assert track(client, receipt["tracking_no"], receipt["query_code"]).get_json()["rating"]["score"] == 4


def test_a_closed_case_can_be_rated(client, health_officer, health_supervisor):
    receipt = submitted(client)
    advance(receipt["tracking_no"], "closed", officer=health_officer, supervisor=health_supervisor)

    response = _rate(client, receipt["tracking_no"], receipt["query_code"], score=5)

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["rating"]["score"] == 5


def test_a_case_is_rated_only_once(client, health_officer, health_supervisor):
    receipt = submitted(client)
    advance(receipt["tracking_no"], "replied", officer=health_officer, supervisor=health_supervisor)
    assert _rate(client, receipt["tracking_no"], receipt["query_code"], score=2).status_code == 200

    second = _rate(client, receipt["tracking_no"], receipt["query_code"], score=5)

    assert second.status_code == 409
    assert second.get_json()["code"] in {"INVALID_TRANSITION", "CONFLICT"}
    assert track(client, receipt["tracking_no"], receipt["query_code"]).get_json()["rating"]["score"] == 2


@pytest.mark.parametrize("score", [0, 6, -1, "5", 4.5, None])
def test_a_score_outside_one_to_five_is_refused(client, health_officer, health_supervisor, score):
    receipt = submitted(client)
    advance(receipt["tracking_no"], "replied", officer=health_officer, supervisor=health_supervisor)

    response = _rate(client, receipt["tracking_no"], receipt["query_code"], score=score)

    assert_validation_error(response, "score")
    assert track(client, receipt["tracking_no"], receipt["query_code"]).get_json()["rating"] is None


def test_rating_with_a_wrong_code_answers_like_an_unknown_number(client, health_officer, health_supervisor):
    receipt = submitted(client)
    advance(receipt["tracking_no"], "replied", officer=health_officer, supervisor=health_supervisor)

    wrong_code = _rate(client, receipt["tracking_no"], _wrong(receipt["query_code"]))
    unknown_number = _rate(client, UNKNOWN_NUMBER, receipt["query_code"])

    assert_error(wrong_code, 404, "NOT_FOUND")
    assert wrong_code.get_data() == unknown_number.get_data()
    assert track(client, receipt["tracking_no"], receipt["query_code"]).get_json()["rating"] is None


def test_tracking_a_case_filed_in_another_category_shows_its_own_department(client):
    receipt = submitted(client, complaint_body(category="medical_waste_transfer"))

    view = track(client, receipt["tracking_no"], receipt["query_code"]).get_json()

    assert view["department"] == "ecology"

"""The H5 tracking page /track: tracking number plus query code show the case's status, department,
public timeline and reply; a wrong code looks exactly like an unknown number."""

from __future__ import annotations

import pytest

from tests.complaints.helpers import act, complaint_body, submitted
from tests.public.h5_helpers import Page, assert_accessible, complain, receipt_of

UNKNOWN_NUMBER = "TS20260101999999"


@pytest.fixture
def case(client):
    """A complaint about medical quality (handled by health), filed through the API: its receipt."""
    return submitted(client, complaint_body())


def _track(client, tracking_no, query_code, method="post"):
    if method == "get":
        return client.get("/track", query_string={"tracking_no": tracking_no, "query_code": query_code})
    return client.post("/track", data={"tracking_no": tracking_no, "query_code": query_code})


def test_the_empty_page_is_a_labelled_form(client):
    response = client.get("/track")

    assert response.status_code == 200
    page = assert_accessible(response.get_data(as_text=True))
    assert {c["name"] for c in page.controls} == {"tracking_no", "query_code"}
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]


def test_a_number_in_the_address_is_filled_in_and_the_code_asked_for(client, case):
    response = client.get("/track", query_string={"tracking_no": case["tracking_no"]})

    page = Page(response.get_data(as_text=True))
    assert response.status_code == 200
    assert page.control("tracking_no")["value"] == case["tracking_no"]
    assert page.control("query_code")["value"] == ""


def test_a_case_shows_its_status_department_and_timeline(client, case):
    response = _track(client, case["tracking_no"], case["query_code"])

    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert_accessible(text)
    assert 'data-status="submitted"' in text and "待受理" in text
    assert "卫生健康委" in text and "医疗质量与安全" in text
    assert "受理期限" in text
    assert text.count("<li data-status=") == 1
    assert response.headers["Cache-Control"] == "no-store"


def test_the_address_form_of_the_query_works_too(client, case):
    response = _track(client, case["tracking_no"], case["query_code"], method="get")

    assert response.status_code == 200
    assert 'data-status="submitted"' in response.get_data(as_text=True)


def test_the_code_may_be_typed_in_lower_case_with_spaces(client, case):
    code = case["query_code"]

    response = _track(client, case["tracking_no"].lower(), f" {code[:4].lower()} {code[4:].lower()} ")

    assert response.status_code == 200


def test_a_replied_case_shows_the_reply_and_public_notes_only(client, case, health_officer, health_supervisor):
    number = case["tracking_no"]
    act(health_officer, number, "accept", note="已受理，将派员核查", internal_note="内部：先查病历")
    act(health_supervisor, number, "assign", handler_id=health_officer.account.id)
    act(health_officer, number, "investigate")
    act(health_officer, number, "resolve", finding="substantiated")
    act(health_officer, number, "reply", note="经核查，情况属实，已责令整改。")

    text = _track(client, case["tracking_no"], case["query_code"]).get_data(as_text=True)

    assert 'data-status="replied"' in text and "已答复" in text
    assert "经核查，情况属实，已责令整改。" in text
    assert "已受理，将派员核查" in text
    assert "内部：先查病历" not in text
    assert health_officer.account.username not in text


def test_a_case_filed_on_the_form_can_be_followed(client, session, clinic):
    tracking_no, query_code = receipt_of(complain(client, clinic["code"]["token"]))

    response = _track(client, tracking_no, query_code)

    assert response.status_code == 200
    assert tracking_no in response.get_data(as_text=True)


def test_a_wrong_code_looks_exactly_like_an_unknown_number(client, case):
    wrong_code = _track(client, case["tracking_no"], "WRONGCODE")
    unknown = _track(client, UNKNOWN_NUMBER, case["query_code"])

    assert wrong_code.status_code == unknown.status_code == 404
    assert wrong_code.mimetype == "text/html"
    assert "查询码与受理编号不匹配，或该投诉不存在" in wrong_code.get_data(as_text=True)
    same = wrong_code.get_data(as_text=True).replace(case["tracking_no"], "NUMBER")
    assert same == unknown.get_data(as_text=True).replace(UNKNOWN_NUMBER, "NUMBER")
    assert "已提交" not in wrong_code.get_data(as_text=True)


@pytest.mark.parametrize("tracking_no, query_code, field, message", [
    ("", "ABCDEFGH", "tracking_no", "请填写受理编号"),
    ("TS2026", "ABCDEFGH", "tracking_no", "格式不正确"),
    ("TS20260101000001", "", "query_code", "请填写查询码"),
    ("TS20260101000001", "X" * 21, "query_code", "格式不正确"),
    ("TS2026010100000\x00", "ABCDEFGH", "tracking_no", "格式不正确"),
])
def test_malformed_input_brings_the_form_back_with_a_message(client, tracking_no, query_code, field, message):
    response = _track(client, tracking_no, query_code)

    assert response.status_code == 422
    page = assert_accessible(response.get_data(as_text=True))
    assert message in page.error_for(field)


def test_too_many_lookups_get_a_page_saying_so(make_app):
    app = make_app(RATELIMIT_ENABLED=True, QUERY_CODE_RATE_LIMIT="2 per minute")
    with app.app_context():
        client = app.test_client()

        first_two = [_track(client, UNKNOWN_NUMBER, "ABCDEFGH") for _ in range(2)]
        third = _track(client, UNKNOWN_NUMBER, "ABCDEFGH")

        assert [r.status_code for r in first_two] == [404, 404]
        assert third.status_code == 429
        assert third.mimetype == "text/html" and "过于频繁" in third.get_data(as_text=True)
        assert third.headers["Retry-After"].isdigit()
        assert client.get("/track").status_code == 200  # the empty form is not counted


def test_a_chunked_form_over_the_size_limit_answers_413_not_a_form_cut_short(make_app):
    """Sent with Transfer-Encoding: chunked (no Content-Length), the body's size is known only as it is
    read: the part within the limit must not be taken for the whole form."""
    import io

    app = make_app(MAX_CONTENT_LENGTH=1024)
    body = b"tracking_no=" + UNKNOWN_NUMBER.encode() + b"&query_code=ABCD2345&note=" + b"x" * 2048

    response = app.test_client().post("/track", input_stream=io.BytesIO(body),
                                      content_type="application/x-www-form-urlencoded",
                                      headers={"Transfer-Encoding": "chunked"},
                                      environ_overrides={"wsgi.input_terminated": True})

    assert response.status_code == 413
    assert response.mimetype == "text/html"

"""Submitting and tracking are rate limited per client address: 429 RATE_LIMITED with Retry-After,
in memory and (when ONECODE_TEST_REDIS_URL is set) in Redis, as production runs it."""

from __future__ import annotations

import io
import os
import uuid

import pytest
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from tests.complaints.helpers import (
    assert_error,
    complaint_body,
    pdf,
    rows,
    submit,
    track,
)

REDIS_URL = os.environ.get("ONECODE_TEST_REDIS_URL")


def _redis(**settings) -> dict:
    return {"RATELIMIT_STORAGE_URI": REDIS_URL, "RATELIMIT_KEY_PREFIX": f"onecode-test-{uuid.uuid4().hex}",
            **settings}


def _assert_rate_limited(response):
    assert_error(response, 429, "RATE_LIMITED")
    retry_after = response.headers.get("Retry-After")
    assert retry_after is not None and retry_after.isdigit(), dict(response.headers)
    assert 0 < int(retry_after) <= 60


def _assert_fourth_submission_is_limited(app):
    client = app.test_client()

    first_three = [submit(client) for _ in range(3)]
    fourth = submit(client)

    assert [r.status_code for r in first_three] == [201, 201, 201], [r.get_json() for r in first_three]
    _assert_rate_limited(fourth)
    with app.app_context():
        assert rows("complaints") == 3


def _assert_fourth_tracking_is_limited(app):
    client = app.test_client()
    receipt = submit(client).get_json()

    first_three = [track(client, receipt["tracking_no"], receipt["query_code"]) for _ in range(3)]
    fourth = track(client, receipt["tracking_no"], receipt["query_code"])

    assert [r.status_code for r in first_three] == [200, 200, 200]
    _assert_rate_limited(fourth)


def test_the_fourth_submission_in_a_minute_is_rate_limited(make_app):
    app = make_app(RATELIMIT_ENABLED=True, COMPLAINT_RATE_LIMIT="3 per minute")

    _assert_fourth_submission_is_limited(app)


def test_refused_submissions_count_towards_the_limit(make_app):
    app = make_app(RATELIMIT_ENABLED=True, COMPLAINT_RATE_LIMIT="3 per minute")
    client = app.test_client()

    refused = [submit(client, complaint_body(content="太短")) for _ in range(3)]
    valid = submit(client)

    assert [r.status_code for r in refused] == [422, 422, 422]
    _assert_rate_limited(valid)
    with app.app_context():
        assert rows("complaints") == 0


def test_the_categories_are_not_limited_by_the_submission_limit(make_app):
    app = make_app(RATELIMIT_ENABLED=True, COMPLAINT_RATE_LIMIT="3 per minute")
    client = app.test_client()

    answers = [client.get("/api/v1/complaints/categories").status_code for _ in range(5)]

    assert answers == [200] * 5


def test_the_fourth_tracking_request_in_a_minute_is_rate_limited(make_app):
    app = make_app(RATELIMIT_ENABLED=True, QUERY_CODE_RATE_LIMIT="3 per minute")

    _assert_fourth_tracking_is_limited(app)


def test_wrong_query_codes_count_towards_the_tracking_limit(make_app):
    app = make_app(RATELIMIT_ENABLED=True, QUERY_CODE_RATE_LIMIT="3 per minute")
    client = app.test_client()
    receipt = submit(client).get_json()
    wrong = "23456789" if receipt["query_code"] != "23456789" else "98765432"

    guesses = [track(client, receipt["tracking_no"], wrong) for _ in range(3)]
    right = track(client, receipt["tracking_no"], receipt["query_code"])

    assert [r.status_code for r in guesses] == [404, 404, 404]
    _assert_rate_limited(right)


def test_submissions_and_tracking_are_not_limited_when_rate_limiting_is_off(make_app):
    app = make_app(RATELIMIT_ENABLED=False, COMPLAINT_RATE_LIMIT="3 per minute", QUERY_CODE_RATE_LIMIT="3 per minute")
    client = app.test_client()

    receipts = [submit(client) for _ in range(5)]
    tracked = [track(client, receipts[0].get_json()["tracking_no"], receipts[0].get_json()["query_code"])
               for _ in range(5)]

    assert [r.status_code for r in receipts] == [201] * 5
    assert [r.status_code for r in tracked] == [200] * 5


@pytest.mark.skipif(not REDIS_URL, reason="ONECODE_TEST_REDIS_URL is not set")
def test_the_fourth_submission_is_rate_limited_with_redis_storage(make_app):
    app = make_app(**_redis(RATELIMIT_ENABLED=True, COMPLAINT_RATE_LIMIT="3 per minute"))

    _assert_fourth_submission_is_limited(app)


@pytest.mark.skipif(not REDIS_URL, reason="ONECODE_TEST_REDIS_URL is not set")
def test_the_fourth_tracking_request_is_rate_limited_with_redis_storage(make_app):
    app = make_app(**_redis(RATELIMIT_ENABLED=True, QUERY_CODE_RATE_LIMIT="3 per minute"))

    _assert_fourth_tracking_is_limited(app)


def test_rating_attempts_are_limited_like_tracking(make_app):
    app = make_app(RATELIMIT_ENABLED=True, QUERY_CODE_RATE_LIMIT="3 per minute")
    client = app.test_client()
    receipt = submit(client).get_json()
    path = f"/api/v1/complaints/{receipt['tracking_no']}/rating"

    guesses = [client.post(path, json={"query_code": f"2345678{n}", "score": 5}) for n in range(3)]
    fourth = client.post(path, json={"query_code": receipt["query_code"], "score": 5})

    assert [r.status_code for r in guesses] == [404, 404, 404]
    _assert_rate_limited(fourth)


def test_uploads_are_rate_limited(make_app):
    app = make_app(RATELIMIT_ENABLED=True, UPLOAD_RATE_LIMIT="3 per minute")
    client = app.test_client()
    receipt = submit(client).get_json()

    def attempt(serial):
        return _upload(client, receipt, receipt["query_code"], serial)

    first_three = [attempt(n) for n in range(3)]
    fourth = attempt(3)

    assert [r.status_code for r in first_three] == [201, 201, 201]
    _assert_rate_limited(fourth)
    with app.app_context():
        assert rows("complaint_attachments") == 3


def _upload(client, receipt, query_code, serial=0):
    boundary, body = encode_multipart({"query_code": query_code,
                                       "file": FileStorage(io.BytesIO(pdf(serial)), filename="x.pdf")})
    return client.post(f"/api/v1/complaints/{receipt['tracking_no']}/attachments", data=body,
                       content_type=f"multipart/form-data; boundary={boundary}")


def _every_check_of_a_query_code(client, receipt, code):
    """One attempt at each place that checks a query code: API tracking, the H5 page (form post and
    address), rating, an attachment upload."""
    tracking_no = receipt["tracking_no"]
    return {
        "api track": lambda: track(client, tracking_no, code),
        "h5 track": lambda: client.post("/track", data={"tracking_no": tracking_no, "query_code": code}),
        "h5 track in the address": lambda: client.get("/track", query_string={"tracking_no": tracking_no,
                                                                              "query_code": code}),
        "rating": lambda: client.post(f"/api/v1/complaints/{tracking_no}/rating", json={"query_code": code, "score": 5}),
        "upload": lambda: _upload(client, receipt, code),
    }


def _wrong_code(receipt) -> str:
    return "23456789" if receipt["query_code"] != "23456789" else "98765432"


def _assert_one_bucket_for_every_check(app):
    client = app.test_client()
    receipt = submit(client).get_json()
    checks = _every_check_of_a_query_code(client, receipt, _wrong_code(receipt))

    guesses = {name: check().status_code for name, check in checks.items()}

    assert guesses == {"api track": 404, "h5 track": 404, "h5 track in the address": 404, "rating": 404, "upload": 404}
    for name, check in _every_check_of_a_query_code(client, receipt, receipt["query_code"]).items():
        response = check()
        assert response.status_code == 429, (name, response.status_code)
        assert response.headers.get("Retry-After", "").isdigit(), name


def test_every_check_of_a_query_code_draws_on_one_bucket_per_address(make_app):
    """Tracking (API and H5), rating and uploads each check a query code: a guesser gets the limit once
    in all, not once per endpoint."""
    app = make_app(RATELIMIT_ENABLED=True, QUERY_CODE_RATE_LIMIT="5 per minute")

    _assert_one_bucket_for_every_check(app)


@pytest.mark.skipif(not REDIS_URL, reason="ONECODE_TEST_REDIS_URL is not set")
def test_every_check_of_a_query_code_draws_on_one_bucket_in_redis(make_app):
    settings = _redis(RATELIMIT_ENABLED=True, QUERY_CODE_RATE_LIMIT="5 per minute")
    app = make_app(**settings)

    _assert_one_bucket_for_every_check(app)

    import redis

    connection = redis.Redis.from_url(REDIS_URL)
    try:
        keys = [k.decode() for k in connection.keys(f"*{settings['RATELIMIT_KEY_PREFIX']}*")]
    finally:
        connection.close()
    assert [k for k in keys if "query_code" in k], keys


def test_another_address_has_its_own_bucket(make_app):
    app = make_app(RATELIMIT_ENABLED=True, QUERY_CODE_RATE_LIMIT="2 per minute")
    client = app.test_client()
    receipt = submit(client).get_json()
    for _ in range(2):
        track(client, receipt["tracking_no"], _wrong_code(receipt))

    elsewhere = client.get("/api/v1/complaints/track", environ_base={"REMOTE_ADDR": "198.51.100.7"},
                           query_string={"tracking_no": receipt["tracking_no"], "query_code": receipt["query_code"]})

    assert elsewhere.status_code == 200
    _assert_rate_limited(track(client, receipt["tracking_no"], receipt["query_code"]))


def test_the_query_code_limit_is_thirty_a_minute_by_default(make_app):
    app = make_app(RATELIMIT_ENABLED=True)
    client = app.test_client()
    receipt = submit(client).get_json()
    checks = list(_every_check_of_a_query_code(client, receipt, _wrong_code(receipt)).values())

    answers = [checks[n % len(checks)]().status_code for n in range(31)]

    assert app.config["QUERY_CODE_RATE_LIMIT"] == "30 per minute"
    assert 429 not in answers[:30] and answers[30] == 429, answers

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
    app = make_app(RATELIMIT_ENABLED=True, TRACK_RATE_LIMIT="3 per minute")

    _assert_fourth_tracking_is_limited(app)


def test_wrong_query_codes_count_towards_the_tracking_limit(make_app):
    app = make_app(RATELIMIT_ENABLED=True, TRACK_RATE_LIMIT="3 per minute")
    client = app.test_client()
    receipt = submit(client).get_json()
    wrong = "23456789" if receipt["query_code"] != "23456789" else "98765432"

    guesses = [track(client, receipt["tracking_no"], wrong) for _ in range(3)]
    right = track(client, receipt["tracking_no"], receipt["query_code"])

    assert [r.status_code for r in guesses] == [404, 404, 404]
    _assert_rate_limited(right)


def test_submissions_and_tracking_are_not_limited_when_rate_limiting_is_off(make_app):
    app = make_app(RATELIMIT_ENABLED=False, COMPLAINT_RATE_LIMIT="3 per minute", TRACK_RATE_LIMIT="3 per minute")
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
    app = make_app(**_redis(RATELIMIT_ENABLED=True, TRACK_RATE_LIMIT="3 per minute"))

    _assert_fourth_tracking_is_limited(app)


def test_rating_attempts_are_limited_like_tracking(make_app):
    app = make_app(RATELIMIT_ENABLED=True, TRACK_RATE_LIMIT="3 per minute")
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
    path = f"/api/v1/complaints/{receipt['tracking_no']}/attachments"

    def attempt(serial):
        boundary, body = encode_multipart({"query_code": receipt["query_code"],
                                           "file": FileStorage(io.BytesIO(pdf(serial)), filename="x.pdf")})
        return client.post(path, data=body, content_type=f"multipart/form-data; boundary={boundary}")

    first_three = [attempt(n) for n in range(3)]
    fourth = attempt(3)

    assert [r.status_code for r in first_three] == [201, 201, 201]
    _assert_rate_limited(fourth)
    with app.app_context():
        assert rows("complaint_attachments") == 3

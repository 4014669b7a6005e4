"""Login attempts are rate limited per client address: 429 RATE_LIMITED with Retry-After."""

from __future__ import annotations

import os
import uuid

import pytest

from tests.api.helpers import assert_error, log_in

REDIS_URL = os.environ.get("ONECODE_TEST_REDIS_URL")


def _assert_fourth_attempt_is_limited(app):
    client = app.test_client()

    first_three = [log_in(client, "nobody", "wrong-password-here") for _ in range(3)]
    fourth = log_in(client, "nobody", "wrong-password-here")

    for response in first_three:
        assert_error(response, 401, "INVALID_CREDENTIALS")
    assert_error(fourth, 429, "RATE_LIMITED")
    retry_after = fourth.headers.get("Retry-After")
    assert retry_after is not None and retry_after.isdigit(), fourth.headers
    assert 0 < int(retry_after) <= 60


def test_the_fourth_login_attempt_in_a_minute_is_rate_limited(make_app):
    app = make_app(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute")

    _assert_fourth_attempt_is_limited(app)


def test_the_limit_counts_successful_logins_too(make_app):
    app = make_app(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute")
    with app.app_context():
        from api import accounts
        from api.database import db

        accounts.create_account(session=db.session, username="busy-admin", password="a-long-test-password",
                                role="admin")
        db.session.commit()
    client = app.test_client()

    answers = [log_in(client, "busy-admin").status_code for _ in range(4)]

    assert answers == [200, 200, 200, 429]


def test_logins_are_not_limited_when_rate_limiting_is_off(make_app):
    app = make_app(RATELIMIT_ENABLED=False, LOGIN_RATE_LIMIT="3 per minute")
    client = app.test_client()

    answers = [log_in(client, "nobody", "wrong-password-here").status_code for _ in range(5)]

    assert answers == [401] * 5


@pytest.mark.skipif(not REDIS_URL, reason="ONECODE_TEST_REDIS_URL is not set")
def test_the_fourth_login_attempt_is_rate_limited_with_redis_storage(make_app):
    prefix = f"onecode-test-{uuid.uuid4().hex}"
    app = make_app(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute", RATELIMIT_STORAGE_URI=REDIS_URL,
                   RATELIMIT_KEY_PREFIX=prefix)

    _assert_fourth_attempt_is_limited(app)

    assert _redis_keys(prefix)  # counted in Redis, not in a process's memory


class _Clock:
    """Stands in for the time module inside the in-memory limit storage, so a minute passes at once."""

    def __init__(self, now: float):
        self.now = now

    def time(self) -> float:
        return self.now


def test_the_limit_counts_the_last_minute_so_no_burst_fits_across_a_window_edge(make_app, monkeypatch):
    """A fixed window opened by the first attempt would forget all three attempts 60 s after the first;
    the moving window still counts the two made later."""
    import limits.storage.memory

    clock = _Clock(1_796_083_200.0)
    monkeypatch.setattr(limits.storage.memory, "time", clock)
    app = make_app(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute")
    client = app.test_client()

    answers = [log_in(client, "nobody", "wrong-password-here").status_code]
    clock.now += 50
    answers += [log_in(client, "nobody", "wrong-password-here").status_code for _ in range(2)]
    clock.now += 15
    answers += [log_in(client, "nobody", "wrong-password-here").status_code for _ in range(2)]

    assert answers == [401, 401, 401, 401, 429]


def test_with_its_redis_down_the_limiter_keeps_counting_in_memory_instead_of_failing_requests(make_app):
    app = make_app(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute",
                   RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0")  # port 1: connection refused

    _assert_fourth_attempt_is_limited(app)


@pytest.mark.skipif(not REDIS_URL, reason="ONECODE_TEST_REDIS_URL is not set")
def test_an_app_with_a_live_redis_counts_there_even_after_another_app_found_its_redis_down(make_app):
    down = make_app(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute", RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0")
    log_in(down.test_client(), "nobody", "wrong-password-here")  # finds Redis down, falls back to memory
    prefix = f"onecode-test-{uuid.uuid4().hex}"
    app = make_app(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute", RATELIMIT_STORAGE_URI=REDIS_URL,
                   RATELIMIT_KEY_PREFIX=prefix)

    _assert_fourth_attempt_is_limited(app)

    assert _redis_keys(prefix)


def _redis_keys(prefix: str) -> list:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        return client.keys(f"*{prefix}*")
    finally:
        client.close()

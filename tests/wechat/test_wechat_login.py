"""WeChat mini-program login: POST /api/v1/auth/wechat {code} (API.md, Accounts and auth).

The app exchanges the code at {WECHAT_API_BASE}/sns/jscode2session; here that is a real HTTP server on
127.0.0.1 (tests/fake_wechat.py) speaking WeChat's protocol, so httpx, its timeouts and the sockets are
the real ones.
"""

from __future__ import annotations

import logging
import time

import httpx
import pytest
import sqlalchemy as sa

from api.database import db
from api.models import Account
from tests.api.helpers import assert_error, bearer
from tests.complaints.helpers import complaint_body
from tests.fake_wechat import JSCODE2SESSION
from tests.wechat.conftest import APPID, SECRET

WECHAT_LOGIN = "/api/v1/auth/wechat"
TOKEN_KEYS = {"access_token", "refresh_token", "token_type", "expires_in", "account"}


def wx_login(client, code):
    return client.post(WECHAT_LOGIN, json={"code": code})


def logged_in(client, code) -> dict:
    response = wx_login(client, code)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json


def accounts_with_openid(openid: str) -> int:
    with db.engine.connect() as connection:
        return connection.scalar(sa.select(sa.func.count()).select_from(Account.__table__)
                                 .where(Account.__table__.c.wechat_openid == openid))


def account_rows() -> int:
    with db.engine.connect() as connection:
        return connection.scalar(sa.select(sa.func.count()).select_from(Account.__table__))


# ---- success ----------------------------------------------------------------------------------

def test_a_valid_code_logs_a_citizen_in(client, wechat):
    wechat.add_login("code-1", "openid-alice")

    response = wx_login(client, "code-1")

    assert response.status_code == 200, response.json
    body = response.json
    assert set(body) == TOKEN_KEYS
    assert body["token_type"] == "Bearer"
    assert body["access_token"] and body["refresh_token"]
    assert body["account"]["role"] == "citizen"
    assert body["account"]["department"] is None and body["account"]["institution_id"] is None
    assert "openid-alice" not in body["account"]["username"]  # an opaque username, not the openid


def test_the_code_is_exchanged_at_jscode2session_with_the_apps_credentials(client, wechat):
    wechat.add_login("code-1", "openid-alice")

    logged_in(client, "code-1")

    [call] = wechat.calls()
    assert call.method == "GET" and call.path == JSCODE2SESSION
    assert call.query == {"appid": APPID, "secret": SECRET, "js_code": "code-1",
                          "grant_type": "authorization_code"}


def test_the_wechat_access_token_opens_the_api_as_that_citizen(client, wechat):
    wechat.add_login("code-1", "openid-alice")
    tokens = logged_in(client, "code-1")

    me = client.get("/api/v1/me", headers=bearer(tokens["access_token"]))

    assert me.status_code == 200, me.json
    assert me.json["id"] == tokens["account"]["id"]
    assert me.json["role"] == "citizen"


def test_the_wechat_refresh_token_rotates_like_any_other(client, wechat):
    wechat.add_login("code-1", "openid-alice")
    tokens = logged_in(client, "code-1")

    response = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})

    assert response.status_code == 200, response.json
    assert response.json["account"]["id"] == tokens["account"]["id"]


def test_the_same_openid_logs_in_to_the_same_account(client, wechat):
    wechat.add_login("code-1", "openid-alice")
    wechat.add_login("code-2", "openid-alice")

    first = logged_in(client, "code-1")
    second = logged_in(client, "code-2")

    assert second["account"]["id"] == first["account"]["id"]
    assert second["account"]["username"] == first["account"]["username"]
    assert accounts_with_openid("openid-alice") == 1


def test_different_openids_get_different_accounts(client, wechat):
    wechat.add_login("code-1", "openid-alice")
    wechat.add_login("code-2", "openid-bob")

    alice = logged_in(client, "code-1")
    bob = logged_in(client, "code-2")

    assert alice["account"]["id"] != bob["account"]["id"]


def test_a_new_openid_with_a_known_unionid_is_linked_to_that_account(client, wechat):
    wechat.add_login("code-1", "openid-in-app-a", unionid="union-alice")
    wechat.add_login("code-2", "openid-in-app-b", unionid="union-alice")

    first = logged_in(client, "code-1")
    second = logged_in(client, "code-2")

    assert second["account"]["id"] == first["account"]["id"]
    assert account_rows() == 1


def test_a_unionid_first_seen_later_is_kept_on_the_account(client, session, wechat):
    wechat.add_login("code-1", "openid-alice")
    wechat.add_login("code-2", "openid-alice", unionid="union-alice")
    wechat.add_login("code-3", "openid-alice-other-app", unionid="union-alice")

    first = logged_in(client, "code-1")
    assert session.get(Account, first["account"]["id"]).wechat_unionid is None
    logged_in(client, "code-2")
    session.expire_all()
    assert session.get(Account, first["account"]["id"]).wechat_unionid == "union-alice"

    third = logged_in(client, "code-3")

    assert third["account"]["id"] == first["account"]["id"]


def test_the_session_key_is_never_returned_or_logged(client, wechat, caplog):
    caplog.set_level(logging.DEBUG)
    session_key = wechat.add_login("code-1", "openid-alice", unionid="union-alice",
                                   session_key="SESSION-KEY-tiWc8pQ2Yx7Z+abc==")

    response = wx_login(client, "code-1")

    assert response.status_code == 200
    raw = response.get_data()
    assert session_key.encode() not in raw
    assert b"session_key" not in raw
    assert all(session_key not in value for _, value in response.headers.items())
    assert session_key not in caplog.text
    assert all(session_key not in str(record.args) for record in caplog.records)


def test_the_session_key_is_stored_nowhere(client, wechat):
    session_key = wechat.add_login("code-1", "openid-alice", session_key="SESSION-KEY-stored-nowhere")

    logged_in(client, "code-1")

    with db.engine.connect() as connection:
        for table in db.metadata.sorted_tables:
            for row in connection.execute(sa.select(table)):
                assert session_key not in repr(tuple(row)), table.name


def test_the_app_secret_is_never_logged(client, wechat, caplog):
    """The AppSecret travels in jscode2session's query string: a log line of the request URL (for
    example httpx's own INFO 'HTTP Request: GET …') would write it to every log on every login."""
    caplog.set_level(logging.DEBUG)
    wechat.add_login("code-1", "openid-alice")

    logged_in(client, "code-1")

    assert SECRET not in caplog.text


def test_a_wechat_citizen_files_a_complaint_and_finds_it_under_me(client, wechat):
    wechat.add_login("code-1", "openid-alice")
    tokens = logged_in(client, "code-1")
    headers = bearer(tokens["access_token"])

    filed = client.post("/api/v1/complaints", json=complaint_body(), headers=headers)
    assert filed.status_code == 201, filed.get_data(as_text=True)
    mine = client.get("/api/v1/me/complaints", headers=headers)

    assert mine.status_code == 200, mine.json
    assert [item["tracking_no"] for item in mine.json["items"]] == [filed.json["tracking_no"]]


def test_a_wechat_citizen_cannot_log_in_with_a_password(client, wechat):
    wechat.add_login("code-1", "openid-alice")
    username = logged_in(client, "code-1")["account"]["username"]

    response = client.post("/api/v1/auth/login", json={"username": username, "password": "anything-at-all"})

    assert_error(response, 401, "INVALID_CREDENTIALS")


# ---- WeChat refuses the code or the user ------------------------------------------------------

def test_an_unknown_code_is_401_and_creates_no_account(client, wechat):
    response = wx_login(client, "never-issued")  # WeChat: 40029 invalid code

    assert_error(response, 401, "INVALID_CREDENTIALS")
    assert account_rows() == 0


def test_an_expired_code_is_401(client, wechat):
    wechat.add_login("code-1", "openid-alice")
    wechat.expire("code-1")

    assert_error(wx_login(client, "code-1"), 401, "INVALID_CREDENTIALS")
    assert accounts_with_openid("openid-alice") == 0


def test_a_replayed_code_is_401(client, wechat):
    wechat.add_login("code-1", "openid-alice")
    logged_in(client, "code-1")

    replay = wx_login(client, "code-1")  # WeChat: 40163 code been used

    assert_error(replay, 401, "INVALID_CREDENTIALS")
    assert len(wechat.calls(JSCODE2SESSION)) == 2


def test_a_blocked_wechat_user_is_401_with_a_message_saying_so(client, wechat):
    wechat.add_login("code-1", "openid-risky")
    wechat.fail("code-1", 40226)

    body = assert_error(wx_login(client, "code-1"), 401, "INVALID_CREDENTIALS")

    assert "限制" in body["message"]
    assert accounts_with_openid("openid-risky") == 0


def test_wechats_rate_limit_is_429_with_retry_after(client, wechat):
    wechat.add_login("code-1", "openid-alice")
    wechat.fail("code-1", 45011)

    response = wx_login(client, "code-1")

    assert_error(response, 429, "RATE_LIMITED")
    assert int(response.headers["Retry-After"]) > 0


def test_a_deactivated_citizen_cannot_log_in_with_wechat(client, session, wechat):
    wechat.add_login("code-1", "openid-alice")
    wechat.add_login("code-2", "openid-alice")
    account_id = logged_in(client, "code-1")["account"]["id"]
    session.get(Account, account_id).active = False
    session.commit()

    response = wx_login(client, "code-2")

    assert_error(response, 401, "INVALID_CREDENTIALS")
    assert "access_token" not in response.get_data(as_text=True)


# ---- WeChat busy, slow, down or broken: 503, never 500 ----------------------------------------

def test_busy_once_is_retried_and_then_succeeds(client, wechat):
    wechat.add_login("code-1", "openid-alice")
    wechat.make_busy(1)

    response = wx_login(client, "code-1")

    assert response.status_code == 200, response.json
    calls = wechat.calls(JSCODE2SESSION)
    assert len(calls) == 2
    assert [c.query["js_code"] for c in calls] == ["code-1", "code-1"]


def test_busy_twice_is_503_after_a_single_retry(client, wechat):
    wechat.add_login("code-1", "openid-alice")
    wechat.make_busy(2)

    response = wx_login(client, "code-1")

    assert_error(response, 503, "WECHAT_UNAVAILABLE")
    assert len(wechat.calls(JSCODE2SESSION)) == 2


def test_a_slow_wechat_times_out_as_503(client, wechat, monkeypatch):
    monkeypatch.setattr("api.wechat.TIMEOUT", httpx.Timeout(0.5))
    wechat.add_login("code-1", "openid-alice")
    wechat.make_slow(10)

    started = time.monotonic()
    response = wx_login(client, "code-1")
    elapsed = time.monotonic() - started

    assert_error(response, 503, "WECHAT_UNAVAILABLE")
    assert elapsed < 4.5, elapsed  # the default read timeout is 5 s: the patched 0.5 s was used


def test_wechat_refusing_connections_is_503(client, wechat):
    wechat.add_login("code-1", "openid-alice")
    wechat.stop()  # its port is closed now

    assert_error(wx_login(client, "code-1"), 503, "WECHAT_UNAVAILABLE")


def test_wechat_back_up_after_an_outage_logs_in(client, wechat):
    wechat.add_login("code-1", "openid-alice")
    wechat.stop()
    assert_error(wx_login(client, "code-1"), 503, "WECHAT_UNAVAILABLE")

    wechat.start()  # same port

    assert wx_login(client, "code-1").status_code == 200


@pytest.mark.parametrize("status, body, content_type", [
    (500, b"Internal Server Error", "text/plain"),
    (502, b"<html><body>Bad Gateway</body></html>", "text/html"),
    (200, b"<html><body>maintenance</body></html>", "text/html"),  # not JSON
    (200, b'["openid"]', "application/json"),  # JSON, but not an object
    (200, b'{"session_key": "x"}', "application/json"),  # no openid
], ids=["http-500", "http-502", "not-json", "json-array", "no-openid"])
def test_a_broken_answer_from_wechat_is_503(client, wechat, status, body, content_type):
    wechat.add_login("code-1", "openid-alice")
    wechat.answer_http(status, body, content_type)

    response = wx_login(client, "code-1")

    assert_error(response, 503, "WECHAT_UNAVAILABLE")
    assert account_rows() == 0


@pytest.mark.parametrize("setting", [{"WECHAT_SECRET": "wrong-secret"}, {"WECHAT_APPID": "wx-other-app"}],
                         ids=["wrong-secret", "wrong-appid"])
def test_wrong_app_credentials_are_503_not_the_users_fault(make_app, wechat, setting):
    misconfigured = make_app(**{"WECHAT_APPID": APPID, "WECHAT_SECRET": SECRET,
                                "WECHAT_API_BASE": wechat.url, **setting})
    wechat.add_login("code-1", "openid-alice")  # WeChat: 40013 / 40125

    response = misconfigured.test_client().post(WECHAT_LOGIN, json={"code": "code-1"})

    assert_error(response, 503, "WECHAT_UNAVAILABLE")


# ---- not configured, bad input ----------------------------------------------------------------

def test_without_wechat_settings_the_login_is_503_not_configured(unconfigured_client, wechat):
    response = unconfigured_client.post(WECHAT_LOGIN, json={"code": "code-1"})

    assert_error(response, 503, "WECHAT_NOT_CONFIGURED")
    assert wechat.calls() == []


def test_an_appid_without_a_secret_is_not_configured(make_app, wechat):
    half = make_app(WECHAT_APPID=APPID, WECHAT_API_BASE=wechat.url)

    response = half.test_client().post(WECHAT_LOGIN, json={"code": "code-1"})

    assert_error(response, 503, "WECHAT_NOT_CONFIGURED")
    assert wechat.calls() == []


@pytest.mark.parametrize("body", [
    {"code": ""},
    {"code": "x" * 129},
    {"code": "code-1", "unexpected": "field"},
    {},
    {"code": None},
    {"code": 12345},
    {"code": "code 1"},
    {"code": "code-1&js_code=other"},
], ids=["empty", "too-long", "unknown-field", "missing", "null", "number", "space", "query-injection"])
def test_a_malformed_body_is_422_and_wechat_is_not_asked(client, wechat, body):
    wechat.add_login("code-1", "openid-alice")

    response = client.post(WECHAT_LOGIN, json=body)

    assert_error(response, 422, "VALIDATION_FAILED")
    assert wechat.calls() == []


def test_a_body_that_is_not_json_is_422(client, wechat):
    response = client.post(WECHAT_LOGIN, data="code=abc", content_type="application/json")

    assert_error(response, 422, "VALIDATION_FAILED")
    assert wechat.calls() == []

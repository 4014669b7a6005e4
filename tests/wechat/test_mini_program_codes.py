"""GET /api/v1/codes/{token}/wxacode: the code as a WeChat mini-program code (小程序码).

WeChat (the fake on 127.0.0.1, tests/fake_wechat.py) makes the image with wxa/getwxacodeunlimit, scene =
the token and page = WECHAT_PAGE, using the API access token from cgi-bin/token, which is cached in the
wechat_tokens table until it expires. The image is fetched once and stored.
"""

from __future__ import annotations

import datetime as dt
import threading

import httpx
import pytest
import sqlalchemy as sa

from api import wechat as wechat_client
from api.database import db, utcnow
from api.wechat import WeChatToken
from codes.models import MiniProgramCode
from tests.api.helpers import assert_error
from tests.conftest import institution_payload
from tests.fake_wechat import TOKEN, WXACODE, fake_jpeg
from tests.wechat.conftest import APPID, SECRET, wechat_settings


def wxacode(client, token, **kwargs):
    return client.get(f"/api/v1/codes/{token}/wxacode", **kwargs)


def stored_images() -> int:
    with db.engine.connect() as connection:
        return connection.scalar(sa.select(sa.func.count()).select_from(MiniProgramCode.__table__))


def token_row():
    with db.engine.connect() as connection:
        return connection.execute(sa.select(WeChatToken.__table__)).one_or_none()


@pytest.fixture
def other_token(admin):
    response = admin.post("/api/v1/institutions", json=institution_payload(2))
    assert response.status_code == 201, response.json
    return response.json["code"]["token"]


# ---- the image --------------------------------------------------------------------------------

def test_the_first_request_answers_wechats_image_with_an_etag(client, wechat, token):
    response = wxacode(client, token)

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "image/jpeg"
    assert response.get_data() == fake_jpeg(token)
    assert response.get_data().startswith(b"\xff\xd8\xff")
    assert response.headers["ETag"].startswith('"') and len(response.headers["ETag"]) > 2
    assert "public" in response.headers["Cache-Control"]


def test_wechat_is_asked_with_scene_the_token_and_the_configured_page(app, client, wechat, token):
    wxacode(client, token)

    [fetch] = wechat.calls(TOKEN)
    assert fetch.method == "GET"
    assert fetch.query == {"grant_type": "client_credential", "appid": APPID, "secret": SECRET}
    [call] = wechat.calls(WXACODE)
    assert call.method == "POST"
    assert call.query == {"access_token": wechat.issued_tokens[0]}
    assert call.body["scene"] == token
    assert call.body["page"] == app.config["WECHAT_PAGE"]
    assert call.body["env_version"] == app.config["WECHAT_ENV_VERSION"]
    assert call.body["check_path"] is False


def test_the_page_comes_from_the_settings(make_app, wechat, token):
    wechat.pages.add("pages/verify/index")
    other = make_app(**wechat_settings(wechat), WECHAT_PAGE="pages/verify/index", WECHAT_ENV_VERSION="trial")

    response = wxacode(other.test_client(), token)

    assert response.status_code == 200, response.get_data(as_text=True)
    [call] = wechat.calls(WXACODE)
    assert call.body["page"] == "pages/verify/index"
    assert call.body["env_version"] == "trial"


def test_the_second_request_is_served_from_storage_without_asking_wechat(client, wechat, token):
    first = wxacode(client, token)

    second = wxacode(client, token)

    assert second.status_code == 200
    assert second.get_data() == first.get_data()
    assert second.headers["ETag"] == first.headers["ETag"]
    assert len(wechat.calls(WXACODE)) == 1
    assert len(wechat.calls(TOKEN)) == 1
    assert stored_images() == 1


def test_the_stored_image_is_shared_by_other_workers(make_app, client, wechat, token):
    first = wxacode(client, token)
    another_worker = make_app(**wechat_settings(wechat))

    again = wxacode(another_worker.test_client(), token)

    assert again.status_code == 200
    assert again.get_data() == first.get_data()
    assert len(wechat.calls(WXACODE)) == 1


def test_if_none_match_answers_304(client, wechat, token):
    etag = wxacode(client, token).headers["ETag"]

    response = wxacode(client, token, headers={"If-None-Match": etag})

    assert response.status_code == 304
    assert response.get_data() == b""
    assert response.headers["ETag"] == etag
    assert len(wechat.calls(WXACODE)) == 1


def test_an_other_etag_gets_the_image(client, wechat, token):
    wxacode(client, token)

    response = wxacode(client, token, headers={"If-None-Match": '"something-else"'})

    assert response.status_code == 200
    assert response.get_data() == fake_jpeg(token)


def test_the_scene_is_checked_to_be_at_most_32_characters(session, wechat):
    with pytest.raises(ValueError):
        wechat_client.unlimited_code(session=session, scene="x" * 33)
    with pytest.raises(ValueError):
        wechat_client.unlimited_code(session=session, scene="")

    assert wechat.calls() == []


# ---- the access token -------------------------------------------------------------------------

def test_the_access_token_is_fetched_once_for_two_codes(client, wechat, token, other_token):
    assert wxacode(client, token).status_code == 200
    assert wxacode(client, other_token).status_code == 200

    assert len(wechat.calls(TOKEN)) == 1
    assert [c.query["access_token"] for c in wechat.calls(WXACODE)] == [wechat.issued_tokens[0]] * 2
    assert [c.body["scene"] for c in wechat.calls(WXACODE)] == [token, other_token]


def test_the_access_token_is_kept_with_its_expiry(client, wechat, token):
    before = utcnow()
    wxacode(client, token)

    row = token_row()
    assert row.appid == APPID
    assert row.access_token == wechat.issued_tokens[0]
    assert before + dt.timedelta(seconds=7100) < row.expires_at <= utcnow() + dt.timedelta(seconds=7200)


@pytest.mark.parametrize("left", [dt.timedelta(minutes=-1), dt.timedelta(minutes=2)],
                         ids=["expired", "about-to-expire"])
def test_an_expired_access_token_is_fetched_again(client, session, wechat, token, other_token, left):
    wxacode(client, token)
    row = session.get(WeChatToken, APPID)
    row.expires_at = utcnow() + left
    session.commit()

    response = wxacode(client, other_token)

    assert response.status_code == 200, response.get_data(as_text=True)
    assert len(wechat.calls(TOKEN)) == 2
    assert wechat.calls(WXACODE)[-1].query["access_token"] == wechat.issued_tokens[1]
    assert token_row().access_token == wechat.issued_tokens[1]


def test_a_refused_access_token_is_refreshed_once_and_the_call_retried(client, wechat, token, other_token):
    wxacode(client, token)
    wechat.invalidate_tokens()  # WeChat answers 40001 to the cached token from now on

    response = wxacode(client, other_token)

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_data() == fake_jpeg(other_token)
    assert len(wechat.calls(TOKEN)) == 2
    calls = [c for c in wechat.calls(WXACODE) if c.body["scene"] == other_token]
    assert [c.query["access_token"] for c in calls] == wechat.issued_tokens
    assert token_row().access_token == wechat.issued_tokens[1]


def test_a_busy_wechat_is_retried_without_throwing_away_the_access_token(client, wechat, token):
    """cgi-bin/token has a daily quota and a new token retires the old one for every worker, so a
    'system busy' answer is no reason to fetch a new one: the same token is retried."""
    wechat.make_busy(1, path=WXACODE)

    response = wxacode(client, token)

    assert response.status_code == 200, response.get_data(as_text=True)
    assert len(wechat.calls(WXACODE)) == 2
    assert len(wechat.calls(TOKEN)) == 1


def test_wrong_app_credentials_at_cgi_bin_token_are_503(make_app, wechat, token):
    misconfigured = make_app(**{**wechat_settings(wechat), "WECHAT_SECRET": "wrong-secret"})

    response = wxacode(misconfigured.test_client(), token)

    assert_error(response, 503, "WECHAT_UNAVAILABLE")
    assert wechat.calls(WXACODE) == []
    assert stored_images() == 0


def test_an_unknown_page_at_wechat_is_503_and_nothing_is_stored(make_app, wechat, token):
    other = make_app(**wechat_settings(wechat), WECHAT_PAGE="pages/not-published/index")  # WeChat: 41030

    response = wxacode(other.test_client(), token)

    assert_error(response, 503, "WECHAT_UNAVAILABLE")
    assert stored_images() == 0


# ---- codes that have no mini-program code -----------------------------------------------------

def test_a_revoked_code_is_410_and_wechat_is_not_asked(client, health_officer, wechat, token):
    revoked = health_officer.post(f"/api/v1/codes/{token}/revoke", json={"reason": "海报被盗用"})
    assert revoked.status_code == 200, revoked.json

    response = wxacode(client, token)

    assert_error(response, 410, "CODE_REVOKED")
    assert wechat.calls() == []


def test_a_stored_image_is_no_longer_served_once_the_code_is_revoked(client, health_officer, wechat, token):
    assert wxacode(client, token).status_code == 200
    new_token = health_officer.post(f"/api/v1/codes/{token}/revoke", json={"reason": "海报被盗用"}).json["token"]

    assert_error(wxacode(client, token), 410, "CODE_REVOKED")
    fresh = wxacode(client, new_token)

    assert fresh.status_code == 200
    assert fresh.get_data() == fake_jpeg(new_token)
    assert wechat.calls(WXACODE)[-1].body["scene"] == new_token


@pytest.mark.parametrize("unknown", ["AAAAAAAAAAAAAAAAAAAA", "not.a.token", "x" * 33])
def test_an_unknown_token_is_404(client, wechat, clinic, unknown):
    response = wxacode(client, unknown)

    assert_error(response, 404, "NOT_FOUND")
    assert wechat.calls() == []


def test_without_wechat_settings_it_is_503_and_the_plain_qr_code_still_works(unconfigured_client, wechat, token):
    response = wxacode(unconfigured_client, token)

    assert_error(response, 503, "WECHAT_NOT_CONFIGURED")
    assert wechat.calls() == []
    assert stored_images() == 0
    plain = unconfigured_client.get(f"/api/v1/codes/{token}/image?format=png")
    assert plain.status_code == 200
    assert plain.mimetype == "image/png"


# ---- WeChat down or failing: 503, nothing stored, and it recovers -----------------------------

def test_wechat_down_is_503_nothing_stored_and_a_later_call_succeeds(client, wechat, token):
    wechat.stop()  # connection refused

    down = wxacode(client, token)

    assert_error(down, 503, "WECHAT_UNAVAILABLE")
    assert stored_images() == 0
    assert token_row() is None

    wechat.start()  # same port
    up = wxacode(client, token)

    assert up.status_code == 200, up.get_data(as_text=True)
    assert up.get_data() == fake_jpeg(token)
    assert stored_images() == 1


@pytest.mark.parametrize("status, body, content_type", [
    (500, b"Internal Server Error", "text/plain"),
    (200, b"<html>maintenance</html>", "text/html"),
    (200, b'{"errcode": 45009, "errmsg": "reach max api daily quota limit"}', "application/json"),
], ids=["http-500", "not-json", "quota"])
def test_getwxacodeunlimit_failing_is_503_and_nothing_is_stored(client, wechat, token, status, body, content_type):
    wechat.answer_http(status, body, content_type, paths=(WXACODE,))

    response = wxacode(client, token)

    assert_error(response, 503, "WECHAT_UNAVAILABLE")
    assert stored_images() == 0

    wechat.answer_normally()
    assert wxacode(client, token).status_code == 200
    assert len(wechat.calls(TOKEN)) == 1  # the token fetched before the failure is still good


def test_a_slow_getwxacodeunlimit_times_out_as_503(client, wechat, token, monkeypatch):
    monkeypatch.setattr("api.wechat.TIMEOUT", httpx.Timeout(0.5))
    wechat.make_slow(10, path=WXACODE)

    response = wxacode(client, token)

    assert_error(response, 503, "WECHAT_UNAVAILABLE")
    assert stored_images() == 0


def test_busy_twice_at_cgi_bin_token_is_503(client, wechat, token):
    wechat.make_busy(2, path=TOKEN)

    response = wxacode(client, token)

    assert_error(response, 503, "WECHAT_UNAVAILABLE")
    assert len(wechat.calls(TOKEN)) == 2
    assert wechat.calls(WXACODE) == []


# ---- workers asking at the same moment --------------------------------------------------------

def _at_once(app, paths):
    """GET every path from its own thread (its own app context and session), all at the same moment."""
    barrier = threading.Barrier(len(paths))
    answers = {}

    def fetch(path):
        client = app.test_client()
        barrier.wait()
        response = client.get(path)
        answers[path] = (response.status_code, response.get_data())

    threads = [threading.Thread(target=fetch, args=(p,)) for p in paths]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return answers


def test_the_first_two_requests_at_once_both_get_their_image(app, session, wechat, token, other_token):
    """Two workers that both find no access token yet: neither may fail because the other stored one."""
    wechat.make_slow(0.5, path=TOKEN)
    session.commit()

    answers = _at_once(app, [f"/api/v1/codes/{token}/wxacode", f"/api/v1/codes/{other_token}/wxacode"])

    assert {path: status for path, (status, _) in answers.items()} == {
        f"/api/v1/codes/{token}/wxacode": 200, f"/api/v1/codes/{other_token}/wxacode": 200}, answers


def test_two_requests_at_once_for_one_code_both_get_the_image(app, session, wechat, token):
    wxacode(app.test_client(), token)  # the access token is cached: only the image insert can race
    session.execute(sa.delete(MiniProgramCode))
    session.commit()
    wechat.make_slow(0.5, path=WXACODE)
    path = f"/api/v1/codes/{token}/wxacode"

    barrier = threading.Barrier(2)
    answers = []

    def fetch():
        client = app.test_client()
        barrier.wait()
        response = client.get(path)
        answers.append((response.status_code, response.get_data()))

    threads = [threading.Thread(target=fetch) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert [status for status, _ in answers] == [200, 200], answers
    assert stored_images() == 1

"""Login, access tokens, refresh rotation, logout and /me (API.md, Accounts and auth)."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import jwt
import pytest
import sqlalchemy as sa

from api.models import Account
from tests.api.helpers import assert_error, bearer, log_in
from tests.conftest import BASE_CONFIG

ACCOUNT_KEYS = {"id", "username", "role", "department", "institution_id"}


_SESSIONS: dict[int, str] = {}  # account id -> the login session of its persona, for forged tokens


@pytest.fixture
def officer(login):
    persona = login("officer", department="health", username="officer-wang")
    _SESSIONS[persona.account.id] = _sid_of(persona.tokens["access_token"])
    return persona


def _sid_of(access_token: str) -> str:
    return jwt.decode(access_token, options={"verify_signature": False})["sid"]


def _login_ok(client, username="officer-wang"):
    response = log_in(client, username)
    assert response.status_code == 200, response.json
    return response.json


# --- login -------------------------------------------------------------------------------------

def test_it_logs_in_with_username_and_password(client, officer):
    response = log_in(client, "officer-wang")

    assert response.status_code == 200
    body = response.json
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in", "account"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == BASE_CONFIG.get("ACCESS_TOKEN_TTL", 900)
    assert body["account"] == {"id": officer.account.id, "username": "officer-wang", "role": "officer",
                               "department": "health", "institution_id": None}
    assert body["access_token"] and body["refresh_token"]


def test_the_login_access_token_opens_the_api(client, officer):
    tokens = _login_ok(client)

    response = client.get("/api/v1/me", headers=bearer(tokens["access_token"]))

    assert response.status_code == 200
    assert response.json["id"] == officer.account.id


def test_it_gives_the_same_answer_for_a_wrong_password_and_an_unknown_username(client, officer):
    wrong_password = log_in(client, "officer-wang", "not-the-password")
    unknown_user = log_in(client, "nobody-here", "not-the-password")

    assert_error(wrong_password, 401, "INVALID_CREDENTIALS")
    assert_error(unknown_user, 401, "INVALID_CREDENTIALS")
    assert wrong_password.get_data() == unknown_user.get_data()


def test_it_refuses_to_log_in_an_inactive_account(client, session, officer):
    officer.account.active = False
    session.commit()

    response = log_in(client, "officer-wang")

    assert_error(response, 401, "INVALID_CREDENTIALS")


def test_it_refuses_the_access_token_of_a_deactivated_account(client, session, officer):
    officer.account.active = False
    session.commit()

    response = officer.get("/api/v1/me")

    assert_error(response, 401, "UNAUTHORIZED")


def test_it_refuses_a_login_with_a_missing_password(client, officer):
    response = client.post("/api/v1/auth/login", json={"username": "officer-wang"})

    body = assert_error(response, 422, "VALIDATION_FAILED")
    assert "password" in body["fields"]


# --- the access token --------------------------------------------------------------------------

def test_the_access_token_is_an_hs256_jwt_with_issuer_audience_expiry_and_ids(app, client, officer):
    tokens = _login_ok(client)
    token = tokens["access_token"]

    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    claims = jwt.decode(token, app.config["SECRET_KEY"], algorithms=["HS256"],
                        audience=app.config["JWT_AUDIENCE"], issuer=app.config["JWT_ISSUER"])
    assert claims["iss"] == "onecode"
    assert claims["aud"] == "onecode-api"
    assert claims["sub"] == str(officer.account.id)
    assert claims["exp"] - claims["iat"] == tokens["expires_in"]
    assert claims["jti"] and claims["sid"]


def test_every_login_gets_its_own_token_id_and_session(client, officer):
    first = jwt.decode(_login_ok(client)["access_token"], options={"verify_signature": False})
    second = jwt.decode(_login_ok(client)["access_token"], options={"verify_signature": False})

    assert first["jti"] != second["jti"]
    assert first["sid"] != second["sid"]


def _claims(app, account_id, sid=None, **overrides):
    """Claims as the app issues them, for a session that exists and is not revoked (the account's
    persona's login, unless `sid` names another)."""
    now = dt.datetime.now(dt.UTC)
    claims = {"iss": app.config["JWT_ISSUER"], "aud": app.config["JWT_AUDIENCE"], "sub": str(account_id),
              "iat": now, "nbf": now, "exp": now + dt.timedelta(minutes=5), "jti": uuid.uuid4().hex,
              "sid": _SESSIONS.get(account_id, uuid.uuid4().hex) if sid is None else sid, "role": "officer"}
    claims.update(overrides)
    return claims


def test_a_token_signed_with_the_app_key_and_the_right_claims_is_accepted(app, client, officer):
    """The baseline for the forgeries below: each differs from this token in one respect only."""
    token = jwt.encode(_claims(app, officer.account.id), app.config["SECRET_KEY"], algorithm="HS256")

    response = client.get("/api/v1/me", headers=bearer(token))

    assert response.status_code == 200
    assert response.json["id"] == officer.account.id


OTHER_KEY = "another-secret-key-that-is-long-enough-for-hs512-0123456789abcdefghijkl"


def _forge(app, account_id, kind):
    key = app.config["SECRET_KEY"]
    now = dt.datetime.now(dt.UTC)
    if kind == "another key":
        return jwt.encode(_claims(app, account_id), OTHER_KEY, algorithm="HS256")
    if kind == "alg none":
        return jwt.encode(_claims(app, account_id), None, algorithm="none")
    if kind == "alg none, signature kept":
        signed = jwt.encode(_claims(app, account_id), key, algorithm="HS256")
        unsigned = jwt.encode(jwt.decode(signed, options={"verify_signature": False}), None, algorithm="none")
        return unsigned + signed.rsplit(".", 1)[1]
    if kind == "wrong audience":
        return jwt.encode(_claims(app, account_id, aud="someone-else"), key, algorithm="HS256")
    if kind == "wrong issuer":
        return jwt.encode(_claims(app, account_id, iss="evil"), key, algorithm="HS256")
    if kind == "expired":
        claims = _claims(app, account_id, iat=now - dt.timedelta(hours=1), nbf=now - dt.timedelta(hours=1),
                         exp=now - dt.timedelta(minutes=1))
        return jwt.encode(claims, key, algorithm="HS256")
    if kind == "no session id":
        claims = _claims(app, account_id)
        del claims["sid"]
        return jwt.encode(claims, key, algorithm="HS256")
    if kind == "unknown account":
        return jwt.encode(_claims(app, 987654), key, algorithm="HS256")
    if kind == "unknown session":
        return jwt.encode(_claims(app, account_id, sid=uuid.uuid4().hex), key, algorithm="HS256")
    if kind == "tampered payload":
        token = jwt.encode(_claims(app, account_id), key, algorithm="HS256")
        header, _payload, signature = token.split(".")
        other = jwt.encode(_claims(app, account_id, role="admin"), OTHER_KEY, algorithm="HS256")
        return ".".join([header, other.split(".")[1], signature])
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["another key", "alg none", "alg none, signature kept", "wrong audience",
                                  "wrong issuer", "expired", "no session id", "unknown account",
                                  "tampered payload", "unknown session"])
def test_it_refuses_a_forged_or_stale_access_token(app, client, officer, kind):
    token = _forge(app, officer.account.id, kind)

    response = client.get("/api/v1/me", headers=bearer(token))

    assert_error(response, 401, "UNAUTHORIZED")


@pytest.mark.parametrize("sub", ["9" * 30, str(2**63), "-1", "0", "01", " 1", "1.0", "١"],
                         ids=["thirty-nines", "beyond-bigint", "negative", "zero", "leading-zero", "space",
                              "decimal", "arabic-indic-digit"])
def test_a_signed_token_whose_subject_is_no_account_id_answers_401_not_500(app, client, officer, sub):
    token = jwt.encode(_claims(app, officer.account.id, sub=sub), app.config["SECRET_KEY"], algorithm="HS256")

    response = client.get("/api/v1/me", headers=bearer(token))

    assert_error(response, 401, "UNAUTHORIZED")


@pytest.mark.parametrize("sid", [12345, ["a"], {"a": 1}, "x" * 33, ""],
                         ids=["number", "list", "object", "too-long", "empty"])
def test_a_signed_token_whose_session_id_is_malformed_answers_401_not_500(app, client, officer, sid):
    token = jwt.encode(_claims(app, officer.account.id, sid=sid), app.config["SECRET_KEY"], algorithm="HS256")

    response = client.get("/api/v1/me", headers=bearer(token))

    assert_error(response, 401, "UNAUTHORIZED")


def test_a_session_of_one_account_does_not_open_another(app, client, officer, login):
    """The key signs the claims, but a login session belongs to the account that logged in: a token
    naming another account with this session is refused."""
    other = login("admin")
    token = jwt.encode(_claims(app, other.account.id, sid=_sid_of(officer.tokens["access_token"])),
                       app.config["SECRET_KEY"], algorithm="HS256")

    response = client.get("/api/v1/me", headers=bearer(token))

    assert_error(response, 401, "UNAUTHORIZED")


def test_old_tokens_do_not_act_as_a_new_account_that_reuses_a_deleted_accounts_id(client, session, officer):
    from api import accounts

    tokens = _login_ok(client)
    old_id = officer.account.id
    session.execute(sa.text("DELETE FROM accounts WHERE id = :id"), {"id": old_id})
    session.commit()
    session.expunge_all()
    newcomer = accounts.create_account(session=session, username="admin-newcomer", password="a-long-test-password",
                                       role="admin")
    session.flush()
    session.execute(sa.update(Account).where(Account.id == newcomer.id).values(id=old_id))
    session.commit()

    response = client.get("/api/v1/me", headers=bearer(tokens["access_token"]))

    assert_error(response, 401, "UNAUTHORIZED")
    assert_refused_refresh(_refresh(client, tokens["refresh_token"]))


def test_it_refuses_an_access_token_once_it_has_expired(make_app):
    short = make_app(ACCESS_TOKEN_TTL=1)
    client = short.test_client()
    with short.app_context():
        from api import accounts
        from api.database import db

        accounts.create_account(session=db.session, username="brief-login", password="a-long-test-password",
                                role="admin")
        db.session.commit()
    tokens = log_in(client, "brief-login").json
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert tokens["expires_in"] == 1
    assert claims["exp"] - claims["iat"] == 1

    # No request before the sleep: a one-second token may already be dead by then on a busy host.
    time.sleep(2.1)
    response = client.get("/api/v1/me", headers=bearer(tokens["access_token"]))

    assert_error(response, 401, "UNAUTHORIZED")


@pytest.mark.parametrize("header", [
    "Token {token}",
    "Basic dXNlcjpwYXNz",
    "Bearer",
    "Bearer ",
    "Bearer not-a-jwt",
    "Bearer {token}.extra",
    "{token}",
])
def test_it_refuses_a_malformed_authorization_header(client, officer, header):
    value = header.format(token=officer.tokens["access_token"])

    response = client.get("/api/v1/me", headers={"Authorization": value})

    assert_error(response, 401, "UNAUTHORIZED")


def test_it_accepts_the_bearer_scheme_in_any_case(client, officer):
    response = client.get("/api/v1/me", headers={"Authorization": "bearer " + officer.tokens["access_token"]})

    assert response.status_code == 200


# --- refresh rotation --------------------------------------------------------------------------

def assert_refused_refresh(response):
    """The contract fixes only the status for a refused refresh token; the body is still the envelope."""
    body = assert_error(response, 401, response.json.get("code") if response.is_json else None)
    assert body["code"] in ("INVALID_CREDENTIALS", "UNAUTHORIZED")


def _refresh(client, refresh_token):
    return client.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})


def test_it_trades_a_refresh_token_for_a_new_pair(client, officer):
    first = _login_ok(client)

    response = _refresh(client, first["refresh_token"])

    assert response.status_code == 200
    second = response.json
    assert set(second) == {"access_token", "refresh_token", "token_type", "expires_in", "account"}
    assert second["token_type"] == "Bearer"
    assert second["account"]["id"] == officer.account.id
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert client.get("/api/v1/me", headers=bearer(second["access_token"])).status_code == 200


def test_a_refresh_token_works_only_once(client, officer):
    first = _login_ok(client)
    assert _refresh(client, first["refresh_token"]).status_code == 200

    again = _refresh(client, first["refresh_token"])

    assert_refused_refresh(again)


def test_it_refuses_an_unknown_refresh_token(client, officer):
    response = _refresh(client, "made-up-refresh-token")

    assert_refused_refresh(response)


def test_reusing_a_spent_refresh_token_ends_the_whole_session(client, officer):
    first = _login_ok(client)
    second = _refresh(client, first["refresh_token"]).json
    third = _refresh(client, second["refresh_token"]).json
    assert client.get("/api/v1/me", headers=bearer(third["access_token"])).status_code == 200

    reuse = _refresh(client, first["refresh_token"])
    assert_refused_refresh(reuse)

    # The newest refresh token, never used, is refused as well...
    assert_refused_refresh(_refresh(client, third["refresh_token"]))
    # ...and so is every access token the session handed out, still unexpired.
    for tokens in (first, second, third):
        assert_error(client.get("/api/v1/me", headers=bearer(tokens["access_token"])), 401, "UNAUTHORIZED")


def test_reusing_a_spent_refresh_token_leaves_other_logins_of_the_account_alone(client, officer):
    stolen = _login_ok(client)
    other = _login_ok(client)
    _refresh(client, stolen["refresh_token"])

    assert_refused_refresh(_refresh(client, stolen["refresh_token"]))

    assert client.get("/api/v1/me", headers=bearer(other["access_token"])).status_code == 200
    assert _refresh(client, other["refresh_token"]).status_code == 200


def test_it_refuses_to_refresh_for_a_deactivated_account(client, session, officer):
    tokens = _login_ok(client)
    officer.account.active = False
    session.commit()

    response = _refresh(client, tokens["refresh_token"])

    assert_refused_refresh(response)


# --- logout ------------------------------------------------------------------------------------

def test_logout_answers_204_and_the_access_token_is_refused_afterwards(client, officer):
    tokens = _login_ok(client)
    assert client.get("/api/v1/me", headers=bearer(tokens["access_token"])).status_code == 200

    response = client.post("/api/v1/auth/logout", headers=bearer(tokens["access_token"]))

    assert response.status_code == 204
    assert response.get_data() == b""
    assert_error(client.get("/api/v1/me", headers=bearer(tokens["access_token"])), 401, "UNAUTHORIZED")


def test_logout_also_refuses_the_refresh_token_of_that_login(client, officer):
    tokens = _login_ok(client)
    client.post("/api/v1/auth/logout", headers=bearer(tokens["access_token"]))

    response = _refresh(client, tokens["refresh_token"])

    assert_refused_refresh(response)


def test_logout_refuses_earlier_access_tokens_of_the_same_login(client, officer):
    first = _login_ok(client)
    second = _refresh(client, first["refresh_token"]).json

    assert client.post("/api/v1/auth/logout", headers=bearer(second["access_token"])).status_code == 204

    assert_error(client.get("/api/v1/me", headers=bearer(first["access_token"])), 401, "UNAUTHORIZED")


def test_logout_leaves_other_logins_of_the_account_alone(client, officer):
    leaving = _login_ok(client)
    staying = _login_ok(client)

    client.post("/api/v1/auth/logout", headers=bearer(leaving["access_token"]))

    assert client.get("/api/v1/me", headers=bearer(staying["access_token"])).status_code == 200


def test_logout_needs_a_token(client):
    assert_error(client.post("/api/v1/auth/logout"), 401, "UNAUTHORIZED")


# --- /me ---------------------------------------------------------------------------------------

def test_me_returns_the_account_behind_the_token(officer):
    response = officer.get("/api/v1/me")

    assert response.status_code == 200
    assert response.json == {"id": officer.account.id, "username": "officer-wang", "role": "officer",
                             "department": "health", "institution_id": None}


def test_me_shows_an_institution_account_its_institution(clinic_account, clinic):
    response = clinic_account.get("/api/v1/me")

    assert response.status_code == 200
    assert set(response.json) == ACCOUNT_KEYS
    assert response.json["role"] == "institution"
    assert response.json["institution_id"] == clinic["id"]
    assert response.json["department"] is None


def test_me_without_a_token_answers_401_in_the_envelope(client):
    response = client.get("/api/v1/me")

    body = assert_error(response, 401, "UNAUTHORIZED")
    assert "fields" not in body

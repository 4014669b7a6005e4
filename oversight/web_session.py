"""The dashboard's login: a cookie naming a server-side login session, and the forms' CSRF tokens.

The cookie holds the account id and a login session id (the same sessions as the API's logins,
api.auth), signed with SECRET_KEY and stamped with the time of login: it is refused after
SESSION_SECONDS, when its session was ended (logout writes `revoked_sessions`, as the API's logout
does), or when the account is no longer an active regulator. It is HttpOnly, SameSite=Strict, scoped to
/dashboard, and Secure in production; it has no Max-Age, so it also ends when the browser closes.

Forms that post (login, logout) carry a token the server can recompute and a cross-site page cannot
read: for the login form an HMAC of a random pre-login cookie (double submit, signed), for logout an
HMAC of the login session id. A post whose `Origin` is another site's is refused besides.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass

from flask import current_app, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from api import auth
from api.access import REGULATORS
from api.database import SessionLike
from api.models import Account

COOKIE = "onecode_dashboard"
CSRF_COOKIE = "onecode_dashboard_csrf"
PATH = "/dashboard"
SESSION_SECONDS = 8 * 3600  # a working day; then log in again
_SALT = "onecode.dashboard.session"
_SESSION_ID = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class Login:
    account: Account
    session_id: str


def _signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def production() -> bool:
    return current_app.config["ENV"] == "production"


def open_session(*, session: SessionLike, account: Account) -> str:
    """A new login session for `account` (rows as the API's login writes; its tokens are never
    handed out: the session is what the cookie names), and the cookie's value. The caller commits."""
    session_id = uuid.uuid4().hex
    auth.issue_tokens(session=session, account=account, session_id=session_id)
    return _signer().dumps({"account": account.id, "session": session_id})


def current_login() -> Login | None:
    """The regulator logged in by this request's cookie, or None (no cookie, a forged or expired one,
    a session ended, an account deactivated or no longer a regulator)."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        data = _signer().loads(raw, max_age=SESSION_SECONDS)
    except BadSignature:  # SignatureExpired too
        return None
    account_id, session_id = (data.get("account"), data.get("session")) if isinstance(data, dict) else (None, None)
    if not isinstance(account_id, int) or not isinstance(session_id, str) or not _SESSION_ID.fullmatch(session_id):
        return None
    account = auth.session_account(account_id=account_id, session_id=session_id)
    if account is None or account.role not in REGULATORS:
        return None
    return Login(account, session_id)


def set_cookie(response, name: str, value: str) -> None:
    response.set_cookie(name, value, path=PATH, httponly=True, secure=production(), samesite="Strict")


def clear_cookie(response, name: str) -> None:
    response.delete_cookie(name, path=PATH, httponly=True, secure=production(), samesite="Strict")


# ---- CSRF ---------------------------------------------------------------------------------------------

def new_login_nonce() -> str:
    return secrets.token_urlsafe(24)


def _mac(purpose: str, value: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"onecode.dashboard.{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def login_token(nonce: str) -> str:
    """The login form's token: bound to the pre-login cookie, which another site can neither read nor set."""
    return _mac("login", nonce)


def session_token(session_id: str) -> str:
    """The logged-in forms' token (logout): bound to the login session."""
    return _mac("session", session_id)


def valid_post(expected: str | None) -> bool:
    """The form's token matches, and the post does not come from another origin."""
    origin = request.headers.get("Origin")
    if origin is not None and origin != request.host_url.rstrip("/"):
        return False
    given = request.form.get("csrf_token", "")
    return bool(expected) and hmac.compare_digest(given.encode(), (expected or "").encode())

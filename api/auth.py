"""Who is calling: password checks, JWT access tokens, one-use refresh tokens, role decorators.

A bearer token is an account's (a login) or an API client's (api.clients, the client-credentials
grant). `login_required(*roles)` takes accounts only; `login_required(*roles, scopes=(...))` also takes
a client whose token holds every scope listed. A client token never passes a role check, and an
account never needs a scope. Views that take clients ask `current_caller()` (an Account or an
ApiClient); `current_account()` refuses a client with 403, so a view written for accounts cannot be
reached by a client by mistake.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
import secrets
import uuid
from typing import Any, cast

import jwt
from flask import current_app, request
from sqlalchemy import bindparam, exists, select, update
from sqlalchemy.engine import CursorResult
from werkzeug.security import check_password_hash, generate_password_hash

from api import clients
from api.clients import ApiClient
from api.database import SessionLike, db, utcnow
from api.errors import Forbidden, InvalidCredentials, Unauthorized
from api.extensions import BEARER
from api.models import Account, RefreshToken, RevokedSession

ALGORITHM = "HS256"
_ACCOUNT, _SESSION, _SCOPES = "onecode.account", "onecode.session_id", "onecode.scopes"
# Who called, as the logs name it (`client:<id>`), in the WSGI environ: gunicorn's access log prints
# it (%({onecode.caller}e)s in gunicorn.conf.py) and log_client_call() writes it to the app's log.
# Set for API clients only: an account id beside the time of an anonymous complaint would undo it.
CALLER = "onecode.caller"
# What a token's `sub` and `sid` may be: an account id as the app writes it (no sign, no leading zero,
# ASCII digits, within the 32-bit id column) and a session id as issue_tokens() makes it (uuid4 hex).
# Anything else, however well signed, is refused before it reaches the database.
_ACCOUNT_ID, _MAX_ACCOUNT_ID = re.compile(r"[1-9][0-9]{0,9}"), 2**31 - 1
_SESSION_ID = re.compile(r"[0-9a-f]{32}")
# Checked against when the username is unknown, so both failures take the same time.
_DUMMY_HASH = generate_password_hash("onecode-timing-equaliser")


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def authenticate(*, session: SessionLike, username: str, password: str) -> Account:
    account = session.scalar(select(Account).where(Account.username == username))
    if account is None or account.password_hash is None:
        check_password_hash(_DUMMY_HASH, password)
        raise InvalidCredentials()
    if not check_password_hash(account.password_hash, password) or not account.active:
        raise InvalidCredentials()
    return account


def _hash_refresh(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_tokens(*, session: SessionLike, account: Account, session_id: str | None = None) -> dict:
    """A fresh access token and a refresh token in the given login session (a new one if None)."""
    config = current_app.config
    now = utcnow()
    session_id = session_id or uuid.uuid4().hex
    ttl = config["ACCESS_TOKEN_TTL"]
    claims = {
        "iss": config["JWT_ISSUER"],
        "aud": config["JWT_AUDIENCE"],
        "sub": str(account.id),
        "iat": now,
        "nbf": now,
        "exp": now + dt.timedelta(seconds=ttl),
        "jti": uuid.uuid4().hex,
        "sid": session_id,
        "role": account.role,
    }
    access = jwt.encode(claims, config["SECRET_KEY"], algorithm=ALGORITHM)
    refresh = secrets.token_urlsafe(32)
    session.add(
        RefreshToken(
            token_hash=_hash_refresh(refresh),
            session_id=session_id,
            account_id=account.id,
            issued_at=now,
            expires_at=now + dt.timedelta(seconds=config["REFRESH_TOKEN_TTL"]),
        )
    )
    session.flush()
    return {"access_token": access, "refresh_token": refresh, "token_type": "Bearer",
            "expires_in": ttl, "account": account}


def rotate_refresh_token(*, session: SessionLike, refresh_token: str) -> dict:
    """Spend a refresh token for a new pair. A spent token presented again ends its whole session:
    whoever holds the copy (the thief or the owner) must log in again."""
    now = utcnow()
    row = session.scalar(select(RefreshToken).where(RefreshToken.token_hash == _hash_refresh(refresh_token)))
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise InvalidCredentials("登录已失效，请重新登录")
    spent = cast(CursorResult[Any], session.execute(  # an UPDATE: its result has a rowcount
        update(RefreshToken)
        .where(RefreshToken.id == row.id, RefreshToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ))
    if spent.rowcount != 1:
        end_session(session=session, session_id=row.session_id)
        raise InvalidCredentials("登录凭证已被使用过，为安全起见请重新登录")
    account = session.get(Account, row.account_id)
    if account is None or not account.active:
        raise InvalidCredentials("登录已失效，请重新登录")
    return issue_tokens(session=session, account=account, session_id=row.session_id)


def end_session(*, session: SessionLike, session_id: str) -> None:
    """Logout: refuse the session's access tokens and its refresh tokens from now on."""
    now = utcnow()
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.session_id == session_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    if session.get(RevokedSession, session_id) is None:
        longest = dt.timedelta(seconds=current_app.config["REFRESH_TOKEN_TTL"])
        session.add(RevokedSession(session_id=session_id, revoked_at=now, expires_at=now + longest))
    session.flush()


def _decode(token: str) -> dict:
    config = current_app.config
    try:
        return jwt.decode(
            token,
            config["SECRET_KEY"],
            algorithms=[ALGORITHM],
            audience=config["JWT_AUDIENCE"],
            issuer=config["JWT_ISSUER"],
            options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("登录已过期，请刷新或重新登录") from None
    except jwt.InvalidTokenError:
        raise Unauthorized("登录凭证无效") from None


# The account of a token, if its session is not revoked and is one this account logged in with (its
# refresh-token rows name the account): a token does not act as another account, nor as a new account
# that got a deleted one's id (the deleted account's rows went with it, ON DELETE CASCADE). Built once:
# building it per request cost more than the indexed lookup it adds (docs/decisions.md, Hardening).
_TOKEN_ACCOUNT = (
    select(Account, RevokedSession.session_id)
    .outerjoin(RevokedSession, RevokedSession.session_id == bindparam("session_id"))
    .where(Account.id == bindparam("account_id"),
           exists().where(RefreshToken.session_id == bindparam("session_id"), RefreshToken.account_id == Account.id))
)


def session_account(*, account_id: int, session_id: str) -> Account | None:
    """The active account of a login session it opened and that was not ended, else None: how a
    session held elsewhere than in a bearer token (the dashboard's cookie) is checked, as tokens are."""
    row = db.session.execute(_TOKEN_ACCOUNT, {"account_id": account_id, "session_id": session_id}).first()
    if row is None or row[1] is not None or not row[0].active:
        return None
    return row[0]


def current_caller(optional: bool = False) -> Account | ApiClient | None:
    """The account or API client of the bearer token on this request, loaded once per request (kept
    in the WSGI environ, which lives exactly as long as the request)."""
    if _ACCOUNT in request.environ:
        return request.environ[_ACCOUNT]
    header = request.headers.get("Authorization", "")
    if not header:
        if optional:
            request.environ[_ACCOUNT] = None
            return None
        raise Unauthorized()
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization 头格式应为 Bearer <token>")
    claims = _decode(token.strip())
    if claims.get("typ") == clients.TOKEN_TYPE:
        found = clients.client_of_claims(session=db.session, claims=claims)
        if found is None:
            raise Unauthorized("API 客户端凭证无效或客户端已停用")
        request.environ[_ACCOUNT], request.environ[_SCOPES] = found
        request.environ[CALLER] = found[0].caller
        return found[0]
    account_id, session_id = _subject(claims)
    account = session_account(account_id=account_id, session_id=session_id)
    if account is None:
        raise Unauthorized("登录已失效，请重新登录")
    request.environ[_ACCOUNT] = account
    request.environ[_SESSION] = session_id
    return account


def current_account(optional: bool = False) -> Account | None:
    """The account of the bearer token on this request; an API client's token is refused (403)."""
    caller = current_caller(optional=optional)
    if isinstance(caller, ApiClient):
        raise Forbidden("API 客户端凭证不能访问此接口")
    return caller


def current_client() -> ApiClient | None:
    """The API client calling, if a client is (after login_required let it in)."""
    caller = current_caller(optional=True)
    return caller if isinstance(caller, ApiClient) else None


def client_scopes() -> frozenset[str]:
    """The scopes the calling client's token may use now (none for an account)."""
    current_caller(optional=True)
    return request.environ.get(_SCOPES, frozenset())


def log_client_call(response):
    """After every request made with a client token: one line naming the client, the call and its status
    (the path alone: a query string may carry a secret)."""
    caller = request.environ.get(CALLER)
    if caller is not None:
        current_app.logger.info("%s %s %s %s", caller, request.method, request.path, response.status_code)
    return response


def _subject(claims: dict) -> tuple[int, str]:
    """The account id and session id a signed token names, if they are ones the app issues."""
    sub, sid = claims["sub"], claims.get("sid")
    if (not isinstance(sub, str) or not _ACCOUNT_ID.fullmatch(sub) or int(sub) > _MAX_ACCOUNT_ID
            or not isinstance(sid, str) or not _SESSION_ID.fullmatch(sid)):
        raise Unauthorized("登录凭证无效")
    return int(sub), sid


def current_session_id() -> str:
    current_account()
    return request.environ[_SESSION]


def login_required(*roles: str, optional: bool = False, scopes: tuple[str, ...] = ()):
    """Require a bearer token (of one of `roles`, if given) and document it in OpenAPI.

    With optional=True an anonymous call goes through with no account, but a bad token is still
    refused rather than silently ignored. With `scopes`, an API client's token holding every one of
    them is let in too (the view then asks current_caller()); without, a client token is 403.
    """
    unknown = [scope for scope in scopes if scope not in clients.SCOPES]
    if unknown:
        raise ValueError(f"undeclared scopes {unknown}: add them to api.clients.SCOPES")

    def decorator(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            caller = current_caller(optional=optional)
            if isinstance(caller, ApiClient):
                if not scopes:
                    raise Forbidden("API 客户端凭证不能访问此接口")
                missing = [scope for scope in scopes if scope not in request.environ.get(_SCOPES, ())]
                if missing:
                    raise Forbidden(f"访问令牌缺少权限范围：{' '.join(missing)}")
            elif caller is not None and roles and caller.role not in roles:
                raise Forbidden()
            return fn(*args, **kwargs)

        apidoc = {**getattr(fn, "_apidoc", {})}
        manual = dict(apidoc.get("manual_doc", {}))
        manual["security"] = BEARER + ([{}] if optional else [])
        manual["responses"] = {**manual.get("responses", {}), "401": "UNAUTHORIZED",
                               **({"403": "FORBIDDEN"} if roles or scopes else {})}
        notes = []
        if roles:
            notes.append("Roles: " + ", ".join(roles) + ".")
        if scopes:
            notes.append("API clients (client-credentials token) with scope: " + " ".join(scopes) + ".")
        if notes:
            manual["description"] = (manual.get("description", "") + "\n\n" + " ".join(notes)).strip()
        apidoc["manual_doc"] = manual
        vars(wrapper)["_apidoc"] = apidoc  # flask-smorest reads an endpoint's docs from this attribute
        return wrapper

    return decorator

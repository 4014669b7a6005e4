"""API clients: machine credentials for other systems (the province's platforms), with scopes.

An admin creates a client; its secret is shown once and only its SHA-256 is kept. A secret is 32
random bytes, so a fast hash is the right one: nobody can search a 256-bit space, and a slow password
hash (scrypt) would only make every token request and every Open311 post slow. The hash is also what
finds the client of an Open311 `api_key` (an indexed lookup of a value an attacker cannot choose).
A client trades its id and secret for a short-lived bearer token (OAuth 2.0 client-credentials grant,
RFC 6749 §4.4); revoking the client refuses its tokens from the next call on, since every call reads
the client's row (api.auth.current_caller).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import uuid

import jwt
from flask import current_app
from sqlalchemy import CheckConstraint, ForeignKey, String, select
from sqlalchemy.orm import Mapped, mapped_column

from api import audit
from api.database import Model, SessionLike, UTCDateTime, utcnow
from api.errors import InvalidCredentials, NotFound, ValidationFailed

CHANGES_READ, CREDIT_READ, COMPLAINTS_WRITE = "changes:read", "credit:read", "complaints:write"
SCOPES = {
    CHANGES_READ: "读取变更流（机构、人员、赋码、信用、检查、处罚、名单、投诉状态）",
    CREDIT_READ: "读取信用信息（双公示行政处罚数据）",
    COMPLAINTS_WRITE: "代群众提交投诉（Open311 接入）",
}
SECRET_PREFIX = "ocs_"  # lets secret scanners (and people) recognise a leaked onecode secret
CLIENT_ID_PREFIX = "occ_"
TOKEN_TYPE = "client"  # the `typ` claim that tells a client token from an account's
_CLIENT_SUB = re.compile(r"client:[1-9][0-9]{0,9}")


class ApiClient(Model):
    __tablename__ = "api_clients"
    __table_args__ = (CheckConstraint("scopes <> ''", name="scopes_not_empty"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    scopes: Mapped[str] = mapped_column(String(200))  # space-separated, as OAuth writes them
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    last_token_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def caller(self) -> str:
        """How logs name this client: `client:<id>`."""
        return f"client:{self.id}"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_scopes(scopes: list[str], field: str = "scopes") -> list[str]:
    """Known scopes, without repeats, in the declared order; an unknown one is a 422."""
    unknown = [scope for scope in scopes if scope not in SCOPES]
    if unknown:
        raise ValidationFailed(fields={field: [f"未知的权限范围：{', '.join(unknown)}；可选 {', '.join(SCOPES)}"]})
    if not scopes:
        raise ValidationFailed(fields={field: ["至少选择一个权限范围"]})
    return [scope for scope in SCOPES if scope in scopes]


def create_client(*, session: SessionLike, name: str, scopes: list[str], created_by_id: int | None) -> tuple[ApiClient, str]:
    """A new client and its secret (returned this once; only its hash is stored). A complaints:write
    client holds that scope alone: its secret is the Open311 `api_key`, which GeoReport apps carry inside
    apps anyone can unpack, so it must not also open the change feed or the credit data."""
    scopes = check_scopes(scopes)
    if COMPLAINTS_WRITE in scopes and len(scopes) > 1:
        raise ValidationFailed("complaints:write 须单独授予", fields={"scopes": [
            "complaints:write 的密钥即 Open311 api_key，会随公开发布的 App 分发，不能与其他权限范围同授；"
            "请另建一个客户端"]})
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    client = ApiClient(client_id=CLIENT_ID_PREFIX + secrets.token_hex(12), name=name, scopes=" ".join(scopes),
                       secret_hash=hash_secret(secret), created_by_id=created_by_id)
    session.add(client)
    session.flush()
    audit.record(session=session, account_id=created_by_id, action=audit.CREATE_API_CLIENT, object_type="api_client",
                 object_id=str(client.id), detail=f"{client.caller} {name[:60]} [{client.scopes}]")
    return client, secret


def client_query():
    return select(ApiClient).order_by(ApiClient.id.desc())


def revoke(*, session: SessionLike, client_id: int, revoked_by_id: int | None) -> ApiClient:
    """Revoke a client: its secret and every token it holds are refused from now on. Idempotent."""
    client = session.get(ApiClient, client_id)
    if client is None:
        raise NotFound("未找到该 API 客户端")
    if client.revoked_at is None:
        client.revoked_at, client.revoked_by_id = utcnow(), revoked_by_id
        audit.record(session=session, account_id=revoked_by_id, action=audit.REVOKE_API_CLIENT,
                     object_type="api_client", object_id=str(client.id), detail=client.caller)
        session.flush()
    return client


def authenticate(*, session: SessionLike, client_id: str, client_secret: str) -> ApiClient:
    """The active client with this id and secret; else 401 (the same answer for every failure)."""
    client = session.scalar(select(ApiClient).where(ApiClient.client_id == client_id))
    presented = hash_secret(client_secret)
    stored = client.secret_hash if client is not None else hash_secret("no-such-client")
    if not hmac.compare_digest(presented, stored) or client is None or not client.active:
        raise InvalidCredentials("客户端标识或密钥错误，或客户端已停用")
    return client


def by_secret(*, session: SessionLike, secret: str) -> ApiClient | None:
    """The active client whose secret this is (an Open311 `api_key`), or None."""
    if not secret or len(secret) > 200:
        return None
    client = session.scalar(select(ApiClient).where(ApiClient.secret_hash == hash_secret(secret)))
    return client if client is not None and client.active else None


def issue_token(*, session: SessionLike, client: ApiClient, scope: str | None = None) -> dict:
    """A bearer token for `client`, limited to the requested scopes (all of its own if none asked);
    asking for one the client does not hold is a 422 (RFC 6749 §5.2 invalid_scope)."""
    held = client.scope_list
    if scope is None or not scope.strip():
        granted = held
    else:
        requested = check_scopes(scope.split(), field="scope")
        beyond = [s for s in requested if s not in held]
        if beyond:
            raise ValidationFailed("请求的权限范围超出该客户端的授权",
                                   fields={"scope": [f"该客户端没有权限范围：{', '.join(beyond)}"]})
        granted = requested
    config = current_app.config
    now = utcnow()
    ttl = config["CLIENT_TOKEN_TTL"]
    claims = {"iss": config["JWT_ISSUER"], "aud": config["JWT_AUDIENCE"], "sub": client.caller, "iat": now,
              "nbf": now, "exp": now + dt.timedelta(seconds=ttl), "jti": uuid.uuid4().hex, "typ": TOKEN_TYPE,
              "scope": " ".join(granted)}
    client.last_token_at = now
    audit.record(session=session, account_id=None, action=audit.ISSUE_CLIENT_TOKEN, object_type="api_client",
                 object_id=str(client.id), detail=f"{client.caller} [{' '.join(granted)}]")
    session.flush()
    return {"access_token": jwt.encode(claims, config["SECRET_KEY"], algorithm="HS256"), "token_type": "Bearer",
            "expires_in": ttl, "scope": " ".join(granted)}


def client_of_claims(*, session: SessionLike, claims: dict) -> tuple[ApiClient, frozenset[str]] | None:
    """The active client a verified client token names and the scopes it may use now (the token's,
    within the client's own); None if the token names no active client."""
    sub = claims.get("sub")
    if not isinstance(sub, str) or not _CLIENT_SUB.fullmatch(sub) or int(sub[7:]) > 2**31 - 1:
        return None
    client = session.get(ApiClient, int(sub[7:]))
    if client is None or not client.active:
        return None
    scope = claims.get("scope")
    granted = frozenset(scope.split()) if isinstance(scope, str) else frozenset()
    return client, granted & frozenset(client.scope_list)

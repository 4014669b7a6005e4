"""WeChat: mini-program login (jscode2session), the API access token, and mini-program codes.

Speaks WeChat's HTTP API with httpx against `WECHAT_API_BASE`. Every call has a timeout; WeChat's
"system busy" (errcode -1) is retried once. WeChat's errors become the contract's: a bad, used or
expired login code and a blocked user are 401 INVALID_CREDENTIALS, WeChat's own rate limit is 429,
and WeChat unreachable or failing is 503 WECHAT_UNAVAILABLE. The `session_key` WeChat returns is
never stored, returned or logged: onecode needs only the openid (and unionid).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time

import httpx
from flask import current_app
from sqlalchemy import String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from api.access import CITIZEN
from api.database import Model, UTCDateTime, lock_row, utcnow
from api.errors import DomainError, InvalidCredentials

log = logging.getLogger(__name__)
# httpx logs every request URL at INFO, and WeChat's URLs carry the app secret and the access token.
logging.getLogger("httpx").setLevel(logging.WARNING)
logging.getLogger("httpcore").setLevel(logging.WARNING)
TIMEOUT = httpx.Timeout(5.0, connect=3.0)
BUSY = -1
INVALID_CODE, CODE_USED, RATE_LIMITED, BLOCKED = 40029, 40163, 45011, 40226
TOKEN_INVALID = (40001, 42001, 40014)  # invalid, expired, malformed access token: fetch a new one once
TOKEN_MARGIN = dt.timedelta(minutes=5)  # refresh this long before WeChat's expiry


class WeChatUnavailable(DomainError):
    status, code, default_message = 503, "WECHAT_UNAVAILABLE", "微信服务暂时不可用，请稍后再试"


class WeChatNotConfigured(DomainError):
    status, code, default_message = 503, "WECHAT_NOT_CONFIGURED", "未配置微信小程序，请使用普通二维码"


class WeChatRateLimited(DomainError):
    status, code, default_message = 429, "RATE_LIMITED", "微信登录过于频繁，请稍后再试"

    def __init__(self):
        super().__init__(headers={"Retry-After": "60"})


def _settings() -> tuple[str, str, str]:
    config = current_app.config
    if not config.get("WECHAT_APPID") or not config.get("WECHAT_SECRET"):
        raise WeChatNotConfigured()
    return config["WECHAT_APPID"], config["WECHAT_SECRET"], config["WECHAT_API_BASE"].rstrip("/")


def _request(method: str, url: str, **kwargs) -> httpx.Response:
    """One HTTP call; a timeout or a connection failure is WeChat being unavailable."""
    try:
        with httpx.Client(timeout=TIMEOUT) as client:
            response = client.request(method, url, **kwargs)
    except httpx.HTTPError as error:
        log.warning("WeChat %s unreachable: %s", url.split("?")[0], type(error).__name__)
        raise WeChatUnavailable() from None
    if response.status_code >= 500:
        log.warning("WeChat %s answered HTTP %s", url.split("?")[0], response.status_code)
        raise WeChatUnavailable()
    return response


def _json(response: httpx.Response) -> dict:
    try:
        data = response.json()
    except ValueError:
        raise WeChatUnavailable() from None
    if not isinstance(data, dict):
        raise WeChatUnavailable()
    return data


def _call_json(method: str, url: str, **kwargs) -> dict:
    """A JSON call, retried once when WeChat says it is busy (-1)."""
    data = _json(_request(method, url, **kwargs))
    if data.get("errcode") == BUSY:
        time.sleep(0.2)
        data = _json(_request(method, url, **kwargs))
        if data.get("errcode") == BUSY:
            raise WeChatUnavailable()
    return data


# ---- login ----------------------------------------------------------------------------------------

def code_to_session(js_code: str) -> tuple[str, str | None]:
    """(openid, unionid) for a wx.login() code. The session_key is dropped here."""
    appid, secret, base = _settings()
    data = _call_json("GET", f"{base}/sns/jscode2session", params={
        "appid": appid, "secret": secret, "js_code": js_code, "grant_type": "authorization_code"})
    errcode = data.get("errcode") or 0
    if errcode in (INVALID_CODE, CODE_USED):
        raise InvalidCredentials("微信登录凭证无效或已使用，请重新进入小程序")
    if errcode == BLOCKED:
        raise InvalidCredentials("该微信用户已被限制登录")
    if errcode == RATE_LIMITED:
        raise WeChatRateLimited()
    if errcode or not data.get("openid"):
        log.warning("WeChat jscode2session failed with errcode %s", errcode)
        raise WeChatUnavailable()
    return data["openid"], data.get("unionid")


def username_for(openid: str) -> str:
    """Citizens get a stable, opaque username; the openid itself is kept in its own column."""
    return "wx-" + hashlib.sha256(openid.encode()).hexdigest()[:24]


def find_or_create_citizen(*, session, openid: str, unionid: str | None):
    """The citizen for this openid (or, across the vendor's apps, this unionid); created on first login."""
    from api.models import Account

    account = session.scalar(select(Account).where(Account.wechat_openid == openid))
    if account is None and unionid:
        account = session.scalar(select(Account).where(Account.wechat_unionid == unionid))
    if account is None:
        account = Account(username=username_for(openid), role=CITIZEN, wechat_openid=openid,
                          wechat_unionid=unionid, password_hash=None)
        session.add(account)
    else:
        if unionid and not account.wechat_unionid:
            account.wechat_unionid = unionid
        if not account.active:
            raise InvalidCredentials("该账号已停用")
    session.flush()
    return account


# ---- the API access token, shared by all workers ----------------------------------------------------

class WeChatToken(Model):
    """WeChat's API access token, one row: fetching a new one invalidates the old one after a few
    minutes, so every worker must use the same token rather than each fetching its own."""

    __tablename__ = "wechat_tokens"

    appid: Mapped[str] = mapped_column(String(32), primary_key=True)
    access_token: Mapped[str] = mapped_column(String(512))
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    fetched_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


def access_token(*, session, force: bool = False) -> str:
    appid, secret, base = _settings()
    now = utcnow()
    row = session.get(WeChatToken, appid)
    if row is not None and not force and row.expires_at - TOKEN_MARGIN > now:
        return row.access_token
    if row is not None:
        lock_row(session, WeChatToken, appid, column="appid")
        session.refresh(row)
        if not force and row.expires_at - TOKEN_MARGIN > now:  # another worker refreshed it meanwhile
            return row.access_token
    data = _call_json("GET", f"{base}/cgi-bin/token",
                      params={"grant_type": "client_credential", "appid": appid, "secret": secret})
    if data.get("errcode") or not data.get("access_token"):
        log.warning("WeChat cgi-bin/token failed with errcode %s", data.get("errcode"))
        raise WeChatUnavailable()
    expires_at = now + dt.timedelta(seconds=int(data.get("expires_in", 7200)))
    if row is None:
        row = WeChatToken(appid=appid, access_token=data["access_token"], expires_at=expires_at, fetched_at=now)
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:  # another worker stored the first token meanwhile: use theirs
            session.commit()
            return session.get(WeChatToken, appid, populate_existing=True).access_token
    else:
        row.access_token, row.expires_at, row.fetched_at = data["access_token"], expires_at, now
    session.flush()
    session.commit()  # shared with the other workers at once, whatever happens to this request
    return row.access_token


# ---- mini-program codes ---------------------------------------------------------------------------

def unlimited_code(*, session, scene: str) -> tuple[bytes, str]:
    """A mini-program code (wxa/getwxacodeunlimit) opening WECHAT_PAGE with `scene`: (image, type)."""
    if not 1 <= len(scene) <= 32:
        raise ValueError("a WeChat scene is 1 to 32 characters")
    _, _, base = _settings()
    body = {"scene": scene, "page": current_app.config["WECHAT_PAGE"], "check_path": False,
            "env_version": current_app.config["WECHAT_ENV_VERSION"], "width": 430}
    force = False
    for attempt in range(2):
        token = access_token(session=session, force=force)
        response = _request("POST", f"{base}/wxa/getwxacodeunlimit", params={"access_token": token}, json=body)
        content_type = response.headers.get("content-type", "").split(";")[0].strip()
        if content_type.startswith("image/"):
            return response.content, content_type
        data = _json(response)
        if data.get("errcode") in TOKEN_INVALID and attempt == 0:
            force = True  # only a refused token is replaced: a new one retires the old for every worker
            continue
        if data.get("errcode") == BUSY and attempt == 0:
            continue
        log.warning("WeChat getwxacodeunlimit failed with errcode %s", data.get("errcode"))
        raise WeChatUnavailable()
    raise WeChatUnavailable()

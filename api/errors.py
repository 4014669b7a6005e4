"""The one place where errors become the contract's envelope: {code, message, fields?}.

Services raise the domain exceptions below; Flask/werkzeug/webargs raise HTTP exceptions; a database
that does not answer in time is UNAVAILABLE (503, retry); anything else is logged and answered as
INTERNAL_ERROR without a stack trace.
"""

from __future__ import annotations

import logging

from flask import g, jsonify, request
from marshmallow import Schema, fields
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from api.zh_messages import in_chinese

log = logging.getLogger(__name__)

RETRY_AFTER = "5"  # seconds, on a 503: a lock wait, a deadlock victim or a failover is over by then


class DomainError(Exception):
    """Base for errors a service raises on purpose; each maps to one contract code."""

    status = 400
    code = "BAD_REQUEST"
    default_message = "请求无法处理"

    def __init__(self, message: str | None = None, *, fields: dict[str, list[str]] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message or self.default_message)
        self.message = message or self.default_message
        self.fields = fields
        self.headers = headers


class ValidationFailed(DomainError):
    status, code, default_message = 422, "VALIDATION_FAILED", "请求参数有误"


class Unauthorized(DomainError):
    status, code, default_message = 401, "UNAUTHORIZED", "请先登录"


class InvalidCredentials(DomainError):
    status, code, default_message = 401, "INVALID_CREDENTIALS", "用户名或密码错误"


class Forbidden(DomainError):
    status, code, default_message = 403, "FORBIDDEN", "无权进行此操作"


class NotFound(DomainError):
    status, code, default_message = 404, "NOT_FOUND", "未找到"


class NotVisible(NotFound):
    """The object exists but this account may not see it: answered exactly like a missing one."""


class Conflict(DomainError):
    status, code, default_message = 409, "CONFLICT", "与已有数据冲突"


class InvalidTransition(DomainError):
    status, code, default_message = 409, "INVALID_TRANSITION", "当前状态下不能进行此操作"


class Unavailable(DomainError):
    """Something the request needs (the database, the attachment store) cannot serve it now; nothing
    was stored and the same request may be sent again."""

    status, code, default_message = 503, "UNAVAILABLE", "服务暂时不可用，请稍后重试"

    def __init__(self, message: str | None = None, **kwargs):
        kwargs["headers"] = {"Retry-After": RETRY_AFTER, **(kwargs.get("headers") or {})}
        super().__init__(message, **kwargs)


class CodeRevoked(DomainError):
    status, code, default_message = 410, "CODE_REVOKED", "此码已作废，请扫描机构现场张贴的新码"


# HTTP status -> (code, zh-CN message) for errors raised by Flask, werkzeug and webargs.
HTTP_CODES: dict[int, tuple[str, str]] = {
    400: ("VALIDATION_FAILED", "请求格式有误"),
    401: ("UNAUTHORIZED", "请先登录"),
    403: ("FORBIDDEN", "无权进行此操作"),
    404: ("NOT_FOUND", "未找到"),
    405: ("METHOD_NOT_ALLOWED", "不支持此请求方法"),
    409: ("CONFLICT", "与已有数据冲突"),
    410: ("CODE_REVOKED", "此码已作废"),
    413: ("PAYLOAD_TOO_LARGE", "上传内容过大"),
    415: ("UNSUPPORTED_MEDIA_TYPE", "不支持的内容类型，请使用 application/json"),
    422: ("VALIDATION_FAILED", "请求参数有误"),
    429: ("RATE_LIMITED", "请求过于频繁，请稍后再试"),
    500: ("INTERNAL_ERROR", "服务器内部错误，请稍后再试"),
    503: ("UNAVAILABLE", "服务暂不可用"),
}


class ErrorSchema(Schema):
    """The error envelope of every 4xx/5xx answer."""

    code = fields.String(required=True, metadata={"example": "VALIDATION_FAILED"})
    message = fields.String(required=True, metadata={"example": "请求参数有误"})
    error = fields.String(metadata={
        "description": "POST /api/v1/auth/token only: RFC 6749 §5.2's error code (invalid_client, invalid_request, "
                       "unsupported_grant_type, invalid_scope), beside the envelope's own",
        "example": "invalid_client"})
    fields = fields.Dict(
        keys=fields.String(), values=fields.List(fields.String()),
        metadata={"description": "Per-field messages, for validation errors"},
    )


def envelope(status: int, code: str, message: str, field_errors=None, headers=None):
    body = {"code": code, "message": message}
    if field_errors:
        body["fields"] = field_errors
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    if status == 503:
        keep_retry_after(headers)
    return response


def keep_retry_after(headers: dict | None) -> None:
    """Remember a 503's Retry-After for restore_retry_after(): on a rate-limited route Flask-Limiter's
    after-request hook replaces it with the later of it and the limit window's reset (up to a day)."""
    if headers and "Retry-After" in headers:
        g.retry_after = headers["Retry-After"]


def restore_retry_after(response):
    """Registered before the limiter, so it runs after the limiter's own after-request hook."""
    value = g.pop("retry_after", None)
    if value is not None:
        response.headers["Retry-After"] = value
    return response


def flatten_messages(messages, prefix: str = "") -> dict[str, list[str]]:
    """Turn marshmallow's nested messages into {"a.b.0.c": ["..."]}, in Chinese."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            flat.update(flatten_messages(value, name))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        flat[prefix or "_schema"] = [in_chinese(m) for m in messages]
    elif isinstance(messages, list):
        for index, value in enumerate(messages):
            flat.update(flatten_messages(value, f"{prefix}.{index}" if prefix else str(index)))
    else:
        flat[prefix or "_schema"] = [in_chinese(str(messages))]
    return flat


def _webargs_fields(data) -> dict[str, list[str]] | None:
    """webargs puts messages under their location ({"json": {...}, "query": {...}}); drop the location."""
    messages = (data or {}).get("messages")
    if not messages:
        return None
    merged: dict[str, list[str]] = {}
    for location_messages in messages.values():
        merged.update(flatten_messages(location_messages))
    return merged


def answer_with_pages(app, paths: tuple[str, ...], handler) -> None:
    """Errors raised before any view is chosen (no route matches, a method the route does not take)
    under `paths` are answered by `handler`, not as JSON: the H5 pages answer even a mistyped address
    with a page. A path matches `/c` if it is `/c` or lies under `/c/`."""
    app.extensions.setdefault("error_pages", []).append((paths, handler))


def _page_handler(app):
    if request.blueprint is not None:  # a view's blueprint handles its own errors
        return None
    for paths, handler in app.extensions.get("error_pages", ()):
        if any(request.path == path or request.path.startswith(path + "/") for path in paths):
            return handler
    return None


def handle_http_exception(error: HTTPException):
    from flask import current_app

    page = _page_handler(current_app)
    if page is not None:
        return page(error)
    status = error.code or 500
    code, message = HTTP_CODES.get(status, (f"HTTP_{status}", error.name))
    data = getattr(error, "data", None) or {}
    field_errors = _webargs_fields(data)
    if status == 400:
        status = 422  # the contract answers malformed JSON with 422 VALIDATION_FAILED
    if status == 422 and field_errors and "_schema" in field_errors and list(field_errors) == ["_schema"]:
        invalid_json = in_chinese("Invalid JSON body.")
        message = invalid_json if field_errors["_schema"] == [invalid_json] else message
    headers = dict(data.get("headers") or {})
    if status == 405 and getattr(error, "valid_methods", None):
        headers["Allow"] = ", ".join(error.valid_methods)
    if status == 429:
        retry_after = _retry_after(error)
        if retry_after:
            headers["Retry-After"] = retry_after
    if status >= 500:
        log.error("HTTP %s: %s", status, error)
    return envelope(status, code, message, field_errors, headers)


def _retry_after(error) -> str | None:
    """Flask-Limiter puts Retry-After on the response it built; keep it."""
    response = getattr(error, "response", None)
    if response is not None and response.headers.get("Retry-After"):
        return response.headers["Retry-After"]
    return "60"


def handle_domain_error(error: DomainError):
    return envelope(error.status, error.code, error.message, error.fields, error.headers)


def handle_integrity_error(error: IntegrityError):
    from api.database import db

    db.session.rollback()
    log.info("integrity error answered as 409: %s", error.orig)
    return envelope(409, "CONFLICT", "与已有数据冲突（唯一性或关联约束）")


def handle_data_error(error: DataError):
    """A value the database cannot hold slipped past validation: still the client's input, still 422."""
    from api.database import db

    db.session.rollback()
    log.warning("data error answered as 422: %s", error.orig)
    return envelope(422, "VALIDATION_FAILED", "数据格式或取值范围无效")


# After these the same request may well succeed: connection exceptions (SQLSTATE class 08), a
# serialisation failure or a deadlock (40), insufficient resources such as too many connections (53),
# a statement timeout or a server shutting down (57), a lock not available (55P03).
_RETRYABLE_CLASSES = ("08", "40", "53", "57")
_RETRYABLE_STATES = ("55P03",)


def database_busy(error: Exception) -> bool:
    """Whether a database error means "not now" (answer 503, retry) rather than a fault in the
    program or the schema (a missing table is an OperationalError too, and no retry will fix it)."""
    if isinstance(error, PoolTimeout):  # every pooled connection in use for longer than pool_timeout
        return True
    if not isinstance(error, OperationalError):
        return False
    if error.connection_invalidated:
        return True
    state = getattr(error.orig, "sqlstate", None)  # psycopg
    if state:
        return state.startswith(_RETRYABLE_CLASSES) or state in _RETRYABLE_STATES
    if type(error.orig).__module__ == "sqlite3":
        return any(word in str(error.orig) for word in ("locked", "busy"))
    return True  # psycopg without a SQLSTATE: the server was never reached


def rollback_after_database_error(error: Exception) -> None:
    """End the request's failed transaction; a rollback on a connection that is gone fails too, and
    then the pool replaces the connection."""
    from api.database import db

    log.warning("database busy or unreachable, answered as 503: %s", getattr(error, "orig", error))
    try:
        db.session.rollback()
    except OperationalError:
        log.warning("rollback after a database error failed too", exc_info=True)


def handle_database_error(error: Exception):
    """The database refused or dropped the connection, gave up waiting for a lock, or chose this
    transaction as a deadlock's victim: 503 with Retry-After, since the transaction was rolled back
    and the same request can be sent again (a complaint with its Idempotency-Key, so that a commit
    whose answer was lost is not filed twice). Any other database error is a fault: 500."""
    if not database_busy(error):
        return handle_unexpected(error)
    rollback_after_database_error(error)
    return envelope(503, "UNAVAILABLE", "数据库暂时无法完成请求，请稍后重试",
                    headers={"Retry-After": RETRY_AFTER})


def handle_unexpected(error: Exception):
    from api.database import db

    db.session.rollback()
    log.exception("unhandled error")
    return envelope(500, "INTERNAL_ERROR", HTTP_CODES[500][1])


def init_app(app) -> None:
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(IntegrityError, handle_integrity_error)
    app.register_error_handler(DataError, handle_data_error)
    app.register_error_handler(OperationalError, handle_database_error)
    app.register_error_handler(PoolTimeout, handle_database_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)

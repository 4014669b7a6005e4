"""The leaders' dashboard (监管统计看板, issue 20 part 3): `GET /dashboard`, a server-rendered page.

Regulators (officers, supervisors, admins) log in through a form with their usual account; the page
only reads: oversight.stats.compute's numbers as inline SVG charts with tables beside them, a GET form
for the period, department and street (the access rules of /api/v1/stats), and the monthly report.
No JavaScript and nothing from other sites: the Content-Security-Policy allows only the page's own
stylesheet (by nonce). The login session and the forms' CSRF tokens are in oversight.web_session.
"""

from __future__ import annotations

import secrets

from flask import current_app, g, redirect, render_template, request, url_for
from marshmallow import ValidationError
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from api import auth
from api.access import ADMIN, OFFICER, REGULATORS, SUPERVISOR
from api.database import db, today_shanghai, utcnow
from api.errors import (
    RETRY_AFTER,
    DomainError,
    Forbidden,
    InvalidCredentials,
    ValidationFailed,
    answer_with_pages,
    database_busy,
    flatten_messages,
    keep_retry_after,
    rollback_after_database_error,
)
from api.extensions import Blueprint, password_login_limit
from api.models import DEPARTMENTS
from api.spreadsheets import XLSX
from oversight import dashboard_view, report, stats, web_session
from oversight.routes import xlsx_answer
from oversight.schemas import StatsArgs

blp = Blueprint("dashboard", __name__, url_prefix="/dashboard", template_folder="templates",
                description="The leaders' dashboard (监管统计看板): HTML pages for regulators, cookie login")
blp.record_once(lambda state: answer_with_pages(state.app, ("/dashboard",), _routing_error))

HTML = {"content": {"text/html": {}}}
ROLE_NAMES = {OFFICER: "执法人员", SUPERVISOR: "部门负责人", ADMIN: "系统管理员"}
FILTERS = {"from": "date_from", "to": "date_to", "department": "department", "street": "street"}
FIELD_LABELS = {"from": "起始日期", "to": "截止日期", "department": "部门", "street": "街道", "_schema": "查询条件"}
REFUSED_ROLE = ("统计看板仅供监管部门的执法人员、部门负责人和系统管理员使用；医疗机构和公众账号不能登录。"
                "机构请使用机构端，公众请使用扫码页面。")
CSRF_FAILED = "登录页面已过期或来源不明，请重新打开此页面后再提交。"


def _page(description: str) -> dict:
    return {"description": description, **HTML}


# What every page may answer besides its own statuses: always a page, never JSON.
PAGE_ERRORS = {"404": _page("HTML page: an address under /dashboard that is no page"),
               "503": {**_page("HTML page: the system is busy, try again (Retry-After)"),
                       "headers": {"Retry-After": {"description": "Seconds to wait before trying again",
                                                   "schema": {"type": "integer", "minimum": 1}}}},
               "default": _page("HTML page: any other error")}


# ---- headers and errors ----------------------------------------------------------------------------

def _nonce() -> str:
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


@blp.app_context_processor
def _template_globals():
    return {"csp_nonce": _nonce}


@blp.after_request
def _headers(response):
    style = f"'nonce-{g.csp_nonce}'" if "csp_nonce" in g else "'none'"
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; style-src {style}; img-src data:; form-action 'self'; base-uri 'none'; "
        "frame-ancestors 'none'")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "private, no-store"  # a regulator's numbers: not for caches
    return response


def _error_page(status: int, message: str, headers: dict | None = None):
    return render_template("oversight/error.html", status=status, message=message), status, headers or {}


@blp.errorhandler(HTTPException)
def _http_error(error: HTTPException):
    status = error.code or 500
    if status == 429:
        limited = getattr(error, "response", None)
        retry = (limited.headers.get("Retry-After") if limited is not None else None) or "60"
        return _login_page(error="登录尝试过于频繁，请稍后再试。", status=429, headers={"Retry-After": retry})
    messages = {404: "未找到该页面。", 405: "不支持此操作，请从统计看板页面重新进入。", 413: "提交的内容过大。"}
    return _error_page(status, messages.get(status, "请求无法处理，请稍后再试。"))


def _routing_error(error: HTTPException):
    """An address under /dashboard that no page has, or a method it does not take: a page too."""
    return _headers(current_app.make_response(_http_error(error)))


@blp.errorhandler(DomainError)
def _domain_error(error: DomainError):
    db.session.rollback()
    if error.status == 503:
        return _busy()
    return _error_page(error.status, error.message)


@blp.errorhandler(OperationalError)
@blp.errorhandler(PoolTimeout)
def _database_error(error: Exception):
    if not database_busy(error):
        return _unexpected(error)
    rollback_after_database_error(error)
    return _busy()


def _busy():
    headers = {"Retry-After": RETRY_AFTER}
    keep_retry_after(headers)
    return _error_page(503, "系统繁忙，请稍后刷新页面。", headers)


@blp.errorhandler(Exception)
def _unexpected(error: Exception):
    db.session.rollback()
    current_app.logger.exception("unhandled error on the dashboard")
    return _error_page(500, "服务器暂时出了问题，请稍后再试。")


# ---- login and logout --------------------------------------------------------------------------------

@blp.route("/login", methods=["GET", "POST"])
@blp.doc(responses={**PAGE_ERRORS, "200": _page("HTML page: the login form"),
                    "303": {"description": "Logged in (or already): to /dashboard, with the session cookie"},
                    "401": _page("HTML page: the form again, wrong username or password (one message for both)"),
                    "403": _page("HTML page: an institution or citizen account, or a form from elsewhere (CSRF)"),
                    "422": _page("HTML page: the form again, a field left empty"),
                    "429": _page("HTML page: too many attempts (the API login's bucket, Retry-After)")})
@password_login_limit()
def login():
    """The dashboard's login form (regulators' accounts); POST logs in and sets the session cookie."""
    if web_session.current_login() is not None:
        return redirect(url_for("dashboard.page"), 303)
    if request.method == "GET":
        return _login_page(notice="您已退出登录。" if request.args.get("logged_out") else None)
    nonce = request.cookies.get(web_session.CSRF_COOKIE, "")
    if not web_session.valid_post(web_session.login_token(nonce) if nonce else None):
        return _login_page(error=CSRF_FAILED, status=403)
    username, password = request.form.get("username", "").strip(), request.form.get("password", "")
    fields = {name: ["请填写" + label] for name, label, value in
              (("username", "用户名", username), ("password", "密码", password)) if not value}
    if len(username) > 64 or len(password) > 128:
        fields.setdefault("username", ["用户名或密码过长"])
    if fields:
        return _login_page(fields=fields, username=username, status=422)
    try:
        account = auth.authenticate(session=db.session, username=username, password=password)
    except InvalidCredentials as error:
        return _login_page(error=error.message, username=username, status=401)
    if account.role not in REGULATORS:
        return _login_page(error=REFUSED_ROLE, username=username, status=403)
    cookie = web_session.open_session(session=db.session, account=account)
    db.session.commit()
    response = redirect(url_for("dashboard.page"), 303)
    web_session.set_cookie(response, web_session.COOKIE, cookie)
    web_session.clear_cookie(response, web_session.CSRF_COOKIE)
    return response


def _login_page(*, error: str | None = None, notice: str | None = None, fields: dict | None = None,
                username: str = "", status: int = 200, headers: dict | None = None):
    """The form, with a fresh pre-login cookie unless the browser has one (several tabs keep working)."""
    nonce = request.cookies.get(web_session.CSRF_COOKIE) or web_session.new_login_nonce()
    body = render_template("oversight/login.html", error=error, notice=notice, fields=fields or {},
                           username=username, csrf_token=web_session.login_token(nonce))
    response = current_app.make_response((body, status, headers or {}))
    web_session.set_cookie(response, web_session.CSRF_COOKIE, nonce)
    return response


@blp.route("/logout", methods=["POST"])
@blp.doc(responses={**PAGE_ERRORS, "303": {"description": "Logged out: the session ended, the cookie cleared; to the login form"},
                    "403": _page("HTML page: a form from elsewhere (CSRF)")})
def logout():
    """End the dashboard's login session (refused from then on, whoever holds a copy of the cookie)."""
    current = web_session.current_login()
    response = redirect(url_for("dashboard.login", logged_out=1), 303)
    if current is not None:
        if not web_session.valid_post(web_session.session_token(current.session_id)):
            return _error_page(403, CSRF_FAILED)
        auth.end_session(session=db.session, session_id=current.session_id)
        db.session.commit()
    web_session.clear_cookie(response, web_session.COOKIE)
    return response


# ---- the page and the report ---------------------------------------------------------------------------

@blp.route("")
@blp.doc(responses={**PAGE_ERRORS, "200": _page("HTML page: the numbers of the period as charts and tables"),
                    "303": {"description": "Not logged in: to /dashboard/login"},
                    "403": _page("HTML page: the form, and why another department's numbers are refused"),
                    "422": _page("HTML page: the form, and what to correct in the period")})
def page():
    """The numbers of a period (`from`, `to`, `department`, `street` as for /api/v1/stats) as charts."""
    current = web_session.current_login()
    if current is None:
        return _to_login()
    raw, filters, errors = _filters()
    status, message, view = 200, None, None
    if not errors:
        try:
            view = dashboard_view.numbers(current.account, filters)
            db.session.commit()  # credit recomputed because it had gone stale (rare), else nothing
        except ValidationFailed as error:
            db.session.rollback()
            status, message, errors = error.status, error.message, error.fields or {}
        except Forbidden as error:
            db.session.rollback()
            status, message = error.status, error.message
    else:
        status, message = 422, "查询条件有误"
    return render_template("oversight/dashboard.html", account=current.account, role=ROLE_NAMES[current.account.role],
                           departments=DEPARTMENTS, raw=raw, options=dashboard_view.options(current.account, raw), errors=errors,
                           message=message, view=view, labels=FIELD_LABELS,
                           report_url=url_for("dashboard.report", **{k: v for k, v in raw.items() if v}),
                           logout_token=web_session.session_token(current.session_id)), status


@blp.route("/report.xlsx", endpoint="report")
@blp.doc(responses={**PAGE_ERRORS, "200": {"description": "The monthly report workbook, as /api/v1/stats?format=xlsx",
                            "content": {XLSX: {}}},
                    "303": {"description": "Not logged in: to /dashboard/login"},
                    "403": _page("HTML page: another department's numbers"),
                    "422": _page("HTML page: a period to correct")})
def report_download():
    """The monthly report of the chosen period, department and street (the API's report, cookie login)."""
    current = web_session.current_login()
    if current is None:
        return _to_login()
    _, filters, errors = _filters()
    if errors:
        return page()
    try:
        body = report.build(session=db.session, account=current.account, now=utcnow(), group_by=None, **filters)
    except (ValidationFailed, Forbidden):
        db.session.rollback()
        return page()  # the same check again, answered as the page answers it
    db.session.commit()
    return xlsx_answer(body, filters["date_from"], filters["date_to"])


def _to_login():
    response = redirect(url_for("dashboard.login"), 303)
    if request.cookies.get(web_session.COOKIE):
        web_session.clear_cookie(response, web_session.COOKIE)  # expired or ended: drop it
    return response


def _filters() -> tuple[dict[str, str], dict, dict[str, list[str]]]:
    """The query as typed (for the form), as stats.compute takes it (the period defaulted), and the
    errors of its fields (the API's checks: StatsArgs)."""
    raw = {name: request.args.get(name, "").strip() for name in FILTERS}
    try:
        loaded = StatsArgs(only=tuple(FILTERS.values())).load({k: v for k, v in raw.items() if v})
    except ValidationError as error:
        return raw, {}, flatten_messages(error.messages)
    date_from, date_to = stats.default_period(today_shanghai(), loaded.get("date_from"), loaded.get("date_to"))
    return raw, {"date_from": date_from, "date_to": date_to, "department": loaded.get("department"),
                 "street": loaded.get("street")}, {}


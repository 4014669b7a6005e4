"""Mobile web pages (H5): the profile behind a code, the complaint form, and tracking a case.

Server-rendered HTML in zh-CN for any phone camera or browser: no JavaScript, no external assets (the
Content-Security-Policy below forbids both), plain forms that post back to the page. They call the
same services as the JSON API, so the rules (validation, routing, deadlines, query codes) are one.
"""

from __future__ import annotations

from flask import current_app, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from api.database import SHANGHAI, db
from api.errors import (
    RETRY_AFTER,
    CodeRevoked,
    Conflict,
    DomainError,
    NotFound,
    Unavailable,
    ValidationFailed,
    answer_with_pages,
    database_busy,
    keep_retry_after,
    rollback_after_database_error,
)
from api.extensions import Blueprint, limiter, query_code_limit
from api.labels import COMPLAINT_STATUS_NAMES
from api.models import DEPARTMENTS
from codes import service as codes
from complaints import attachments, intake
from complaints import service as complaints
from complaints.models import Complaint
from complaints.schemas import TRACKING_NO
from public import complain_form
from public.complain_form import GENERAL, FormErrors
from public.routes import TOKEN, scan_answer
from registry.models import Institution, Staff

h5 = Blueprint("h5", __name__, url_prefix="/c", description="Mobile web pages opened by scanning a code",
               template_folder="templates")
h5_track = Blueprint("h5_track", __name__, description="Mobile web page to follow a complaint",
                     template_folder="templates")
h5.record_once(lambda state: answer_with_pages(state.app, ("/c", "/track"), _routing_error))

HTML = {"content": {"text/html": {}}}
RETRY_AFTER_HEADER = {"Retry-After": {"description": "Seconds to wait before trying again",
                                      "schema": {"type": "integer", "minimum": 1}}}


def _page(description: str, **extra) -> dict:
    return {"description": description, **HTML, **extra}


# What every page may answer besides its own statuses: always a page, never JSON (see _http_error).
PAGE_ERRORS = {
    "404": _page("HTML page: unknown code, or an address that is no code's"),
    "503": _page("HTML page: the system is busy, try again (Retry-After)", headers=RETRY_AFTER_HEADER),
    "default": _page("HTML page: any other error"),
}
CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
       "base-uri 'none'; frame-ancestors 'none'")
PHOTO_TYPES = "image/jpeg,image/png,application/pdf"
FIELD_LABELS = {"category": "投诉类别", "content": "投诉内容", "occurred_at": "发生时间", "photo": "照片或材料",
                "anonymous": "匿名投诉", "contact_name": "姓名", "contact_phone": "联系电话"}


def _config(name):
    return lambda: current_app.config[name]


def _html(body, status=200, *, private=False):
    response = current_app.make_response((body, status))
    if private:  # a query code or a case: not for caches, the back-forward cache or other sites
        response.headers["Cache-Control"] = "no-store"
    return response


@h5.after_request
@h5_track.after_request
def _headers(response):
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


# ---- the profile ----------------------------------------------------------------------------------

@h5.route(f"/<{TOKEN}:token>")
@h5.doc(responses={**PAGE_ERRORS, "200": {"description": "HTML page", **HTML},
                   "404": {"description": "HTML page: unknown code", **HTML},
                   "410": {"description": "HTML page: revoked code", **HTML}})
def scan_page(token):
    """The public profile as a mobile web page (zh-CN), for codes scanned with any camera."""
    try:
        entry = scan_answer(token, page=True)
    except (CodeRevoked, NotFound) as error:
        return _no_such_code(error)
    return current_app.response_class(entry.content, mimetype="text/html")  # built and stored by public.ready


def _no_such_code(error: CodeRevoked | NotFound):
    """The page for a code that was revoked (410) or never existed (404), on every H5 address."""
    if isinstance(error, CodeRevoked):
        return render_template("codes/scan.html", revoked=True, message=error.message), 410
    return render_template("codes/scan.html", missing=True, message=error.message), 404


# ---- the complaint form ---------------------------------------------------------------------------

@h5.route(f"/<{TOKEN}:token>/complaint")
@h5.doc(responses={**PAGE_ERRORS, "302": {"description": "To /c/{token}/complain (the old address of the form)"}})
def complaint_page(token):
    """The former address of the complaint page: redirects to the form."""
    return redirect(url_for("h5.complain_page", token=token), 302)


@h5.route(f"/<{TOKEN}:token>/complain", methods=["GET", "POST"])
@h5.doc(responses={**PAGE_ERRORS, "200": {"description": "HTML page: the form, or after POST the receipt", **HTML},
                   "404": {"description": "HTML page: unknown code", **HTML},
                   "409": {"description": "HTML page: this form was already posted with other content", **HTML},
                   "410": {"description": "HTML page: revoked code", **HTML},
                   "413": {"description": "HTML page: the form again, the file is too large", **HTML},
                   "422": {"description": "HTML page: the form again, with what to correct", **HTML},
                   "429": _page("HTML page: too many submissions", headers=RETRY_AFTER_HEADER),
                   "503": _page("HTML page: busy, or the photo could not be stored; the case was not filed "
                                "(Retry-After)", headers=RETRY_AFTER_HEADER)})
@limiter.limit(_config("COMPLAINT_RATE_LIMIT"), methods=["POST"])
def complain_page(token):
    """File a complaint about what was scanned: a form that works without JavaScript (multipart POST to
    this address); the answer shows the tracking number and the query code, once."""
    try:
        subject = _subject(token)
    except (CodeRevoked, NotFound) as error:
        return _no_such_code(error)
    page = _FormPage(token, subject)
    if request.method == "GET":
        return page.render({"category": request.args.get("category", ""), "details": {}})
    try:
        values, photo = complain_form.values_of(request.form), request.files.get("photo")
    except RequestEntityTooLarge:
        return page.render({"details": {}}, {GENERAL: ["提交的内容过大：照片或文件不能超过 10 MB，请重新填写"]},
                           status=413)
    if request.form.get("action") == "refresh":  # "show this category's questions", without JavaScript
        return page.render(values, nonce=request.form.get("nonce"))
    return _submit(page, values, photo)


class _FormPage:
    def __init__(self, token: str, subject: str):
        self.token, self.subject = token, subject

    def render(self, values: dict, errors: dict | None = None, *, status: int = 200, nonce: str | None = None):
        categories = intake.list_categories(session=db.session)
        chosen = next((c for c in categories if c.code == values.get("category")), None)
        errors = errors or {}
        secret = current_app.config["SECRET_KEY"]
        if not nonce or GENERAL in errors:
            nonce = complain_form.new_nonce(secret, self.token)
        labels = FIELD_LABELS | {f"details.{f['name']}": f["label"] for f in (chosen.fields if chosen else [])}
        return _html(render_template(
            "codes/complain.html", token=self.token, subject=self.subject, categories=categories, chosen=chosen,
            values=values, errors=errors, nonce=nonce, photo_types=PHOTO_TYPES, field_labels=labels,
            field_ids={name: "f-" + name.replace(".", "-") for name in labels},
            max_mb=attachments.MAX_BYTES // (1024 * 1024)), status)


def _submit(page: _FormPage, values: dict, photo):
    secret = current_app.config["SECRET_KEY"]
    nonce = request.form.get("nonce", "")
    errors = FormErrors()
    try:
        key = complain_form.idempotency_key(complain_form.check_nonce(secret, page.token, nonce))
    except ValueError as error:
        errors.add(GENERAL, str(error))
        key = None
    data = complain_form.validate(session=db.session, values=values, token=page.token, errors=errors)
    file_bytes = _photo(photo, errors)
    if errors:
        if file_bytes and not errors.get("photo"):
            errors.add("photo", "照片未保存：请改正上面的问题后重新选择照片")
        return page.render(values, errors, status=422, nonce=nonce)
    try:
        replay = intake.find_replay(session=db.session, idempotency_key=key, secret=secret,
                                    request_fingerprint=intake.fingerprint(data, None))
    except Conflict:
        return page.render(values, {GENERAL: ["此页面的表单已经提交过一份不同的投诉。如需再投诉，请核对后再次提交。"]},
                           status=409)
    if replay:  # the same form posted again (a double tap, a reload): the first answer, no second case
        return _receipt(replay, attached=None, again=True)

    def attach_photo(receipt: dict):
        if not file_bytes:
            return None
        complaint = db.session.scalar(select(Complaint).where(Complaint.tracking_no == receipt["tracking_no"]))
        attached, _ = attachments.attach(session=db.session, complaint=complaint, data=file_bytes,
                                         filename=photo.filename, upload_dir=current_app.config["UPLOAD_DIR"])
        return attached

    try:
        submitted = intake.submit_once(session=db.session, data=data, account_id=None, idempotency_key=key,
                                       secret=secret, before_commit=attach_photo)
    except ValidationFailed as error:
        db.session.rollback()  # nothing half-written: the case and its photo go together or not at all
        errors.merge(error.fields, error.message)
        return page.render(values, errors, status=error.status, nonce=nonce)
    except Unavailable:  # the photo could not be stored: the case is not filed either, the form is kept
        db.session.rollback()
        errors.add(GENERAL, "系统暂时无法保存照片，投诉未提交。请稍后再提交，或不附照片提交。")
        answer = page.render(values, errors, status=503, nonce=nonce)
        answer.headers["Retry-After"] = RETRY_AFTER
        keep_retry_after({"Retry-After": RETRY_AFTER})
        return answer
    # replayed: the same form, posted twice at once; the other request filed it
    return _receipt(submitted.receipt, attached=submitted.extra, again=submitted.replayed)


def _photo(photo, errors: FormErrors) -> bytes | None:
    """The chosen file's bytes if it is what it claims to be (checked by content, before anything is
    stored), else None with a message. No file chosen: None."""
    if photo is None or not photo.filename:
        return None
    data = photo.stream.read(attachments.MAX_BYTES + 1)
    if not data:
        return None
    if len(data) > attachments.MAX_BYTES:
        errors.add("photo", f"文件不能超过 {attachments.MAX_BYTES // (1024 * 1024)} MB")
        return None
    try:
        attachments.clean(data)
    except ValidationFailed as error:
        errors.add("photo", f"{error.message}（{'、'.join(error.fields['file'])}）" if error.fields else error.message)
        return None
    return data


def _receipt(receipt: dict, *, attached, again: bool = False):
    body = render_template("codes/complain_done.html", r=receipt, attached=attached, again=again,
                           department=DEPARTMENTS.get(receipt["department"], receipt["department"]), tz=SHANGHAI)
    return _html(body, private=True)


def _subject(token: str) -> str:
    """Whom a complaint through this code is about, as the page names it; 404 or 410 like the scan."""
    code = codes.find(session=db.session, token=token)
    if code.status != "active":
        raise CodeRevoked()
    if code.staff_id is None:
        return db.session.get(Institution, code.institution_id).name
    staff = db.session.get(Staff, code.staff_id)
    return f"{staff.name}（{db.session.get(Institution, staff.institution_id).name}）"


# ---- tracking -------------------------------------------------------------------------------------

@h5_track.route("/track", methods=["GET", "POST"])
@h5_track.doc(responses={**PAGE_ERRORS, "200": {"description": "HTML page: the form, or the case", **HTML},
                         "404": {"description": "HTML page: unknown number or wrong code (the same)", **HTML},
                         "422": {"description": "HTML page: the form again, with what to correct", **HTML},
                         "413": {"description": "HTML page: the form was too large", **HTML},
                         "429": _page("HTML page: too many attempts", headers=RETRY_AFTER_HEADER)})
@query_code_limit(exempt_when=lambda: not request.values.get("query_code"))
def track_page():
    """Follow a complaint with its tracking number and query code. The form posts, so the code stays out
    of addresses and logs; `?tracking_no=&query_code=` works too. A wrong code answers like an unknown
    number."""
    tracking_no = request.values.get("tracking_no", "").strip().upper()
    query_code = request.values.get("query_code", "").strip()
    values = {"tracking_no": tracking_no, "query_code": ""}
    if not query_code and request.method == "GET":
        return render_template("codes/track.html", values=values, errors={})
    errors = FormErrors()
    if not tracking_no:
        errors.add("tracking_no", "请填写受理编号")
    elif not TRACKING_NO.regex.match(tracking_no) or len(tracking_no) > 24:
        errors.add("tracking_no", "受理编号格式不正确，应为 TS 加 14 位数字")
    if not query_code:
        errors.add("query_code", "请填写查询码")
    elif len(query_code) > 20:
        errors.add("query_code", "查询码格式不正确")
    if errors:
        return render_template("codes/track.html", values=values, errors=errors), 422
    try:
        complaint = intake.find_with_code(session=db.session, tracking_no=tracking_no, query_code=query_code)
    except NotFound as error:
        return _html(render_template("codes/track.html", values=values, errors={}, not_found=error.message),
                     404, private=True)
    case = complaints.tracking_view(complaint)
    return _html(render_template("codes/track.html", values=values, errors={}, case=case, statuses=COMPLAINT_STATUS_NAMES,
                                 actions=complaints.ACTION_NAMES, tz=SHANGHAI),
                 private=True)


# ---- errors: a page, never JSON or a blank screen, for anything these pages run into -------------

@h5.errorhandler(HTTPException)
@h5_track.errorhandler(HTTPException)
def _http_error(error: HTTPException):
    status = error.code or 500
    headers = {}
    if status == 429:
        limited = getattr(error, "response", None)
        headers["Retry-After"] = (limited.headers.get("Retry-After") if limited is not None else None) or "60"
        message = "提交或查询过于频繁，请稍后再试。"
    elif status == 413:
        message = "上传的内容过大（照片不能超过 10 MB），请返回后换一张照片。"
    elif status == 405:
        message = "不支持此操作，请从二维码页面重新进入。"
    else:
        message = "未找到该页面，请重新扫描机构现场张贴的二维码。" if status == 404 else "请求无法处理，请稍后再试。"
    return render_template("codes/error.html", status=status, message=message), status, headers


def _routing_error(error: HTTPException):
    """An address under /c/ or /track that no page has (a mangled code, a wrong method): a page too."""
    return _headers(current_app.make_response(_http_error(error)))


@h5.errorhandler(DomainError)
@h5_track.errorhandler(DomainError)
def _domain_error(error: DomainError):
    db.session.rollback()
    if error.status == 503:
        return _busy_page(error.message)
    return render_template("codes/error.html", status=error.status, message=error.message), error.status


@h5.errorhandler(OperationalError)
@h5_track.errorhandler(OperationalError)
@h5.errorhandler(PoolTimeout)
@h5_track.errorhandler(PoolTimeout)
def _database_error(error: Exception):
    """The page form of the API's 503 UNAVAILABLE (api.errors): busy or unreachable, try again."""
    if not database_busy(error):
        return _unexpected(error)
    rollback_after_database_error(error)
    return _busy_page("系统繁忙，请稍后再试。如果刚才提交了投诉，它可能没有保存成功：稍后可重新提交，或拨打 12320 反映。")


def _busy_page(message: str):
    headers = {"Retry-After": RETRY_AFTER}
    keep_retry_after(headers)
    return render_template("codes/error.html", status=503, message=message), 503, headers


@h5.errorhandler(Exception)
@h5_track.errorhandler(Exception)
def _unexpected(error: Exception):
    db.session.rollback()
    current_app.logger.exception("unhandled error on an H5 page")
    return render_template("codes/error.html", status=500,
                           message="服务器暂时出了问题，您填写的内容未提交。请稍后再试，或拨打 12320 反映。"), 500

"""The H5 complaint form: posted text fields to ComplaintInSchema's input, the category's extra fields,
the anti-cross-site nonce, and zh-CN messages a patient can act on.

No Flask here except what is passed in; the route (codes/h5.py) does the talking to the request.
"""

from __future__ import annotations

import math
import secrets

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from marshmallow import ValidationError

from api.errors import ValidationFailed
from complaints import intake
from complaints.models import ComplaintCategory
from complaints.schemas import ComplaintInSchema

NONCE_MAX_AGE = 3600  # a form older than an hour is sent back to be checked and posted again
NONCE_SALT = "onecode-h5-complaint"
TEXT_FIELDS = ("category", "content", "occurred_at", "contact_name", "contact_phone")
MAX_DETAIL_FIELDS = 40  # posted `details.*` fields kept for re-rendering; more is not a browser

# Marshmallow speaks English; a field it refuses gets the plain zh-CN sentence below instead.
# Messages already in Chinese (the schema's own validators, the services) are kept as they are.
FIELD_MESSAGES = {
    "category": "请选择投诉类别",
    "content": "请填写投诉内容，10 到 2000 字",
    "occurred_at": "请填写有效的日期和时间",
    "contact_name": "姓名不能超过 50 个字",
    "contact_phone": "请填写11位手机号或带区号的固定电话",
    "anonymous": "请选择是否匿名",
    "details": "补充信息有误，请检查",
}
GENERAL = "_form"  # messages that belong to no single field


class FormErrors(dict):
    """{field name: [zh-CN message, ...]}, merged from every check so the page lists them all at once."""

    def add(self, name: str, messages) -> None:
        for message in [messages] if isinstance(messages, str) else messages:
            if message not in self.setdefault(name, []):
                self[name].append(message)

    def merge(self, fields: dict | None, message: str | None = None) -> None:
        if not fields:
            self.add(GENERAL, message or "提交的信息有误，请检查")
        for name, messages in fields.items():
            self.add(name if name != "_schema" else GENERAL, messages)


def values_of(form) -> dict:
    """What the person typed, as strings, to validate and to show again if the page comes back."""
    values = {name: form.get(name, "") for name in TEXT_FIELDS}
    values["anonymous"] = form.get("anonymous") in ("1", "on", "true")
    details = [name for name in form if name.startswith("details.")][:MAX_DETAIL_FIELDS]
    values["details"] = {name.removeprefix("details."): form.get(name, "") for name in details}
    return values


# ---- the nonce: a hidden field signed with SECRET_KEY, for this code, valid for an hour ----------

def new_nonce(secret: str, token: str) -> str:
    return URLSafeTimedSerializer(secret, salt=NONCE_SALT).dumps({"t": token, "n": secrets.token_hex(8)})


def check_nonce(secret: str, token: str, nonce: str) -> str:
    """The nonce's random part (it keys the submission, so a double tap files one case), or ValueError
    with the message to show."""
    serializer = URLSafeTimedSerializer(secret, salt=NONCE_SALT)
    try:
        payload = serializer.loads(nonce or "", max_age=NONCE_MAX_AGE)
    except SignatureExpired:
        raise ValueError("页面打开已超过 1 小时，请核对内容后再次提交") from None
    except BadSignature:
        raise ValueError("页面已失效，请核对内容后再次提交") from None
    if not isinstance(payload, dict) or payload.get("t") != token or not isinstance(payload.get("n"), str):
        raise ValueError("页面已失效，请核对内容后再次提交")
    return payload["n"]


def idempotency_key(nonce_id: str) -> str:
    return f"h5-{nonce_id}"


# ---- validation -----------------------------------------------------------------------------------

def validate(*, session, values: dict, token: str, errors: FormErrors) -> dict | None:
    """ComplaintInSchema's data for intake.submit(), or None with `errors` filled: the schema first,
    then the category's extra fields and the contact rule, so one round trip shows every problem."""
    categories = {c.code: c for c in intake.list_categories(session=session)}
    category = categories.get(values["category"])  # looked up in Python: any text may arrive here
    body = {
        "category": values["category"],
        "content": values["content"],
        "target": {"code_token": token},
        "details": details_of(values["details"], category),
        "anonymous": values["anonymous"],
    }
    for name in ("occurred_at", "contact_name", "contact_phone"):
        if values[name].strip():
            body[name] = values[name]
    try:
        data = ComplaintInSchema().load(body)
    except ValidationError as error:
        for name, messages in error.normalized_messages().items():
            errors.add(name, _zh(name, messages, values))
        data = None
    if category is None:
        errors.add("category", FIELD_MESSAGES["category"])
    else:
        _collect(errors, lambda: intake.validate_details(category, body["details"]))
    contact = {"anonymous": values["anonymous"],
               **{name: body.get(name, "").strip() for name in ("contact_name", "contact_phone")}}
    _collect(errors, lambda: intake.check_contact(contact))
    return None if errors else data


def _collect(errors: FormErrors, check) -> None:
    try:
        check()
    except ValidationFailed as error:
        errors.merge(error.fields, error.message)


def _zh(name: str, messages, values: dict) -> list[str]:
    if isinstance(messages, dict):  # nested (target, details): one line for the field
        return [FIELD_MESSAGES.get(name, "填写有误，请检查")]
    chinese = [m for m in messages if isinstance(m, str) and any("\u4e00" <= ch <= "\u9fff" for ch in m)]
    if chinese:
        return chinese
    if name == "content":
        length = len(values["content"].strip())
        if length == 0:
            return ["请填写投诉内容"]
        if length < 10:
            return [f"投诉内容至少 10 个字（现在 {length} 个字），请写清时间、地点和经过"]
        if length > 2000:
            return [f"投诉内容不能超过 2000 字（现在 {length} 个字）"]
    return [FIELD_MESSAGES.get(name, "填写有误，请检查")]


def details_of(posted: dict, category: ComplaintCategory | None) -> dict:
    """The category's own fields, typed as its definitions say; blanks left out. Fields of another
    category (shown before the person changed the category) are dropped, not refused."""
    if category is None:
        return {}
    details = {}
    for field in category.fields:
        raw = str(posted.get(field["name"], "")).strip()
        if raw:
            details[field["name"]] = _typed(field, raw)
    return details


def _typed(field: dict, raw: str):
    """The value a JSON client would have sent; what cannot be converted is passed on as text, and
    intake.validate_details() says what is wrong with it."""
    if field["type"] == "number":
        for convert in (int, float):
            try:
                number = convert(raw)
            except ValueError:
                continue
            return number if math.isfinite(number) else raw
        return raw
    if field["type"] == "boolean":
        return {"true": True, "false": False}.get(raw, raw)
    return raw

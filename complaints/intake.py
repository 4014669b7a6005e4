"""Taking a complaint in: category form, target, tracking number, query code, idempotency, leads.

A failed submission stores nothing: everything below happens in the request's one transaction, and
the route commits only after submit() returns.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
import weakref
from dataclasses import dataclass

from sqlalchemy import bindparam, func, insert, literal_column, select, true

from api.database import SHANGHAI, lock_row, upsert_insert, utcnow
from api.errors import Conflict, NotFound, ValidationFailed
from codes.models import Code
from complaints import deadlines
from complaints.models import (
    Complaint,
    ComplaintCategory,
    ComplaintEvent,
    TrackingCounter,
)
from registry.models import Institution, Staff
from supervision import leads

QUERY_CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read aloud and typed on phones
assert len(QUERY_CODE_ALPHABET) == 32  # a byte modulo 32 picks a letter without bias
QUERY_CODE_LENGTH = 8  # 40 bits; tracking is rate limited, and a wrong code answers like an unknown case
LEAD_WINDOW = dt.timedelta(days=30)
LEAD_COMPLAINTS = 3
_PHONE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")


# ---- the category's own form (Open311-style attribute definitions) -------------------------------

@dataclass(frozen=True)
class Category:
    """A category as intake needs it, kept per process (see get_category)."""

    code: str
    name: str
    department: str
    serious: bool
    fields: tuple[dict, ...]


CATEGORY_CACHE_SECONDS = 60.0
_category_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # engine -> (loaded at, categories)


def get_category(*, session, code: str) -> Category:
    """The category table is reference data that only a migration changes, yet every submission needs
    it: each process reads it at most once a minute per database, not once per complaint."""
    key = session.get_bind()
    loaded_at, categories = _category_cache.get(key, (float("-inf"), {}))
    if time.monotonic() - loaded_at > CATEGORY_CACHE_SECONDS:
        columns = (ComplaintCategory.code, ComplaintCategory.name, ComplaintCategory.department,
                   ComplaintCategory.serious, ComplaintCategory.fields)
        categories = {row.code: Category(row.code, row.name, row.department, row.serious, tuple(row.fields or ()))
                      for row in session.execute(select(*columns))}
        _category_cache[key] = (time.monotonic(), categories)
    if code not in categories:
        raise ValidationFailed(fields={"category": ["未知的投诉类别"]})
    return categories[code]


def list_categories(*, session) -> list[ComplaintCategory]:
    return list(session.scalars(select(ComplaintCategory).order_by(ComplaintCategory.position)))


def validate_details(category: Category | ComplaintCategory, details: dict) -> dict:
    """Check `details` against the category's field definitions; unknown names are refused."""
    definitions = {field["name"]: field for field in category.fields}
    errors: dict[str, list[str]] = {}
    clean: dict = {}
    for name in details:
        if name not in definitions:
            errors[name] = ["该类别没有此字段"]
    for name, field in definitions.items():
        value = details.get(name)
        if value is None or value == "":
            if field.get("required"):
                errors[name] = [f"请填写{field['label']}"]
            continue
        try:
            clean[name] = _check_value(field, value)
        except ValueError as error:
            errors[name] = [str(error)]
    if errors:
        raise ValidationFailed(fields={f"details.{name}": messages for name, messages in errors.items()})
    return clean


def _check_value(field: dict, value):
    kind = field["type"]
    if kind == "string":
        if not isinstance(value, str) or any(ord(ch) < 32 for ch in value):
            raise ValueError("应为不含控制字符的文本")
        if len(value) > field.get("max_length", 200):
            raise ValueError(f"不能超过 {field.get('max_length', 200)} 个字符")
        return value.strip()
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            raise ValueError("应为数字")
        if not field.get("min", float("-inf")) <= value <= field.get("max", float("inf")):
            raise ValueError(f"应在 {field.get('min')} 与 {field.get('max')} 之间")
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ValueError("应为 true 或 false")
        return value
    if kind == "date":
        if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError("应为日期 YYYY-MM-DD")
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError:
            raise ValueError("应为日期 YYYY-MM-DD") from None
    if kind == "choice":
        options = [option["value"] for option in field["options"]]
        if value not in options:
            raise ValueError("应为以下之一：" + "、".join(options))
        return value
    raise ValueError("无法校验此字段")  # a definition of an unknown type: refuse rather than store blindly


# ---- who the complaint is about -------------------------------------------------------------------

# The statements every submission runs are built once, here: building a statement costs more CPU
# than running it, and a prebuilt one is also found at once in SQLAlchemy's compiled cache.
_codes, _staff, _institutions = Code.__table__, Staff.__table__, Institution.__table__
_TARGET_LOOKUPS = {  # target key -> (error field, message, target kind, lookup by :key)
    "code_token": ("target.code_token", "未找到该二维码", None, select(
        _codes.c.id.label("code_id"), _codes.c.staff_id, _institutions.c.id.label("institution_id"))
        .select_from(_codes.outerjoin(_staff, _staff.c.id == _codes.c.staff_id).join(
            _institutions, _institutions.c.id == func.coalesce(_codes.c.institution_id, _staff.c.institution_id)))
        .where(_codes.c.token == bindparam("key"))),
    "staff_id": ("target.staff_id", "未找到该人员", "staff", select(
        _staff.c.id.label("staff_id"), _staff.c.institution_id).where(_staff.c.id == bindparam("key"))),
    "institution_id": ("target.institution_id", "未找到该机构", "institution", select(
        _institutions.c.id.label("institution_id")).where(_institutions.c.id == bindparam("key"))),
}
# PostgreSQL: the same lookups taking the institution's row lock (a staff member's via a join).
_LOCKING_LOOKUPS = {
    "code_token": _TARGET_LOOKUPS["code_token"][3].with_for_update(of=_institutions),
    "staff_id": select(_staff.c.id.label("staff_id"), _institutions.c.id.label("institution_id"))
        .select_from(_staff.join(_institutions, _institutions.c.id == _staff.c.institution_id))
        .where(_staff.c.id == bindparam("key")).with_for_update(of=_institutions),
    "institution_id": _TARGET_LOOKUPS["institution_id"][3].with_for_update(),
}


def resolve_target(*, session, target: dict, lock: bool = False) -> dict:
    """The four target kinds of the contract, as the columns of the case; unknown targets are a 422.

    A code names an institution or a staff member (and, through them, the institution). With `lock`,
    the institution complained about stays locked until the transaction ends, so that complaints
    about one institution are taken one after the other and the lead rule counts every one of them;
    on PostgreSQL the lookup itself takes the lock (FOR UPDATE OF institutions).
    """
    key = next((key for key in _TARGET_LOOKUPS if key in target), None)
    if key is None:
        return {"target_kind": "place", "place_name": target["name"], "place_address": target["address"]}
    field, message, kind, statement = _TARGET_LOOKUPS[key]
    connection = session.connection()
    postgresql = connection.dialect.name == "postgresql"
    if lock and postgresql:
        statement = _LOCKING_LOOKUPS[key]
    row = connection.execute(statement, {"key": target[key]}).first()
    if row is None:
        raise ValidationFailed(fields={field: [message]})
    found = dict(row._mapping)
    found["target_kind"] = kind or ("staff" if found["staff_id"] else "institution")
    if lock and not postgresql:
        lock_row(session, Institution, found["institution_id"])
    return found


def check_contact(data: dict) -> None:
    """Anonymous: no name or phone stored at all. Named (实名): both, so the department can call back."""
    errors = {}
    if data["anonymous"]:
        for name in ("contact_name", "contact_phone"):
            if data.get(name):
                errors[name] = ["匿名投诉不填写联系人信息"]
    else:
        if not data.get("contact_name"):
            errors["contact_name"] = ["实名投诉请填写姓名"]
        if not data.get("contact_phone"):
            errors["contact_phone"] = ["实名投诉请填写联系电话"]
    if data.get("contact_phone") and not _PHONE.match(data["contact_phone"]):
        errors["contact_phone"] = ["请填写11位手机号或带区号的固定电话"]
    if errors:
        raise ValidationFailed(fields=errors)


# ---- tracking number and query code ---------------------------------------------------------------

TRACKING_BLOCK = 16  # PostgreSQL: numbers a process takes from the day's counter at a time


@functools.cache
def _counter_bump(dialect: str):
    """Take :step numbers from the day's counter, creating it: one atomic statement (built once)."""
    counters = TrackingCounter.__table__
    return (upsert_insert(dialect, counters).values(day=bindparam("day"), last=bindparam("step"))
            .on_conflict_do_update(index_elements=["day"], set_={"last": counters.c.last + bindparam("step")})
            .returning(counters.c.last))


@dataclass
class _Block:
    day: dt.date
    next: int
    last: int


_blocks: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # engine -> this process's _Block
_blocks_lock = threading.Lock()


def next_tracking_no(*, session, now: dt.datetime) -> str:
    """TS + Beijing date + a number of the day from the day's counter: unique under any concurrency.

    SQLite has one writer at a time, so there the counter is bumped by one inside the complaint's own
    transaction and the numbers of a day run 1, 2, 3... On PostgreSQL the counter row would make every
    submission wait for the one before it to commit; instead each process takes a block of
    TRACKING_BLOCK numbers in a short transaction of its own (as a PostgreSQL sequence with CACHE
    does) and hands them out. Numbers stay unique and readable; a process's numbers are consecutive,
    those of two processes interleave, and the rest of a block is skipped when a process stops, the
    day ends or a submission fails.
    """
    day = now.astimezone(SHANGHAI).date()
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        number = connection.execute(_counter_bump(connection.dialect.name), {"day": day, "step": 1}).scalar_one()
        return f"TS{day:%Y%m%d}{number:06d}"
    bind = connection.engine
    with _blocks_lock:
        block = _blocks.get(bind)
        if block is None or block.day != day or block.next > block.last:
            with bind.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                last = connection.execute(_counter_bump("postgresql"), {"day": day, "step": TRACKING_BLOCK}).scalar_one()
            block = _blocks[bind] = _Block(day, last - TRACKING_BLOCK + 1, last)
        number, block.next = block.next, block.next + 1
    return f"TS{day:%Y%m%d}{number:06d}"


def new_query_code(*, secret: str, idempotency_key: str | None, tracking_no: str) -> str:
    """Random; but for a keyed submission derived from the key, so a retry can get the first answer
    again without the code ever being stored in the clear."""
    if idempotency_key is None:
        randomness = secrets.token_bytes(QUERY_CODE_LENGTH)
    else:
        randomness = hmac.new(secret.encode(), f"query-code\n{idempotency_key}\n{tracking_no}".encode(),
                              "sha256").digest()
    return "".join(QUERY_CODE_ALPHABET[byte % 32] for byte in randomness[:QUERY_CODE_LENGTH])


def hash_query_code(tracking_no: str, query_code: str) -> str:
    normalised = re.sub(r"[\s-]", "", query_code).upper()
    return hashlib.sha256(f"{tracking_no}:{normalised}".encode()).hexdigest()


def find_with_code(*, session, tracking_no: str, query_code: str) -> Complaint:
    """The case, if the code fits; an unknown number and a wrong code are the same 404."""
    complaint = session.scalar(select(Complaint).where(Complaint.tracking_no == tracking_no))
    expected = complaint.query_code_hash if complaint else "0" * 64
    if not hmac.compare_digest(hash_query_code(tracking_no, query_code), expected) or complaint is None:
        raise NotFound("查询码与受理编号不匹配，或该投诉不存在")
    return complaint


# ---- submission ---------------------------------------------------------------------------------

def fingerprint(data: dict, account_id: int | None) -> str:
    body = json.dumps({"body": data, "account": account_id}, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def find_replay(*, session, idempotency_key: str, request_fingerprint: str, secret: str) -> dict | None:
    """The first answer for this key, or None if the key is new; 409 if it came with another body."""
    complaint = session.scalar(select(Complaint).where(Complaint.idempotency_key == idempotency_key))
    if complaint is None:
        return None
    if complaint.request_fingerprint != request_fingerprint:
        raise Conflict("此 Idempotency-Key 已用于另一份投诉")
    return receipt(complaint, new_query_code(secret=secret, idempotency_key=idempotency_key,
                                             tracking_no=complaint.tracking_no))


def receipt(complaint: Complaint, query_code: str) -> dict:
    """The answer to the submission, as it was then, even if the case has moved on (a transfer changes
    its department and acceptance deadline): a retry gets exactly the first answer."""
    return _receipt(complaint.tracking_no, query_code,
                    complaint.events[0].department if complaint.events else complaint.department,
                    deadlines.accept_due(complaint.submitted_at))


def _receipt(tracking_no: str, query_code: str, department: str, accept_due_at: dt.datetime) -> dict:
    return {"tracking_no": tracking_no, "query_code": query_code, "status": "submitted",
            "department": department, "accept_due_at": accept_due_at}


_complaints, _events = Complaint.__table__, ComplaintEvent.__table__
_CASE_COLUMNS = (  # what a new case is stored with
    "tracking_no", "query_code_hash", "category", "department", "status", "content", "details", "target_kind",
    "institution_id", "staff_id", "code_id", "place_name", "place_address", "occurred_at", "anonymous",
    "contact_name", "contact_phone", "account_id", "idempotency_key", "request_fingerprint", "submitted_at",
    "accept_due_at", "updated_at")
_INSERT_CASE = insert(_complaints).returning(_complaints.c.id)
_INSERT_EVENT = insert(_events)
_new_case = (insert(_complaints)
             .values({name: bindparam(f"new_{name}", type_=_complaints.c[name].type) for name in _CASE_COLUMNS})
             .returning(_complaints.c.id, _complaints.c.department, _complaints.c.submitted_at,
                        _complaints.c.account_id).cte("new_case"))
_first_event = insert(_events).from_select(
    ["complaint_id", "action", "status", "department", "at", "actor_id"],
    select(_new_case.c.id, literal_column("'submit'"), literal_column("'submitted'"), _new_case.c.department,
           _new_case.c.submitted_at, _new_case.c.account_id),
).cte("first_event")
_STORE_AND_JOIN_LEAD = (
    select(_new_case.c.id, leads.JOIN_OPEN_LEAD.c.id.label("lead_id"), leads.JOIN_OPEN_LEAD.c.score)
    .select_from(_new_case.outerjoin(leads.JOIN_OPEN_LEAD, true())).add_cte(_first_event))


def _store(connection, case: dict, reason: dict) -> tuple[int, int] | None:
    """Insert the case and the first entry of its timeline (`submit`).

    On PostgreSQL one statement does it all with data-modifying CTEs (the entry's INSERT takes the
    case's id from the case's INSERT ... RETURNING), and adds the complaint's lead `reason` to the
    institution's open lead, if there is one: returns that lead's (id, new score), else None. SQLite
    has no such CTEs: there the inserts are two statements and feed_lead() sees to the lead."""
    if connection.dialect.name == "postgresql":
        params = {f"new_{name}": value for name, value in case.items()}  # not column names: see join_params
        row = connection.execute(_STORE_AND_JOIN_LEAD, params | leads.join_params(case["institution_id"], reason)).one()
        return None if row.lead_id is None else (row.lead_id, row.score)
    complaint_id = connection.execute(_INSERT_CASE, case).scalar_one()
    connection.execute(_INSERT_EVENT, {"complaint_id": complaint_id, "action": "submit", "status": "submitted",
                                       "department": case["department"], "at": case["submitted_at"],
                                       "actor_id": case["account_id"]})
    return None


def submit(*, session, data: dict, account_id: int | None, idempotency_key: str | None, secret: str,
           now: dt.datetime | None = None) -> dict:
    """Validate, number, store and route a complaint; feed the institution's lead. Returns the receipt
    (with the query code, shown this once). The caller commits; on IntegrityError for the key, it
    rolls back and asks find_replay().

    Every submission takes this path, so it is a few prebuilt statements rather than the ORM's unit
    of work. On PostgreSQL, usually two: one lookup that also locks, and one that stores the case with
    its timeline and adds it to the institution's open lead (the tracking number takes a statement once
    per TRACKING_BLOCK; opening a lead takes a few more).
    """
    now = now or utcnow()
    category = get_category(session=session, code=data["category"])
    details = validate_details(category, data.get("details") or {})
    check_contact(data)
    request_fingerprint = fingerprint(data, account_id)
    if idempotency_key:
        replay = find_replay(session=session, idempotency_key=idempotency_key,
                             request_fingerprint=request_fingerprint, secret=secret)
        if replay:
            return replay
    target = resolve_target(session=session, target=data["target"], lock=True)
    tracking_no = next_tracking_no(session=session, now=now)
    query_code = new_query_code(secret=secret, idempotency_key=idempotency_key, tracking_no=tracking_no)
    accept_due_at = deadlines.accept_due(now)
    reason = lead_reason(category, tracking_no, now)
    joined = _store(session.connection(), {
        "tracking_no": tracking_no, "query_code_hash": hash_query_code(tracking_no, query_code),
        "category": category.code, "department": category.department, "status": "submitted",
        "content": data["content"], "details": details, "occurred_at": data.get("occurred_at"),
        "anonymous": data["anonymous"], "contact_name": data.get("contact_name"),
        "contact_phone": data.get("contact_phone"), "account_id": account_id, "idempotency_key": idempotency_key,
        "request_fingerprint": request_fingerprint if idempotency_key else None,
        "submitted_at": now, "accept_due_at": accept_due_at, "updated_at": now,
        "institution_id": None, "staff_id": None, "code_id": None, "place_name": None, "place_address": None,
        **target,
    }, reason)
    if joined is not None:
        leads.joined_open_lead(session=session, institution_id=target["institution_id"], kind=reason["kind"],
                               lead_id=joined[0], score=joined[1])
    else:
        feed_lead(session=session, target=target, reason=reason, now=now,
                  open_lead_tried=session.connection().dialect.name == "postgresql")
    return _receipt(tracking_no, query_code, category.department, accept_due_at)


# Complaints about an institution in the lead window (since :since, and since its last lead ended):
# counted with one aggregate query; listed only when they open a lead.
_complaints, _categories = Complaint.__table__, ComplaintCategory.__table__
_since = bindparam("since", type_=_complaints.c.submitted_at.type)
_IN_WINDOW = (
    _complaints.c.institution_id == bindparam("institution_id"), _complaints.c.submitted_at > _since,
    _complaints.c.submitted_at > func.coalesce(leads.last_closed_at(bindparam("institution_id")), _since))
_COUNT_IN_WINDOW = select(func.count()).select_from(_complaints).where(*_IN_WINDOW)
_LIST_IN_WINDOW = (select(_complaints.c.tracking_no, _complaints.c.submitted_at, _categories.c.name)
                   .join(_categories, _categories.c.code == _complaints.c.category)
                   .where(*_IN_WINDOW).order_by(_complaints.c.submitted_at))


def lead_reason(category: Category, tracking_no: str, now: dt.datetime) -> dict:
    """What a complaint adds to its institution's lead (or an unlicensed place's)."""
    kind = "serious_complaint" if category.serious else "complaint"
    return leads.reason(kind, f"{tracking_no} {category.name}", now, ref=tracking_no)


def feed_lead(*, session, target: dict, reason: dict, now: dt.datetime, open_lead_tried: bool = False) -> None:
    """Serious category: a lead at once. Otherwise the complaint joins an open lead, or opens one when
    it is the third in 30 days (counting only complaints since the institution's last lead ended).
    `open_lead_tried`: the case's own statement found no open lead to join (see _store)."""
    institution_id = target.get("institution_id")
    if reason["kind"] == "serious_complaint":
        leads.add_reasons(session=session, institution_id=institution_id,
                          place_name=target.get("place_name"), place_address=target.get("place_address"),
                          reasons=[reason])
        return
    if institution_id is None:
        return
    if not open_lead_tried and leads.add_reasons(session=session, institution_id=institution_id,
                                                 only_to_open_lead=True, reasons=[reason]) is not None:
        return
    window = {"institution_id": institution_id, "since": now - LEAD_WINDOW}
    connection = session.connection()
    if connection.execute(_COUNT_IN_WINDOW, window).scalar_one() < LEAD_COMPLAINTS:
        return
    leads.add_reasons(session=session, institution_id=institution_id, reasons=[
        leads.reason("complaint", f"{number} {name}", at, ref=number)
        for number, at, name in connection.execute(_LIST_IN_WINDOW, window)
    ])

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
import os
import re
import secrets
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Integer, bindparam, case, cast, func, insert, literal_column, null, select, true
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from api import changes, policy
from api.database import SHANGHAI, SessionLike, lock_row, upsert_insert, utcnow
from api.errors import Conflict, NotFound, ValidationFailed
from api.text import unstorable
from codes.models import Code
from complaints import deadlines
from complaints.models import (
    Complaint,
    ComplaintCategory,
    ComplaintEvent,
    TrackingCounter,
)
from leads import service as leads
from registry.models import Institution, Staff

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
    retired: bool


CATEGORY_CACHE_SECONDS = 60.0
_category_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # engine -> (loaded at, categories)


_CATEGORIES = select(ComplaintCategory.code, ComplaintCategory.name, ComplaintCategory.department,
                     ComplaintCategory.serious, ComplaintCategory.fields, ComplaintCategory.retired)


def get_category(*, session: SessionLike, code: str, connection: Connection | None = None) -> Category:
    """The category table is reference data that only a migration changes, yet every submission needs
    it: each process reads it at most once a minute per database, not once per complaint. (submit()
    passes the session's connection, which it needs anyway: its engine is the key, found without asking
    the session for its bind.)"""
    connection = connection or session.connection()
    key = connection.engine
    loaded_at, categories = _category_cache.get(key, (float("-inf"), {}))
    if time.monotonic() - loaded_at > CATEGORY_CACHE_SECONDS:
        categories = {row.code: Category(row.code, row.name, row.department, row.serious, tuple(row.fields or ()),
                                         row.retired)
                      for row in connection.execute(_CATEGORIES)}
        _category_cache[key] = (time.monotonic(), categories)
    if code not in categories:
        raise ValidationFailed(fields={"category": ["未知的投诉类别"]})
    if categories[code].retired:  # split or replaced: its cases keep it, new ones choose again
        raise ValidationFailed(fields={"category": ["该投诉类别已停用，请重新选择投诉类别"]})
    return categories[code]


def list_categories(*, session: SessionLike, include_retired: bool = False) -> list[ComplaintCategory]:
    """The categories a complaint may be filed under, in the form's order; with `include_retired`, also
    those no longer taken (to name the category of older cases)."""
    statement = select(ComplaintCategory).order_by(ComplaintCategory.position)
    if not include_retired:
        statement = statement.where(ComplaintCategory.retired.is_(False))
    return list(session.scalars(statement))


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
        if unstorable(value):
            raise ValueError(unstorable(value))
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
_TARGET_COLUMNS = ("institution_id", "staff_id", "code_id", "target_kind")  # of the case, from a lookup
_no_id = cast(null(), Integer)  # typed: PostgreSQL takes an untyped NULL in a CTE for text


def _kind(name: str):
    return literal_column(f"'{name}'")  # inlined, as CTE constants must be (see leads.service)


_TARGETS = {  # target key -> (error field, message, the _TARGET_COLUMNS of what :target_key names)
    "code_token": ("target.code_token", "未找到该二维码", select(
        _institutions.c.id.label("institution_id"), _codes.c.staff_id, _codes.c.id.label("code_id"),
        case((_codes.c.staff_id.is_(None), _kind("institution")), else_=_kind("staff")).label("target_kind"))
        .select_from(_codes.outerjoin(_staff, _staff.c.id == _codes.c.staff_id).join(
            _institutions, _institutions.c.id == func.coalesce(_codes.c.institution_id, _staff.c.institution_id)))
        .where(_codes.c.token == bindparam("target_key"))),
    "staff_id": ("target.staff_id", "未找到该人员", select(
        _institutions.c.id.label("institution_id"), _staff.c.id.label("staff_id"), _no_id.label("code_id"),
        _kind("staff").label("target_kind"))
        .select_from(_staff.join(_institutions, _institutions.c.id == _staff.c.institution_id))
        .where(_staff.c.id == bindparam("target_key"))),
    "institution_id": ("target.institution_id", "未找到该机构", select(
        _institutions.c.id.label("institution_id"), _no_id.label("staff_id"), _no_id.label("code_id"),
        _kind("institution").label("target_kind")).where(_institutions.c.id == bindparam("target_key"))),
}
_PLACE = select(_no_id.label("institution_id"), _no_id.label("staff_id"), _no_id.label("code_id"),
                _kind("place").label("target_kind"))


def target_key(target: dict) -> str | None:
    """Which of the contract's four target kinds `target` is: a key of _TARGETS, or None for a place."""
    return next((key for key in _TARGETS if key in target), None)


def resolve_target(*, session: SessionLike, target: dict) -> dict:
    """The four target kinds of the contract, as the columns of the case; unknown targets are a 422.

    A code names an institution or a staff member (and, through them, the institution). The
    institution complained about stays locked until the transaction ends, so that complaints about
    one institution are taken one after the other and the lead rule counts every one of them.
    (PostgreSQL looks up and locks within the statement that stores the case: see _store.)
    """
    key = target_key(target)
    if key is None:
        return dict.fromkeys(_TARGET_COLUMNS) | {"target_kind": "place"}
    row = session.execute(_TARGETS[key][2], {"target_key": target[key]}).first()
    if row is None:
        raise _unknown_target(key)
    lock_row(session, Institution, row.institution_id)
    return dict(row._mapping)


def _unknown_target(key: str) -> ValidationFailed:
    field, message, _ = _TARGETS[key]
    return ValidationFailed(fields={field: [message]})


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


def next_tracking_no(*, session: SessionLike, now: dt.datetime, connection: Connection | None = None) -> str:
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
    connection = connection or session.connection()
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


def _forget_blocks() -> None:
    """In a forked child (a gunicorn worker forked from a preloaded master): the parent's block is the
    parent's; handing out its numbers here too would give two cases one number."""
    global _blocks_lock
    _blocks.clear()
    _blocks_lock = threading.Lock()  # the parent may have held it while forking


os.register_at_fork(after_in_child=_forget_blocks)


def new_query_code(*, secret: str, idempotency_key: str | None, tracking_no: str) -> str:
    """Random; but for a keyed submission derived from the key, so a retry can get the first answer
    again without the code ever being stored in the clear."""
    if idempotency_key is None:
        randomness = secrets.token_bytes(QUERY_CODE_LENGTH)
    else:
        randomness = hmac.new(secret.encode(), f"query-code\n{idempotency_key}\n{tracking_no}".encode(),
                              "sha256").digest()
    return "".join(QUERY_CODE_ALPHABET[byte % 32] for byte in randomness[:QUERY_CODE_LENGTH])


_SPACES_AND_DASHES = re.compile(r"[\s-]")


def hash_query_code(tracking_no: str, query_code: str) -> str:
    normalised = _SPACES_AND_DASHES.sub("", query_code).upper()
    return hashlib.sha256(f"{tracking_no}:{normalised}".encode()).hexdigest()


def find_with_code(*, session: SessionLike, tracking_no: str, query_code: str) -> Complaint:
    """The case, if the code fits; an unknown number and a wrong code are the same 404."""
    complaint = session.scalar(select(Complaint).where(Complaint.tracking_no == tracking_no))
    expected = complaint.query_code_hash if complaint else "0" * 64
    if not hmac.compare_digest(hash_query_code(tracking_no, query_code), expected) or complaint is None:
        raise NotFound("查询码与受理编号不匹配，或该投诉不存在")
    return complaint


# ---- submission ---------------------------------------------------------------------------------

def stored_key(idempotency_key: str) -> str:
    """What is stored of an Idempotency-Key: its SHA-256. The key gets the receipt and its query code
    back, so like the refresh tokens it is a secret not kept in the clear."""
    return hashlib.sha256(idempotency_key.encode()).hexdigest()


def fingerprint(data: dict, account_id: int | None) -> str:
    body = json.dumps({"body": data, "account": account_id}, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def find_replay(*, session: SessionLike, idempotency_key: str, request_fingerprint: str, secret: str) -> dict | None:
    """The first answer for this key, or None if the key is new; 409 if it came with another body."""
    complaint = session.scalar(select(Complaint).where(Complaint.idempotency_key == stored_key(idempotency_key)))
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
                    deadlines.accept_due(complaint.submitted_at, policy.book().version(complaint.policy_version)))


def _receipt(tracking_no: str, query_code: str, department: str, accept_due_at: dt.datetime) -> dict:
    return {"tracking_no": tracking_no, "query_code": query_code, "status": "submitted",
            "department": department, "accept_due_at": accept_due_at}


_complaints, _events = Complaint.__table__, ComplaintEvent.__table__
_CASE_COLUMNS = (  # what a new case is stored with, besides its _TARGET_COLUMNS
    "tracking_no", "query_code_hash", "category", "department", "status", "content", "details", "place_name",
    "place_address", "occurred_at", "anonymous", "contact_name", "contact_phone", "account_id", "idempotency_key",
    "request_fingerprint", "submitted_at", "accept_due_at", "updated_at", "policy_version")
_INSERT_CASE = insert(_complaints).returning(_complaints.c.id)
_INSERT_EVENT = insert(_events)


def _store_and_join_lead(lookup):
    """PostgreSQL: store a case about what `lookup` finds (its _TARGET_COLUMNS, by :target_key) in one
    statement of CTEs. The lookup locks the institution; the case's INSERT ... SELECT takes its columns
    from the lookup (so nothing is stored if it finds nothing); the `submit` entry of the timeline
    takes the case's id from the case's RETURNING; the case's lead reason joins the institution's open
    lead, if it has one. Returns the case's id and target, with (lead_id, score) of the lead joined
    (NULL if none); no row if the target does not exist."""
    target = lookup.cte("target")
    new_case = (
        insert(_complaints).from_select([*_CASE_COLUMNS, *_TARGET_COLUMNS], select(
            *(bindparam(f"new_{name}", type_=_complaints.c[name].type) for name in _CASE_COLUMNS),  # see leads.reason_params
            *(target.c[name] for name in _TARGET_COLUMNS)))
        .returning(_complaints.c.id, _complaints.c.department, _complaints.c.submitted_at, _complaints.c.account_id,
                   _complaints.c.anonymous, _complaints.c.tracking_no, *(_complaints.c[name] for name in _TARGET_COLUMNS))
        .cte("new_case"))
    first_event = insert(_events).from_select(
        ["complaint_id", "action", "status", "department", "at", "actor_id"],
        select(new_case.c.id, literal_column("'submit'"), literal_column("'submitted'"), new_case.c.department,
               new_case.c.submitted_at, case((new_case.c.anonymous, _no_id), else_=new_case.c.account_id)),
    ).cte("first_event")  # the actor as submit_actor() says
    recorded = changes.record_cte("complaint", new_case.c.id, new_case.c.submitted_at,
                                  new_case.c.tracking_no).cte("recorded")  # the changes feed: its status
    joined = leads.add_reason_cte(new_case.c.institution_id)
    return (select(new_case.c.id, *(new_case.c[name] for name in _TARGET_COLUMNS),
                   joined.c.id.label("lead_id"), joined.c.score)
            .select_from(new_case.outerjoin(joined, true())).add_cte(first_event, recorded))


_STORE_AND_JOIN_LEAD = {key: _store_and_join_lead(lookup.with_for_update(of=_institutions))
                        for key, (_, _, lookup) in _TARGETS.items()} | {None: _store_and_join_lead(_PLACE)}


def submit_actor(case: dict) -> int | None:
    """Who the `submit` entry of the timeline names: the citizen's account for a named case, nobody for
    an anonymous one. Staff read the timeline, and the same account id next to a name on the citizen's
    named cases would unmask every anonymous one; the case keeps its account_id (never shown to staff)
    so that the citizen still finds it in /me/complaints."""
    return None if case["anonymous"] else case["account_id"]


def _store(session: SessionLike, connection: Connection, case: dict, target: dict,
           reason: dict) -> tuple[dict, tuple[int, int] | None]:
    """Insert the case about `target` (as the request names it) and the first entry of its timeline
    (`submit`). Returns the case's _TARGET_COLUMNS and the (id, new score) of the open lead its lead
    `reason` joined, or None.

    On PostgreSQL that is one statement (see _store_and_join_lead): with BEGIN and COMMIT, three
    round trips for a complaint about an institution with an open lead. SQLite has no data-modifying
    CTEs: there the lookup (locking), the inserts and feed_lead() are statements of their own.
    """
    key = target_key(target)
    if connection.dialect.name != "postgresql":
        found = resolve_target(session=session, target=target)
        complaint_id = connection.execute(_INSERT_CASE, case | found).scalar_one()
        connection.execute(_INSERT_EVENT, {"complaint_id": complaint_id, "action": "submit", "status": "submitted",
                                           "department": case["department"], "at": case["submitted_at"],
                                           "actor_id": submit_actor(case)})
        changes.record(session, "complaint", [complaint_id], at=case["submitted_at"],
                       ref=lambda _: case["tracking_no"])  # written at commit (PostgreSQL: in the statement)
        return found, None
    params = {f"new_{name}": value for name, value in case.items()} | leads.reason_params(reason)
    row = connection.execute(_STORE_AND_JOIN_LEAD[key], params | {"target_key": target.get(key)}).first()
    if row is None:
        assert key is not None  # a place is stored as given: only a code or a name can be unknown
        raise _unknown_target(key)
    return ({name: getattr(row, name) for name in _TARGET_COLUMNS},
            None if row.lead_id is None else (row.lead_id, row.score))


def submit(*, session: SessionLike, data: dict, account_id: int | None, idempotency_key: str | None, secret: str,
           now: dt.datetime | None = None) -> dict:
    """Validate, number, store and route a complaint; feed the institution's lead. Returns the receipt
    (with the query code, shown this once). The caller commits; on IntegrityError for the key, it
    rolls back and asks find_replay() (submit_once() does both).

    A keyed submission is not looked up first: the key's unique constraint refuses a second case, and
    the replay is read after that refusal. A retry is the rare case; looking every first submission up
    would cost each of them a statement and a round trip.

    Every submission takes this path, so it is a few prebuilt statements rather than the ORM's unit
    of work: on PostgreSQL usually one (see _store; the tracking number takes a statement once per
    TRACKING_BLOCK, a complaint about an institution without an open lead one more, opening a lead a
    few more).
    """
    now = now or utcnow()
    connection = session.connection()  # the request's one transaction: asked for once, used throughout
    category = get_category(session=session, code=data["category"], connection=connection)
    details = validate_details(category, data.get("details") or {})
    check_contact(data)
    request_fingerprint = fingerprint(data, account_id) if idempotency_key else None
    tracking_no = next_tracking_no(session=session, now=now, connection=connection)
    query_code = new_query_code(secret=secret, idempotency_key=idempotency_key, tracking_no=tracking_no)
    under = deadlines.in_force_at(now)
    accept_due_at = deadlines.accept_due(now, under)
    reason = lead_reason(category, tracking_no, now)
    place = {"place_name": data["target"].get("name"), "place_address": data["target"].get("address")}
    target, joined = _store(session, connection, {
        "tracking_no": tracking_no, "query_code_hash": hash_query_code(tracking_no, query_code),
        "category": category.code, "department": category.department, "status": "submitted",
        "content": data["content"], "details": details, "occurred_at": data.get("occurred_at"),
        "anonymous": data["anonymous"], "contact_name": data.get("contact_name"),
        "contact_phone": data.get("contact_phone"), "account_id": account_id,
        "idempotency_key": stored_key(idempotency_key) if idempotency_key else None,
        "request_fingerprint": request_fingerprint,
        "submitted_at": now, "accept_due_at": accept_due_at, "updated_at": now, "policy_version": under.version,
        **place,
    }, data["target"], reason)
    if joined is not None:
        leads.reason_added(session=session, institution_id=target["institution_id"], kind=reason["kind"],
                           lead_id=joined[0], score=joined[1])
    else:
        feed_lead(session=session, target=target | place, reason=reason, now=now)
    return _receipt(tracking_no, query_code, category.department, accept_due_at)


class Submitted(NamedTuple):
    receipt: dict
    replayed: bool  # another request with the same key filed it first: its answer, no second case
    extra: Any = None  # what `before_commit` returned (None for a replay)


def submit_once(*, session: SessionLike, data: dict, account_id: int | None, idempotency_key: str | None, secret: str,
                before_commit: Callable[[dict], Any] | None = None) -> Submitted:
    """submit() and commit, once per Idempotency-Key: the JSON API and the H5 form both file this way.
    `before_commit(receipt)` adds to the same transaction (the H5 form's photo). A key already used,
    by a retry later or by another request at the same moment: the insert or the commit fails on the
    key's unique constraint; it rolls back and answers as the first did (409 for another body). Without
    a key such a failure is raised.

    The one service that commits: the race is decided at the commit, so the replay has to follow it."""
    try:
        receipt = submit(session=session, data=data, account_id=account_id, idempotency_key=idempotency_key,
                         secret=secret)
        extra = before_commit(receipt) if before_commit else None
        session.commit()
    except IntegrityError:
        session.rollback()
        if not idempotency_key:
            raise
        replay = find_replay(session=session, idempotency_key=idempotency_key,
                             request_fingerprint=fingerprint(data, account_id), secret=secret)
        if replay is None:
            raise
        return Submitted(replay, replayed=True)
    return Submitted(receipt, replayed=False, extra=extra)


# Complaints about an institution in the lead window (since :since, and since its last lead ended):
# counted with one aggregate query; listed only when they open a lead.
_complaints, _categories = Complaint.__table__, ComplaintCategory.__table__
_since = bindparam("since", type_=_complaints.c.submitted_at.type)
_IN_WINDOW = (
    _complaints.c.institution_id == bindparam("for_institution"), _complaints.c.submitted_at > _since,
    _complaints.c.submitted_at > func.coalesce(leads.last_closed_at(bindparam("for_institution")), _since))
_COUNT_IN_WINDOW = select(func.count().label("in_window")).select_from(_complaints).where(*_IN_WINDOW)
_LIST_IN_WINDOW = (select(_complaints.c.tracking_no, _complaints.c.submitted_at, _categories.c.name)
                   .join(_categories, _categories.c.code == _complaints.c.category)
                   .where(*_IN_WINDOW).order_by(_complaints.c.submitted_at))
# PostgreSQL: join the open lead (one may have opened since the case's own statement began) and
# count, in one statement.
_rejoined, _counted = leads.add_reason_cte(bindparam("for_institution")), _COUNT_IN_WINDOW.subquery("counted")
_JOIN_OR_COUNT = (select(_rejoined.c.id, _rejoined.c.score, _counted.c.in_window)
                  .select_from(_counted.outerjoin(_rejoined, true())))


def lead_reason(category: Category, tracking_no: str, now: dt.datetime) -> dict:
    """What a complaint adds to its institution's lead (or an unlicensed place's)."""
    kind = "serious_complaint" if category.serious else "complaint"
    return leads.reason(kind, f"{tracking_no} {category.name}", now, ref=tracking_no)


def feed_lead(*, session: SessionLike, target: dict, reason: dict, now: dt.datetime) -> None:
    """Serious category: a lead at once. Otherwise the complaint joins an open lead, or opens one when
    it is the third in 30 days (counting only complaints since the institution's last lead ended).

    Runs with the institution locked, after the case's own statement: on PostgreSQL that statement
    saw the database as it was before it waited for the lock, so the open lead is looked for again.
    """
    institution_id = target["institution_id"]
    if reason["kind"] == "serious_complaint":
        leads.add_reasons(session=session, institution_id=institution_id,
                          place_name=target["place_name"], place_address=target["place_address"], reasons=[reason])
        return
    if institution_id is None:
        return
    window = {"for_institution": institution_id, "since": now - LEAD_WINDOW}
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        row = connection.execute(_JOIN_OR_COUNT, window | leads.reason_params(reason)).one()
        if row.id is not None:
            leads.reason_added(session=session, institution_id=institution_id, kind=reason["kind"],
                               lead_id=row.id, score=row.score)
            return
        in_window = row.in_window
    else:
        if leads.add_reason_if_open(session=session, institution_id=institution_id, reason=reason) is not None:
            return
        in_window = connection.execute(_COUNT_IN_WINDOW, window).scalar_one()
    if in_window < LEAD_COMPLAINTS:
        return
    leads.add_reasons(session=session, institution_id=institution_id, reasons=[
        leads.reason("complaint", f"{number} {name}", at, ref=number)
        for number, at, name in connection.execute(_LIST_IN_WINDOW, window)
    ])

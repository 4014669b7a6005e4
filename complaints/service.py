"""The handling workflow (one table), who sees what, and the views of a case for each reader.

Statuses (DESIGN.md): submitted → accepted | rejected; accepted → assigned → investigating → resolved
→ replied → closed; `transfer` hands an unresolved case to another department, where it starts again
as submitted (the new department accepts it, with a fresh acceptance deadline); `extend` moves the
reply deadline once; `refer` records a referral (移送) to the police or the judiciary and leaves the
case where it is. Every action is a timeline row with who, when and its notes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, false, or_, select, true

from api import audit, policy
from api.access import ADMIN, DECIDERS, INSTITUTION, REGULATORS, is_staff
from api.database import SHANGHAI, SessionLike, utcnow
from api.errors import (
    Conflict,
    Forbidden,
    InvalidTransition,
    NotFound,
    NotVisible,
    ValidationFailed,
)
from api.models import DEPARTMENTS, Account
from api.policy import Policy
from complaints import deadlines
from complaints.intake import find_with_code
from complaints.models import Attachment, Complaint, ComplaintCategory, ComplaintEvent, ComplaintReferral

OPEN_FOR_REPLY = ("accepted", "assigned", "investigating", "resolved")
VISIBLE_TO_INSTITUTION = ("resolved", "replied", "closed")
RATEABLE = ("replied", "closed")


@dataclass(frozen=True)
class Rule:
    sources: frozenset[str]
    target: str | None  # None: the status stays
    roles: tuple[str, ...] = REGULATORS
    needs_note: bool = False


TRANSITIONS: dict[str, Rule] = {
    "accept": Rule(frozenset({"submitted"}), "accepted"),
    "reject": Rule(frozenset({"submitted"}), "rejected", needs_note=True),
    "assign": Rule(frozenset({"accepted", "assigned"}), "assigned", roles=DECIDERS),
    "investigate": Rule(frozenset({"assigned"}), "investigating"),
    "resolve": Rule(frozenset({"investigating"}), "resolved"),
    "reply": Rule(frozenset({"resolved"}), "replied", needs_note=True),
    "close": Rule(frozenset({"replied"}), "closed"),
    "transfer": Rule(frozenset({"submitted", "accepted", "assigned", "investigating"}), "submitted"),
    "extend": Rule(frozenset(OPEN_FOR_REPLY), None, needs_note=True),
    "refer": Rule(frozenset(OPEN_FOR_REPLY), None),
}
ACTION_NAMES = {
    "submit": "提交", "accept": "受理", "reject": "不予受理", "assign": "分派", "investigate": "调查核实",
    "resolve": "办结", "reply": "答复", "close": "结案", "transfer": "转办", "extend": "延期", "refer": "移送",
    "rate": "评价",
}
# Timeline entries the institution complained about does not see, even on a resolved case: a referral
# to the police or the judiciary is theirs to make known, not ours to announce to the party concerned.
HIDDEN_FROM_INSTITUTION = ("refer",)


def allowed_actions(status: str) -> list[str]:
    """The actions (as `action` values) the table allows from `status`, for a refusal to name them."""
    return [action for action, rule in TRANSITIONS.items() if status in rule.sources]


# ---- deadlines --------------------------------------------------------------------------------

def is_overdue(complaint: Complaint, now: dt.datetime | None = None) -> bool:
    now = now or utcnow()
    if complaint.status == "submitted":
        return now > complaint.accept_due_at
    if complaint.status in OPEN_FOR_REPLY:
        return complaint.reply_due_at is not None and now > complaint.reply_due_at
    return False


def overdue_clause(now: dt.datetime) -> ColumnElement[bool]:
    """is_overdue() as SQL, so lists filter on it."""
    return or_(
        and_(Complaint.status == "submitted", Complaint.accept_due_at < now),
        and_(Complaint.status.in_(OPEN_FOR_REPLY), Complaint.reply_due_at < now),
    )


# ---- who sees what ----------------------------------------------------------------------------

def co_handled_categories(*, session: SessionLike, department: str | None) -> list[str]:
    """Categories whose cases this department sees besides those it holds: the ones it co-handles
    (e.g. the police on illegal practice), and the co-handled ones it leads (health on illegal
    practice), wherever their cases are. Every department of a joint category follows its cases; only
    the one holding a case acts on it. A category without co-handlers is seen by its holder alone."""
    return [c.code for c in session.scalars(select(ComplaintCategory))
            if department in (c.also_departments or []) or (c.also_departments and c.department == department)]


def visibility_clause(*, session: SessionLike, account: Account):
    if account.role == ADMIN:
        return true()
    if is_staff(account):
        shared = co_handled_categories(session=session, department=account.department)
        return or_(Complaint.department == account.department, Complaint.category.in_(shared))
    if account.role == INSTITUTION:
        return and_(Complaint.institution_id == account.institution_id,
                    Complaint.status.in_(VISIBLE_TO_INSTITUTION))
    return false()


def handling_department(account: Account) -> str | None:
    """The department whose cases the account may act on (its staff's), else None."""
    return account.department if is_staff(account) else None


def handles(account: Account, complaint: Complaint) -> bool:
    """Staff of the department holding the case: they may act on it and see the complainant."""
    department = handling_department(account)
    return department is not None and department == complaint.department


def contact_shown(department: str | None, complaint: Complaint) -> bool:
    """Who sees the complainant's contact: the department holding a named case, and nobody for an
    anonymous one (views and exports alike; an export keeps the department, not the account)."""
    return department is not None and department == complaint.department and not complaint.anonymous


def get_visible(*, session: SessionLike, account: Account, tracking_no: str) -> Complaint:
    complaint = session.scalar(
        select(Complaint).where(Complaint.tracking_no == tracking_no, visibility_clause(session=session, account=account))
    )
    if complaint is None:
        raise NotVisible("未找到该投诉，或不属于本部门")
    return complaint


def complaint_query(*, session: SessionLike, account: Account, status: str | None = None, category: str | None = None,
                    institution_id: int | None = None, overdue: bool | None = None, department: str | None = None,
                    now: dt.datetime | None = None):
    statement = (select(Complaint).where(visibility_clause(session=session, account=account))
                 .order_by(Complaint.submitted_at.desc(), Complaint.id.desc()))
    if status:
        statement = statement.where(Complaint.status == status)
    if category:
        statement = statement.where(Complaint.category == category)
    if institution_id:
        statement = statement.where(Complaint.institution_id == institution_id)
    if department:
        statement = statement.where(Complaint.department == department)
    if overdue is not None:
        clause = overdue_clause(now or utcnow())
        statement = statement.where(clause if overdue else ~clause)
    return statement


# ---- actions ----------------------------------------------------------------------------------

def act(*, session: SessionLike, complaint: Complaint, account: Account, action: str, data: dict,
        now: dt.datetime | None = None) -> Complaint:
    """Apply one workflow action by `account`, or refuse it: 403 for the wrong person, 409 for the
    wrong status, 422 for a missing note or value."""
    now = now or utcnow()
    rule = TRANSITIONS[action]
    if account.role != ADMIN and not handles(account, complaint):
        raise Forbidden("只有承办部门可以办理该投诉")
    if account.role not in rule.roles:
        raise Forbidden("只有科室负责人可以分派")
    if complaint.status not in rule.sources:
        raise InvalidTransition(f"当前状态（{complaint.status}）不能执行“{ACTION_NAMES[action]}”；"
                                f"可执行：{'、'.join(f'{a}（{ACTION_NAMES[a]}）' for a in allowed_actions(complaint.status)) or '无'}")
    note = data.get("note")
    if rule.needs_note and not note:
        raise ValidationFailed(fields={"note": ["此操作需要填写说明"]})
    recorded = _APPLY[action](session=session, complaint=complaint, data=data, now=now) or {}
    if rule.target:
        complaint.status = rule.target
    if action == "transfer" and not note:
        note = f"已转交{DEPARTMENTS[complaint.department]}办理"
    complaint.events.append(ComplaintEvent(
        action=action, status=complaint.status, department=complaint.department, at=now, actor_id=account.id,
        note=note, internal_note=data.get("internal_note"), **recorded,
    ))
    complaint.updated_at = now
    session.flush()
    return complaint


def handled_under(complaint: Complaint) -> Policy:
    """The policy version the case is handled under: the one in force when it was submitted."""
    return policy.book().version(complaint.policy_version)


def _accept(*, complaint, now, **_) -> None:
    complaint.accepted_at = now
    complaint.reply_due_at = deadlines.reply_due(now, handled_under(complaint))


def _assign(*, session: SessionLike, complaint, data, **_) -> None:
    handler_id = data.get("handler_id")
    if handler_id is None:
        raise ValidationFailed(fields={"handler_id": ["请选择承办人"]})
    handler = session.get(Account, handler_id)
    if (handler is None or not handler.active or not is_staff(handler)
            or handler.department != complaint.department):
        raise ValidationFailed(fields={"handler_id": ["承办人须为本部门在职工作人员"]})
    complaint.handler_id = handler.id


def _resolve(*, complaint, data, **_) -> None:
    if not data.get("finding"):
        raise ValidationFailed(fields={"finding": ["请填写核查结论"]})
    complaint.finding = data["finding"]


def _reply(*, complaint, data, now, **_) -> None:
    complaint.reply, complaint.replied_at = data["note"], now


def _close(*, complaint, now, **_) -> None:
    complaint.closed_at = now


def _transfer(*, complaint, data, now, **_) -> None:
    department = data.get("department")
    if not department:
        raise ValidationFailed(fields={"department": ["请选择转交部门"]})
    if department == complaint.department:
        raise ValidationFailed(fields={"department": ["不能转交给本部门"]})
    complaint.department, complaint.handler_id = department, None
    complaint.accepted_at = complaint.reply_due_at = None
    complaint.accept_due_at = deadlines.accept_due(now, handled_under(complaint))


def _extend(*, complaint, data, **_) -> None:
    days, most = data.get("days"), handled_under(complaint).max_extension_days
    if not days or days > most:
        raise ValidationFailed(fields={"days": [f"请填写延长天数（1–{most}）"]})
    if complaint.extended_days:
        raise InvalidTransition("办理期限只能延长一次")
    complaint.extended_days = days
    complaint.reply_due_at = deadlines.extended(complaint.reply_due_at, days)


def _refer(*, session: SessionLike, complaint, data, now, **_) -> dict:
    """The referral, for the timeline entry to carry; the case's department, handler and status stay."""
    referred_to, name = data.get("referred_to"), data.get("referred_to_name")
    if not referred_to:
        raise ValidationFailed(fields={"referred_to": ["请选择移送机关"]})
    if referred_to == "other" and not name:
        raise ValidationFailed(fields={"referred_to_name": ["移送其他机关时请填写机关名称"]})
    today = now.astimezone(SHANGHAI).date()
    referred_on = data.get("referred_on") or today
    if referred_on > today:
        raise ValidationFailed(fields={"referred_on": ["移送日期不能晚于今天"]})
    if referred_on < complaint.submitted_at.astimezone(SHANGHAI).date():
        raise ValidationFailed(fields={"referred_on": ["移送日期不能早于投诉提交日期"]})
    reference_no = data.get("reference_no")
    if reference_no and session.scalar(select(ComplaintReferral.id).where(
            ComplaintReferral.complaint_id == complaint.id, ComplaintReferral.referred_to == referred_to,
            ComplaintReferral.reference_no == reference_no)) is not None:
        raise Conflict("该移送已登记（同一机关、同一文号）")
    return {"referral": ComplaintReferral(complaint_id=complaint.id, referred_to=referred_to, referred_to_name=name,
                                          referred_on=referred_on, reference_no=reference_no)}


def _nothing(**_) -> None:
    pass


# Each applies its action's changes to the case; what one returns is stored with its timeline entry.
_APPLY: dict[str, Callable[..., dict | None]] = {
    "accept": _accept, "reject": _nothing, "assign": _assign, "investigate": _nothing, "resolve": _resolve,
    "reply": _reply, "close": _close, "transfer": _transfer, "extend": _extend, "refer": _refer}
assert _APPLY.keys() == TRANSITIONS.keys()


def rate(*, session: SessionLike, tracking_no: str, query_code: str, score: int, comment: str | None = None,
         now: dt.datetime | None = None) -> Complaint:
    now = now or utcnow()
    complaint = find_with_code(session=session, tracking_no=tracking_no, query_code=query_code)
    if complaint.status not in RATEABLE:
        raise InvalidTransition("答复后才能评价")
    if complaint.rating is not None:
        raise InvalidTransition("已经评价过了")
    complaint.rating, complaint.rating_comment, complaint.rated_at = score, comment, now
    complaint.events.append(ComplaintEvent(action="rate", status=complaint.status, department=complaint.department,
                                           at=now, note=f"评价 {score} 星"))
    session.flush()
    return complaint


# ---- views ------------------------------------------------------------------------------------

def tracking_view(complaint: Complaint) -> dict:
    """What the complainant sees: status, public notes, the reply and the rating; no names of staff."""
    return {
        "tracking_no": complaint.tracking_no,
        "category": complaint.category,
        "category_name": complaint.category_ref.name,
        "status": complaint.status,
        "department": complaint.department,
        "department_name": DEPARTMENTS[complaint.department],
        "submitted_at": complaint.submitted_at,
        "accept_due_at": complaint.accept_due_at,
        "reply_due_at": complaint.reply_due_at,
        "timeline": [{"status": e.status, "action": e.action, "at": e.at, "note": e.note} for e in complaint.events],
        "reply": complaint.reply,
        "rating": _rating(complaint),
    }


def _rating(complaint: Complaint) -> dict | None:
    if complaint.rating is None:
        return None
    return {"score": complaint.rating, "comment": complaint.rating_comment, "at": complaint.rated_at}


def _target(complaint: Complaint) -> dict:
    return {
        "kind": complaint.target_kind,
        "institution_id": complaint.institution_id,
        "institution_name": complaint.institution.name if complaint.institution else None,
        "staff_id": complaint.staff_id,
        "staff_name": complaint.staff.name if complaint.staff else None,
        "name": complaint.place_name,
        "address": complaint.place_address,
    }


def summary_view(complaint: Complaint, now: dt.datetime | None = None, *, for_institution: bool = False) -> dict:
    """A list row: never the complainant's identity. An institution does not even learn whether the
    complainant gave a name, nor who handled the case."""
    view = {
        "tracking_no": complaint.tracking_no,
        "category": complaint.category,
        "category_name": complaint.category_ref.name,
        "status": complaint.status,
        "department": complaint.department,
        "target": _target(complaint),
        "content": complaint.content,
        "anonymous": complaint.anonymous,
        "handler_id": complaint.handler_id,
        "submitted_at": complaint.submitted_at,
        "accept_due_at": complaint.accept_due_at,
        "reply_due_at": complaint.reply_due_at,
        "overdue": is_overdue(complaint, now),
        "finding": complaint.finding,
    }
    if for_institution:
        del view["anonymous"], view["handler_id"]
    return view


def case_view(*, session: SessionLike, complaint: Complaint, account: Account, attachments: list[Attachment],
              with_contact: bool = True) -> dict:
    """The full case for a regulator. The complainant's contact only for the handling department, and
    each such reading is written to the audit log. An institution gets the content and outcome only.
    Answers to actions leave the contact out (`with_contact=False`): nobody asked to read it."""
    if account.role == INSTITUTION:
        return {
            "tracking_no": complaint.tracking_no, "category": complaint.category,
            "category_name": complaint.category_ref.name, "status": complaint.status,
            "department": complaint.department, "target": _target(complaint), "content": complaint.content,
            "submitted_at": complaint.submitted_at, "finding": complaint.finding, "reply": complaint.reply,
            "timeline": [{"action": e.action, "status": e.status, "at": e.at, "note": e.note}
                         for e in complaint.events if e.action not in HIDDEN_FROM_INSTITUTION],
        }
    view = summary_view(complaint) | {
        "details": complaint.details,
        "occurred_at": complaint.occurred_at,
        "accepted_at": complaint.accepted_at,
        "extended_days": complaint.extended_days,
        "reply": complaint.reply,
        "replied_at": complaint.replied_at,
        "rating": _rating(complaint),
        "closed_at": complaint.closed_at,
        "contact": None,
        "timeline": [_event(e) for e in complaint.events],
        "attachments": [{"id": a.id, "content_type": a.content_type, "size": a.size, "filename": a.filename,
                         "created_at": a.created_at} for a in attachments],
    }
    if with_contact and contact_shown(handling_department(account), complaint):
        view["contact"] = {"name": complaint.contact_name, "phone": complaint.contact_phone}
        audit.record(session=session, account_id=account.id, action=audit.READ_CONTACT, object_type="complaint",
                     object_id=complaint.tracking_no)
    return view


def _event(event: ComplaintEvent) -> dict:
    """A timeline entry as regulators see it; a `refer` entry carries its referral."""
    view = {"action": event.action, "status": event.status, "department": event.department, "at": event.at,
            "actor_id": event.actor_id, "note": event.note, "internal_note": event.internal_note}
    if event.referral is not None:
        view["referral"] = referral_view(event.referral)
    return view


def referral_view(referral: ComplaintReferral) -> dict:
    return {"referred_to": referral.referred_to, "referred_to_name": referral.referred_to_name,
            "referred_on": referral.referred_on, "reference_no": referral.reference_no}


def attachments_of(*, session: SessionLike, complaint: Complaint) -> list[Attachment]:
    return list(session.scalars(select(Attachment).where(Attachment.complaint_id == complaint.id)
                                .order_by(Attachment.id)))


def citizen_query(*, account: Account):
    return (select(Complaint).where(Complaint.account_id == account.id)
            .order_by(Complaint.submitted_at.desc(), Complaint.id.desc()))


def attachment_for_download(*, session: SessionLike, account: Account, tracking_no: str, attachment_id: int) -> Attachment:
    """Only the handling department (and admin: never, contact-grade data) may download."""
    complaint = get_visible(session=session, account=account, tracking_no=tracking_no)
    if not handles(account, complaint):
        raise Forbidden("只有承办部门可以查看附件")
    attachment = session.get(Attachment, attachment_id)
    if attachment is None or attachment.complaint_id != complaint.id:
        raise NotFound("未找到该附件")
    audit.record(session=session, account_id=account.id, action=audit.DOWNLOAD_ATTACHMENT, object_type="complaint",
                 object_id=complaint.tracking_no, detail=f"attachment {attachment.id}")
    return attachment

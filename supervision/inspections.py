"""What the profile shows of inspections and penalties, inspectors and their conflicts, and the lists.

Recording an inspection is in `supervision.records`.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import literal, select, union_all

from api import policy
from api.access import ADMIN, DECIDERS, OFFICER, SUPERVISOR
from api.database import SessionLike, utcnow
from api.errors import (
    Conflict,
    Forbidden,
    InvalidTransition,
    NotFound,
    NotVisible,
    ValidationFailed,
)
from api.models import Account
from registry.models import Institution
from supervision import credit, grades, plans, service
from supervision.credit import final_clause
from supervision.models import (
    Inspection,
    InspectionDepartment,
    InspectorConflict,
    ListDecision,
    ListEntry,
    Violation,
)

PROFILE_ITEMS = 5  # the profile shows the last five public inspections and penalties


def public_record(*, session: SessionLike, institution_id: int, today: dt.date, now) -> tuple[list[dict], list[dict]]:
    """The last public inspections, each with its departments (a joint one shows once, with all of
    them), and the last public penalties of the past five years (policy `public_years`): final public
    violations and approved penalties of public inspections (with their decision number), in one query.

    An inspection shows once its result is public (published, with its settled result): one that has
    awaited legal review or a returned department's answer since it was recorded does not show yet; one
    published before shows its settled result (an approved penalty stays while a later finding waits)."""
    since = grades.years_before(today, policy.in_force(today).public_years)
    shown = (Inspection.institution_id == institution_id, Inspection.public.is_(True),
             Inspection.settled_result.is_not(None), Inspection.published_at.is_not(None),
             Inspection.inspected_on >= since)
    last = (select(Inspection.inspected_on.label("on"), Inspection.settled_result.label("result"),
                   Inspection.summary.label("text"), Inspection.id.label("id"))
            .where(*shown).order_by(Inspection.inspected_on.desc(), Inspection.id.desc())
            .limit(PROFILE_ITEMS).subquery())
    inspections = (select(literal("inspection").label("kind"), last.c.on, last.c.result, last.c.text,
                          literal(None).label("decision_no"), last.c.id,
                          InspectionDepartment.department.label("department"))
                   .outerjoin(InspectionDepartment, InspectionDepartment.inspection_id == last.c.id))
    approved = (select(literal("approved").label("kind"), Inspection.inspected_on.label("on"),
                       Inspection.settled_result.label("result"), Inspection.summary.label("text"),
                       Inspection.decision_no.label("decision_no"), Inspection.id.label("id"),
                       literal(None).label("department"))
                .where(*shown, Inspection.settled_result == "penalty", Inspection.penalty_approved_at.is_not(None))
                .order_by(Inspection.inspected_on.desc(), Inspection.id.desc()).limit(PROFILE_ITEMS))
    penalties = (select(literal("penalty").label("kind"), Violation.occurred_on.label("on"),
                        literal(None).label("result"), Violation.rule_description.label("text"),
                        Violation.decision_no.label("decision_no"), Violation.id.label("id"),
                        literal(None).label("department"))
                 .where(Violation.institution_id == institution_id, Violation.subject_type == "institution",
                        Violation.public.is_(True), Violation.occurred_on >= since, final_clause(now))
                 .order_by(Violation.occurred_on.desc(), Violation.id.desc()).limit(PROFILE_ITEMS))
    rows = session.execute(union_all(inspections, approved.subquery().select(), penalties.subquery().select())).all()
    shown_inspections: dict[int, dict] = {}
    for r in sorted((r for r in rows if r.kind == "inspection"), key=lambda r: (r.on, r.id), reverse=True):
        entry = shown_inspections.setdefault(r.id, {"date": r.on, "result": r.result, "summary": r.text,
                                                    "departments": []})
        if r.department is not None:
            entry["departments"].append(r.department)
    for entry in shown_inspections.values():
        entry["departments"] = plans.canonical(entry["departments"])
    newest_penalties = sorted((r for r in rows if r.kind in ("penalty", "approved")),
                              key=lambda r: (r.on, r.kind == "approved", r.id), reverse=True)[:PROFILE_ITEMS]
    shown_penalties = [{"date": r.on, "decision_no": r.decision_no, "summary": r.text} for r in newest_penalties]
    return list(shown_inspections.values()), shown_penalties


# ---- inspectors -----------------------------------------------------------------------------------

def inspectors(*, session: SessionLike, department: str) -> list[Account]:
    """A department's inspector list: its active officers."""
    return list(session.scalars(select(Account).where(Account.role == OFFICER, Account.department == department,
                                                      Account.active.is_(True)).order_by(Account.id)))


def visible_inspector(*, session: SessionLike, actor: Account, account_id: int) -> Account:
    """The officer whose conflicts `actor` may read and declare: itself, or one of a supervisor's own
    department (an admin: any). Anyone else, an account that is no officer and an unknown id answer
    alike, so the answer tells nothing about whose id it is."""
    inspector = session.get(Account, account_id)
    if inspector is None or inspector.role != OFFICER or not _may_act_for(actor, inspector):
        raise NotVisible("未找到该执法人员")
    return inspector


def _may_act_for(actor: Account, inspector: Account) -> bool:
    return (actor.id == inspector.id or actor.role == ADMIN
            or (actor.role == SUPERVISOR and actor.department == inspector.department))


def declare_conflict(*, session: SessionLike, actor: Account, inspector: Account, institution_id: int | None,
                     street: str | None) -> InspectorConflict:
    if inspector.role != OFFICER or not _may_act_for(actor, inspector):
        raise NotVisible("未找到该执法人员")
    if (institution_id is None) == (street is None):
        raise ValidationFailed(fields={"institution_id": ["请填写回避的机构或街道（二选一）"]})
    if institution_id is not None and session.get(Institution, institution_id) is None:
        raise ValidationFailed(fields={"institution_id": ["未找到该机构"]})
    existing = session.scalar(select(InspectorConflict).where(
        InspectorConflict.account_id == inspector.id,
        (InspectorConflict.institution_id == institution_id) if institution_id else (InspectorConflict.street == street)))
    if existing is not None:
        raise Conflict("已申报过该回避事项")
    conflict = InspectorConflict(account_id=inspector.id, institution_id=institution_id, street=street,
                                 declared_by_id=actor.id)
    session.add(conflict)
    session.flush()
    return conflict


def conflicts_of(*, session: SessionLike, inspector: Account) -> list[InspectorConflict]:
    return list(session.scalars(select(InspectorConflict).where(InspectorConflict.account_id == inspector.id)
                                .order_by(InspectorConflict.id)))


def list_query(name: str, *, session: SessionLike):
    """The entries of a list, after recomputing the credit that went stale (entries open and close with it)."""
    credit.refresh_stale(session=session)
    return (select(ListEntry).where(ListEntry.list == name, ListEntry.removed_at.is_(None))
            .order_by(ListEntry.listed_at.desc(), ListEntry.id.desc()))


def black_list(*, session: SessionLike, account: Account, institution_id: int, reason: str) -> ListEntry | None:
    """Put an institution on the black list by decision (supervisors, admins) for the policy's term
    (`credit.black_list_term_days`), unless lifted earlier; credit follows at once. Returns its entry on
    the list."""
    _check_decider(account)
    institution = session.get(Institution, institution_id)
    if institution is None:
        raise NotFound("未找到该机构")
    if _decision_in_force(session, institution_id) is not None:
        raise InvalidTransition("该机构已因决定列入黑名单")
    now = utcnow()
    session.add(ListDecision(institution_id=institution.id, reason=reason, decided_by_id=account.id, decided_at=now,
                             ends_at=grades.black_list_ends(now)))
    session.flush()
    service.refresh_institution_credit(session=session, institution=institution, reason="black-list decision")
    return session.scalars(list_query("black", session=session).where(
        ListEntry.institution_id == institution.id)).first()


def lift_black_list(*, session: SessionLike, account: Account, institution_id: int, reason: str) -> Institution:
    """Lift the black-list decision in force (supervisors, admins); points may keep it on the list.
    Returns the institution, its credit recomputed."""
    _check_decider(account)
    decision = _decision_in_force(session, institution_id)
    if decision is None:
        raise NotFound("该机构没有生效的黑名单决定")
    decision.lifted_at, decision.lift_reason = utcnow(), reason
    institution = session.get_one(Institution, institution_id)  # the decision's institution
    service.refresh_institution_credit(session=session, institution=institution, reason="black-list lifted")
    return institution


def _check_decider(account: Account) -> None:
    if account.role not in DECIDERS:
        raise Forbidden("只有科室负责人可以作出黑名单决定")


def _decision_in_force(session: SessionLike, institution_id: int) -> ListDecision | None:
    """The decision not lifted whose term has not ended (one at most: a new one needs none in force)."""
    return session.scalar(select(ListDecision).where(ListDecision.institution_id == institution_id,
                                                     ListDecision.lifted_at.is_(None),
                                                     ListDecision.ends_at > utcnow())
                          .order_by(ListDecision.decided_at.desc()).limit(1))


def list_view(entry: ListEntry) -> dict:
    return {"institution_id": entry.institution_id, "institution_name": entry.institution.name,
            "address": entry.institution.address, "list": entry.list, "reason": entry.reason,
            "listed_at": entry.listed_at, "ends_at": entry.ends_at}

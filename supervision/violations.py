"""Violations and points (不良记分): the rule table, recording, objection (异议) and decision.

A violation is `pending` for the policy's objection window after it is recorded (version 1: 7 working
days, a local parameter; api.policy); the institution concerned may object
once within that window; a supervisor of the recording department upholds or cancels an objected one.
A pending violation whose window has ended is final without anyone acting: `effective_status()` and
the credit queries derive it from `objection_due_at`.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from pathlib import Path

from sqlalchemy import select

from api import policy
from api.access import (
    DECIDERS,
    INSTITUTION,
    SUPERVISOR,
    scope_to_account,
    sees_institution,
)
from api.database import SessionLike, today_shanghai, utcnow
from api.errors import (
    Forbidden,
    InvalidTransition,
    NotFound,
    NotVisible,
    ValidationFailed,
)
from api.models import Account
from api.policy import Policy
from api.workdays import add_working_days, end_of, local_date
from leads import service as leads
from registry.models import Institution, Staff
from selfcheck import commitments
from selfcheck.models import Commitment
from supervision import service
from supervision.credit import final_clause
from supervision.models import Violation

RULES_FILE = Path(__file__).parent / "rules" / "violations-v1.json"
BREACH_RULE = "INS-CRD-01"


@functools.cache
def rule_table() -> dict[str, dict]:
    """The rules (code, subject, description, legal basis) as the file has them, read once."""
    data = json.loads(RULES_FILE.read_text(encoding="utf-8"))
    return {rule["code"]: rule for rule in data["rules"]}


def rules(in_force: Policy | None = None) -> dict[str, dict]:
    """The rules with their points under a policy version (the one in force today by default)."""
    points = (in_force or policy.in_force()).rule_points
    return {code: {**rule, "points": points[code]} for code, rule in rule_table().items()}


def rule(code: str, subject_type: str, in_force: Policy | None = None) -> dict:
    found = rules(in_force).get(code)
    if found is None:
        raise ValidationFailed(fields={"rule_code": [f"未知的记分规则：{code}"]})
    if found["applies_to"] != subject_type:
        raise ValidationFailed(fields={"rule_code": [f"{code} 适用于{'机构' if found['applies_to'] == 'institution' else '人员'}"]})
    return found


def effective_status(violation: Violation, now: dt.datetime | None = None) -> str:
    """pending | objected | final | cancelled."""
    now = now or utcnow()
    if violation.status == "upheld":
        return "final"
    if violation.status == "pending" and now > violation.objection_due_at:
        return "final"
    return violation.status


def record(*, session: SessionLike, account: Account, subject_type: str, subject_id: int, rule_code: str, occurred_on: dt.date,
           note: str | None = None, decision_no: str | None = None, public: bool = False,
           commitment_id: int | None = None, today: dt.date | None = None) -> Violation:
    today = today or today_shanghai()
    in_force = policy.in_force(today)  # the points and the window of the version in force when recorded
    found = rule(rule_code, subject_type, in_force)
    if occurred_on > today:
        raise ValidationFailed(fields={"occurred_on": ["违法行为发生日期不能晚于今天"]})
    if occurred_on < today - dt.timedelta(days=365 * in_force.record_within_years):
        raise ValidationFailed(fields={"occurred_on": [f"超过{in_force.record_within_years}年的违法行为不再记分"]})
    if subject_type == "institution":
        institution = session.get(Institution, subject_id)
        if institution is None:
            raise ValidationFailed(fields={"subject_id": ["未找到该机构"]})
        staff_id = None
    else:
        staff = session.get(Staff, subject_id)
        if staff is None:
            raise ValidationFailed(fields={"subject_id": ["未找到该人员"]})
        institution, staff_id = staff.institution, staff.id
    now = utcnow()
    violation = Violation(
        subject_type=subject_type, institution_id=institution.id, staff_id=staff_id, rule_code=found["code"],
        rule_description=found["description"], points=found["points"], occurred_on=occurred_on, note=note,
        decision_no=decision_no, public=public, status="pending", recorded_by_id=account.id, recorded_at=now,
        objection_due_at=end_of(add_working_days(local_date(now), in_force.objection_working_days)),
        commitment_id=commitment_id, policy_version=in_force.version,
    )
    session.add(violation)
    session.flush()
    service.refresh_institution_credit(session=session, institution=institution, reason=f"violation {found['code']} recorded")
    return violation


def record_breach(*, session: SessionLike, commitment: Commitment, account: Account, reason: str) -> Commitment:
    """A regulator records a breach of a credit commitment: the commitment ends (selfcheck.commitments),
    the institution gets a lead reason, and the points of the breach rule, pending like any violation
    (the institution may object); its credit is recomputed with them."""
    ended_at = commitments.end_for_breach(session=session, commitment=commitment, account=account, reason=reason)
    leads.add_reasons(session=session, institution_id=commitment.institution_id, reasons=[
        leads.reason("commitment_breach", f"违背信用承诺：{reason}", ended_at, ref=f"breach:{commitment.id}")])
    record(session=session, account=account, subject_type="institution", subject_id=commitment.institution_id,
           rule_code=BREACH_RULE, occurred_on=today_shanghai(), note=reason, public=True, commitment_id=commitment.id)
    return commitment


def get_visible(*, session: SessionLike, account: Account, violation_id: int) -> Violation:
    violation = session.get(Violation, violation_id)
    if violation is None or not sees_institution(account, violation.institution_id):
        raise NotVisible("未找到该记分记录")
    return violation


def query(*, account: Account, institution_id: int | None = None, status: str | None = None,
          subject_type: str | None = None):
    statement = select(Violation).order_by(Violation.recorded_at.desc(), Violation.id.desc())
    statement = scope_to_account(statement, account, Violation.institution_id, institution_id=institution_id)
    if subject_type:
        statement = statement.where(Violation.subject_type == subject_type)
    if status:
        now = utcnow()
        if status == "final":
            statement = statement.where(final_clause(now))
        elif status == "pending":
            statement = statement.where(Violation.status == "pending", Violation.objection_due_at >= now)
        else:
            statement = statement.where(Violation.status == status)
    return statement


def object_to(*, session: SessionLike, violation: Violation, account: Account, reason: str) -> Violation:
    """The institution concerned objects, once, within the window."""
    if account.role != INSTITUTION or account.institution_id != violation.institution_id:
        raise Forbidden("只有被记分的机构可以提出异议")
    status = effective_status(violation)
    if status == "objected" or violation.objected_at is not None:
        raise InvalidTransition("已提出过异议")
    if status != "pending":
        raise InvalidTransition("异议期已过或记分已处理，不能再提出异议")
    violation.status, violation.objection_reason = "objected", reason
    violation.objected_at, violation.objected_by_id = utcnow(), account.id
    session.flush()
    return violation


def decide(*, session: SessionLike, violation: Violation, account: Account, decision: str, note: str) -> Violation:
    """A supervisor upholds or cancels an objected violation; credit follows at once."""
    if account.role not in DECIDERS:
        raise Forbidden("只有科室负责人可以作出异议处理决定")
    recorder = session.get(Account, violation.recorded_by_id) if violation.recorded_by_id else None
    if account.role == SUPERVISOR and recorder is not None and recorder.department not in (None, account.department):
        raise Forbidden("只能由记分部门的科室负责人处理异议")
    if violation.status != "objected":
        raise InvalidTransition("只能对已提出异议的记分作出决定")
    violation.status = "upheld" if decision == "upheld" else "cancelled"
    violation.decision_note, violation.decided_at, violation.decided_by_id = note, utcnow(), account.id
    session.flush()
    service.refresh_institution_credit(session=session, institution=violation.institution,
                                       reason=f"violation {violation.id} {violation.status}")
    return violation


def view(violation: Violation) -> dict:
    return {
        "id": violation.id, "subject_type": violation.subject_type,
        "subject_id": violation.staff_id if violation.subject_type == "staff" else violation.institution_id,
        "institution_id": violation.institution_id, "rule_code": violation.rule_code,
        "description": violation.rule_description, "points": violation.points, "occurred_on": violation.occurred_on,
        "note": violation.note, "decision_no": violation.decision_no, "public": violation.public,
        "status": effective_status(violation), "recorded_at": violation.recorded_at,
        "objection_due_at": violation.objection_due_at, "objection_reason": violation.objection_reason,
        "objected_at": violation.objected_at, "decision_note": violation.decision_note,
        "decided_at": violation.decided_at,
    }


def get(*, session: SessionLike, violation_id: int) -> Violation:
    violation = session.get(Violation, violation_id)
    if violation is None:
        raise NotFound("未找到该记分记录")
    return violation

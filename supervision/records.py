"""Inspection records: one visit, one record (进一次门、查多件事).

A record names the departments that came, its inspectors, and each department's findings against the
plan's check items; its `result` is the most severe finding still standing. A penalty finding waits for
legal review (重大执法决定法制审核) by a supervisor of a department on the record who did not inspect:
approved, it is public and counts toward credit; returned, it no longer stands and the record goes back
to the inspectors with the note. Recording closes the institution's open lead, as it always did.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from api.access import ADMIN, OFFICER, STAFF, SUPERVISOR
from api.database import SessionLike, lock_row, today_shanghai, utcnow
from api.errors import Conflict, Forbidden, InvalidTransition, NotVisible, ValidationFailed
from api.models import Account
from registry.models import Institution
from supervision import leads, plans, service
from supervision.models import (
    INSPECTION_RESULTS,
    Inspection,
    InspectionDepartment,
    InspectionDraw,
    InspectionFinding,
    InspectionInspector,
    InspectionPlan,
    LegalReview,
    PlanDepartment,
    PlanItem,
)

SEVERITY = {result: rank for rank, result in enumerate(INSPECTION_RESULTS)}  # pass < rectify < penalty


def record(*, session: SessionLike, account: Account, institution_id: int, inspected_on: dt.date, summary: str,
           public: bool, result: str | None = None, departments: list[str] | None = None, draw_id: int | None = None,
           plan_id: int | None = None, inspector_ids: list[int] | None = None, findings: list[dict] | None = None,
           decision_no: str | None = None, today: dt.date | None = None) -> Inspection:
    """Store one visit's record and close the institution's open lead.

    Without `findings` (the single-department form) the record has one finding: the recorder's
    department, `result`, and the summary as its note. With them, `result`, if given, must be the most
    severe. The institution is locked before anything is written, as every writer to its lead does (see
    leads.service.add_reasons): the record's row would otherwise share-lock it through the foreign key,
    and two records each holding that while waiting to lock it for the lead would deadlock."""
    today = today or today_shanghai()
    lock_row(session, Institution, institution_id)
    institution = session.get(Institution, institution_id)
    if institution is None:
        raise ValidationFailed(fields={"institution_id": ["未找到该机构"]})
    if inspected_on > today:
        raise ValidationFailed(fields={"inspected_on": ["检查日期不能晚于今天"]})
    draw = _draw(session, draw_id, institution_id)
    if departments is None:
        departments = list(draw.departments) if draw is not None and draw.departments else [_own(account)]
    departments = plans.canonical(departments)
    if account.role != ADMIN and account.department not in departments:
        raise Forbidden("只能记录本部门参加的检查")
    if plan_id is None and draw is not None:
        plan_id = draw.plan_id
    plan = _plan(session, plan_id, departments, institution, inspected_on)
    if findings is None:
        if result is None:
            raise ValidationFailed(fields={"result": ["请填写检查结果，或逐部门填写检查发现（findings）"]})
        findings = [{"department": _lead_department(account, departments), "result": result, "note": summary}]
    elif not findings:
        raise ValidationFailed(fields={"findings": ["至少填写一项检查发现"]})
    _check_findings(session, findings, departments, plan, field="findings")
    most_severe = max((finding["result"] for finding in findings), key=SEVERITY.__getitem__)
    if result is not None and result != most_severe:
        raise ValidationFailed(fields={"result": [f"检查结果应为各部门发现中最严重的一项（{most_severe}）"]})
    team = _team(session, account, departments, inspector_ids, draw, institution_id)
    inspection = Inspection(institution_id=institution_id, inspected_on=inspected_on, result=most_severe,
                            summary=summary, public=public, department=_lead_department(account, departments),
                            officer_id=account.id, draw_id=draw_id,
                            plan_id=plan_id, decision_no=decision_no)
    inspection.department_rows = [InspectionDepartment(department=department) for department in departments]
    inspection.inspector_rows = [InspectionInspector(account_id=member.id, department=member.department)
                                 for member in team]
    inspection.findings = [_finding(finding, account) for finding in findings]
    _settle(inspection)
    session.add(inspection)
    session.flush()
    lead_closed = leads.close_open_lead(session=session, institution_id=institution_id, status="inspected",
                                        by_id=account.id, note=f"检查记录 {inspection.id}（{inspected_on}）")
    # The record (an approved penalty), the quantified risk (the latest result) and the risk (the lead) follow it.
    service.refresh_institution_credit(session=session, institution=institution,
                                       reason="inspection recorded" + (", lead closed" if lead_closed else ""))
    return inspection


def add_findings(*, session: SessionLike, account: Account, inspection: Inspection, findings: list[dict]) -> Inspection:
    """A department on the record adds its findings (an officer or supervisor of that department, for it;
    an admin for any department on the record). The adder joins the record's inspectors."""
    lock_row(session, Inspection, inspection.id)
    session.refresh(inspection)
    on_record = inspection.departments
    if account.role != ADMIN and account.department not in on_record:
        raise Forbidden("本部门不在该检查记录上，不能填写检查发现")
    for index, finding in enumerate(findings):
        if account.role != ADMIN and finding["department"] != account.department:
            raise Forbidden(f"只能填写本部门的检查发现（第 {index + 1} 项）")
    plan = session.get(InspectionPlan, inspection.plan_id) if inspection.plan_id is not None else None
    _check_findings(session, findings, on_record, plan, field="findings")
    if account.role in STAFF and all(row.account_id != account.id for row in inspection.inspector_rows):
        inspection.inspector_rows.append(InspectionInspector(account_id=account.id, department=account.department))
    inspection.findings.extend(_finding(finding, account) for finding in findings)
    _settle(inspection)
    session.flush()
    # The settled result, the status or an approval may have changed what counts.
    service.refresh_institution_credit(session=session, institution=inspection.institution,
                                       reason="inspection findings added")
    return inspection


def legal_review(*, session: SessionLike, account: Account, inspection: Inspection, decision: str, note: str,
                 decision_no: str | None = None, finding_ids: list[int] | None = None) -> Inspection:
    """Review the record's pending penalty findings (法制审核): a supervisor of a department on the record
    who is not one of its inspectors. Approved, the penalty is public (if the record is) and counts
    toward credit; returned, it no longer stands and the record waits for that department's inspectors
    again. `finding_ids`, if given, must be exactly the pending ones: a penalty added after the reviewer
    read the record is not decided unseen (409)."""
    lock_row(session, Inspection, inspection.id)
    session.refresh(inspection)
    if account.role != SUPERVISOR or account.department not in inspection.departments:
        raise Forbidden("法制审核须由检查记录所涉部门的科室负责人进行")
    if any(row.account_id == account.id for row in inspection.inspector_rows):
        raise Forbidden("参加检查的执法人员不得审核本案")
    pending = [finding for finding in inspection.findings if finding.review == "pending"]
    if not pending:
        raise InvalidTransition("该检查记录没有待审核的行政处罚")
    if finding_ids is not None and sorted(finding_ids) != sorted(finding.id for finding in pending):
        raise Conflict("待审核的处罚已有变化，请刷新后重新审核",
                       fields={"finding_ids": [f"待审核的检查发现为 {', '.join(str(f.id) for f in pending)}"]})
    now = utcnow()
    for finding in pending:
        finding.review = decision
    inspection.reviews.append(LegalReview(decision=decision, note=note, reviewed_by_id=account.id, reviewed_at=now))
    if decision == "approved":
        inspection.penalty_approved_at = inspection.penalty_approved_at or now
        if decision_no is not None:
            inspection.decision_no = decision_no
    _settle(inspection, now=now)
    session.flush()
    service.refresh_institution_credit(session=session, institution=inspection.institution,
                                       reason=f"legal review {decision}")
    return inspection


def query(*, status: str | None = None, department: str | None = None, plan_id: int | None = None,
          draw_id: int | None = None):
    """Records, newest first, by the list's filters (the institution scope is the caller's)."""
    statement = select(Inspection).order_by(Inspection.inspected_on.desc(), Inspection.id.desc())
    if status is not None:
        statement = statement.where(Inspection.status == status)
    if department is not None:
        statement = statement.where(Inspection.id.in_(select(InspectionDepartment.inspection_id)
                                                      .where(InspectionDepartment.department == department)))
    if plan_id is not None:
        statement = statement.where(Inspection.plan_id == plan_id)
    if draw_id is not None:
        statement = statement.where(Inspection.draw_id == draw_id)
    return statement


def get_visible(*, session: SessionLike, account: Account, inspection_id: int) -> Inspection:
    """A record, if the account may see it: regulators all; an institution its own."""
    inspection = session.get(Inspection, inspection_id)
    if inspection is None or (account.role not in (*STAFF, ADMIN) and account.institution_id != inspection.institution_id):
        raise NotVisible("未找到该检查记录")
    return inspection


def view(inspection: Inspection, *, internal: bool = True) -> dict:
    """A record as the API shows it; `internal=False` (the institution inspected) leaves out the legal
    reviews, which are the regulators' own deliberation."""
    return {"id": inspection.id, "institution_id": inspection.institution_id,
            "institution_name": inspection.institution.name, "inspected_on": inspection.inspected_on,
            "result": inspection.result, "status": inspection.status, "summary": inspection.summary,
            "public": inspection.public, "department": inspection.department, "departments": inspection.departments,
            "officer_id": inspection.officer_id, "draw_id": inspection.draw_id, "plan_id": inspection.plan_id,
            "inspector_ids": [row.account_id for row in inspection.inspector_rows],
            "inspectors": [{"account_id": row.account_id, "department": row.department}
                           for row in inspection.inspector_rows],
            "findings": [{"id": f.id, "department": f.department, "item_code": f.item_code, "result": f.result,
                          "note": f.note, "review": f.review, "recorded_by": f.recorded_by_id,
                          "recorded_at": f.recorded_at} for f in inspection.findings],
            "reviews": [{"decision": r.decision, "note": r.note, "reviewed_by": r.reviewed_by_id,
                         "reviewed_at": r.reviewed_at} for r in inspection.reviews] if internal else [],
            "settled_result": inspection.settled_result,
            "decision_no": inspection.decision_no, "penalty_approved_at": inspection.penalty_approved_at,
            "published_at": inspection.published_at, "evidence_count": inspection.evidence_count,
            "recorded_at": inspection.recorded_at}


# ---- the rules ---------------------------------------------------------------------------------------

def _settle(inspection: Inspection, *, now: dt.datetime | None = None) -> None:
    """The record's result and status from its findings. It awaits review while a penalty does; it is
    `returned` while a department whose penalty was returned has not concluded again (a later finding of
    its own); otherwise it is `recorded`, its result settled, and a public record is published (once)."""
    inspection.result = _most_severe(inspection)
    findings = inspection.findings  # in the order recorded: those loaded by id, new ones appended
    latest_of = {finding.department: index for index, finding in enumerate(findings)}
    unanswered = any(finding.review == "returned" and latest_of[finding.department] == index
                     for index, finding in enumerate(findings))
    if any(finding.review == "pending" for finding in inspection.findings):
        inspection.status = "pending_review"
    elif unanswered:
        inspection.status = "returned"
    else:
        inspection.status = "recorded"
        inspection.settled_result = inspection.result
        if inspection.public and inspection.published_at is None:
            inspection.published_at = now or utcnow()


def _most_severe(inspection: Inspection) -> str | None:
    standing = [finding.result for finding in inspection.findings if finding.review != "returned"]
    return max(standing, key=SEVERITY.__getitem__) if standing else None


def _finding(finding: dict, account: Account) -> InspectionFinding:
    return InspectionFinding(department=finding["department"], item_code=finding.get("item_code"),
                             result=finding["result"], note=finding["note"], recorded_by_id=account.id,
                             review="pending" if finding["result"] == "penalty" else None)


def _check_findings(session: SessionLike, findings: list[dict], departments: list[str], plan: InspectionPlan | None,
                    *, field: str) -> None:
    items: set[tuple[str, str]] = set()
    if plan is not None:
        items = set(session.execute(select(PlanItem.department, PlanItem.code).where(PlanItem.plan_id == plan.id)))
    errors: dict[str, list[str]] = {}
    for index, finding in enumerate(findings):
        if finding["department"] not in departments:
            errors[f"{field}.{index}.department"] = ["该部门不在本次检查记录上"]
        elif finding.get("item_code") is not None:
            if plan is None:
                errors[f"{field}.{index}.item_code"] = ["未关联检查计划，不能引用检查事项"]
            elif (finding["department"], finding["item_code"]) not in items:
                errors[f"{field}.{index}.item_code"] = ["该部门在检查计划中没有这一检查事项"]
    if errors:
        raise ValidationFailed(fields=errors)


def _draw(session: SessionLike, draw_id: int | None, institution_id: int) -> InspectionDraw | None:
    if draw_id is None:
        return None
    draw = session.get(InspectionDraw, draw_id)
    if draw is None:
        raise ValidationFailed(fields={"draw_id": ["未找到该抽查批次"]})
    if all(target["institution_id"] != institution_id for target in draw.targets):
        raise ValidationFailed(fields={"draw_id": ["该机构不在此次抽查名单中"]})
    return draw


def _plan(session: SessionLike, plan_id: int | None, departments: list[str], institution: Institution,
          inspected_on: dt.date) -> InspectionPlan | None:
    if plan_id is None:
        return None
    plan = session.get(InspectionPlan, plan_id)
    if plan is None:
        raise ValidationFailed(fields={"plan_id": ["未找到该检查计划"]})
    problems = []
    if inspected_on.year != plan.year:
        problems.append(f"检查日期不在计划年度（{plan.year}）内")
    on_plan = set(session.scalars(select(PlanDepartment.department).where(PlanDepartment.plan_id == plan.id)))
    if not set(departments) <= on_plan:
        problems.append("部门不在该检查计划中：" + "、".join(sorted(set(departments) - on_plan)))
    if (plan.categories and institution.category not in plan.categories) or (
            plan.streets and institution.street not in plan.streets):
        problems.append("该机构不在检查计划的范围内")
    if problems:
        raise ValidationFailed(fields={"plan_id": problems})
    return plan


def _team(session: SessionLike, account: Account, departments: list[str], inspector_ids: list[int] | None,
          draw: InspectionDraw | None, institution_id: int) -> list[Account]:
    """The inspectors on the record: those named, else the draw's team for this institution; and the
    recorder, if department staff. Each must be active department staff of a department on the record."""
    if inspector_ids is None and draw is not None:
        inspector_ids = next(target["inspector_ids"] for target in draw.targets
                             if target["institution_id"] == institution_id)
    ids = set(inspector_ids or ())
    if account.role in STAFF:
        ids.add(account.id)
    members = {member.id: member for member in session.scalars(select(Account).where(Account.id.in_(ids)))}
    wrong = sorted(i for i in ids if i not in members or members[i].role not in (OFFICER, SUPERVISOR)
                   or not members[i].active or members[i].department not in departments)
    if wrong:
        raise ValidationFailed(fields={"inspector_ids": [f"不是本次检查所涉部门的在岗执法人员：{', '.join(map(str, wrong))}"]})
    return [members[i] for i in sorted(ids)]


def _own(account: Account) -> str:
    return account.department or "health"


def _lead_department(account: Account, departments: list[str]) -> str:
    """The recorder's department, or (an admin's record) the first on it."""
    return account.department if account.department in departments else departments[0]

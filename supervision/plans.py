"""Yearly inspection plans and their check-item lists (一单), and how far each has got.

A plan names its departments, which institutions it covers (categories and streets; an empty list
means all) and the items each department checks. Its progress is read from the inspection records
that name it (`Inspection.plan_id`), in one statement whatever the number of institutions:

- institutions: active institutions in scope now;
- inspected: those of them with at least one record under the plan (完成);
- closed: inspected ones none of whose records under the plan is awaiting legal review or returned,
  every one `recorded` (完结; Huancui's plan: "提高完成率和完结率");
- penalties: records under the plan with an approved penalty (`penalty_approved_at`), whatever the
  institution's status now;
- completion_rate = inspected / institutions, close_rate = closed / inspected (0 when nothing to divide).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from sqlalchemy import case, func, select

from api.access import SUPERVISOR
from api.database import SessionLike
from api.errors import Conflict, Forbidden, NotFound, ValidationFailed
from api.models import DEPARTMENTS, Account
from registry.models import Institution
from supervision.models import Inspection, InspectionPlan, PlanDepartment, PlanItem

RATE_DIGITS = 4


def canonical(departments: Iterable[str]) -> list[str]:
    """Departments without repeats, in the order of api.models.DEPARTMENTS (health, the lead, first)."""
    wanted = set(departments)
    return [department for department in DEPARTMENTS if department in wanted]


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def create(*, session: SessionLike, account: Account, year: int, name: str, departments: Sequence[str],
           items: Sequence[dict], due_on: dt.date, categories: Sequence[str] = (),
           streets: Sequence[str] = ()) -> InspectionPlan:
    """Store a plan and its items. A supervisor must be of one of its departments (else Forbidden);
    every item belongs to one of them, and its code is unique within its department (422 naming the
    item); the plan is due within its year; a second plan of the same year and name is a Conflict."""
    departments = canonical(departments)
    if account.role == SUPERVISOR and account.department not in departments:
        raise Forbidden("只能制定本部门参与的检查计划")
    errors: dict[str, list[str]] = {}
    seen: dict[tuple[str, str], int] = {}
    for index, item in enumerate(items):
        if item["department"] not in departments:
            errors[f"items.{index}.department"] = [f"部门 {item['department']} 不在本计划的部门之列"]
            continue
        key = (item["department"], item["code"])
        if key in seen:
            errors[f"items.{index}.code"] = [f"与 items.{seen[key]} 重复：{item['department']} 的检查事项编号 {item['code']}"]
        else:
            seen[key] = index
    if due_on.year != year:
        errors["due_on"] = [f"完成期限须在计划年度（{year} 年）之内"]
    if errors:
        raise ValidationFailed("检查计划有误：" + "；".join(f"{field} {messages[0]}" for field, messages in errors.items()),
                               fields=errors)
    if session.scalar(select(InspectionPlan.id).where(InspectionPlan.year == year, InspectionPlan.name == name)):
        raise Conflict("该年度已有同名检查计划")
    plan = InspectionPlan(year=year, name=name, categories=_unique(categories), streets=_unique(streets),
                          due_on=due_on, created_by_id=account.id)
    session.add(plan)
    session.flush()  # the id; the unique (year, name) constraint backs the check above (409 by api.errors)
    session.add_all([PlanDepartment(plan_id=plan.id, department=department) for department in departments])
    session.add_all([PlanItem(plan_id=plan.id, department=item["department"], code=item["code"], text=item["text"],
                              basis=item.get("basis")) for item in items])
    session.flush()
    return plan


def get(*, session: SessionLike, plan_id: int) -> InspectionPlan:
    plan = session.get(InspectionPlan, plan_id)
    if plan is None:
        raise NotFound("未找到该检查计划")
    return plan


def departments_of(*, session: SessionLike, plan_id: int) -> list[str]:
    return canonical(session.scalars(select(PlanDepartment.department).where(PlanDepartment.plan_id == plan_id)))


def query(*, year: int | None = None, department: str | None = None):
    """Plans, newest year first; of a year, of a department."""
    statement = select(InspectionPlan).order_by(InspectionPlan.year.desc(), InspectionPlan.id.desc())
    if year is not None:
        statement = statement.where(InspectionPlan.year == year)
    if department is not None:
        statement = statement.where(InspectionPlan.id.in_(
            select(PlanDepartment.plan_id).where(PlanDepartment.department == department)))
    return statement


def in_scope(*, categories: Sequence[str], streets: Sequence[str]) -> list:
    """The WHERE clauses of the institutions a plan covers: active ones of its categories and streets."""
    clauses = [Institution.status == "active"]
    if categories:
        clauses.append(Institution.category.in_(list(categories)))
    if streets:
        clauses.append(Institution.street.in_(list(streets)))
    return clauses


def progress(*, session: SessionLike, plan: InspectionPlan) -> dict:
    """The plan's coverage (see the module docstring), in one statement."""
    scope = in_scope(categories=plan.categories, streets=plan.streets)
    per_institution = (select(Inspection.institution_id,
                              func.sum(case((Inspection.status != "recorded", 1), else_=0)).label("open"))
                       .where(Inspection.plan_id == plan.id,
                              Inspection.institution_id.in_(select(Institution.id).where(*scope)))
                       .group_by(Inspection.institution_id).subquery())
    row = session.execute(select(
        select(func.count()).select_from(Institution).where(*scope).scalar_subquery(),
        select(func.count()).select_from(per_institution).scalar_subquery(),
        select(func.count()).select_from(per_institution).where(per_institution.c.open == 0).scalar_subquery(),
        select(func.count()).select_from(Inspection).where(Inspection.plan_id == plan.id,
                                                           Inspection.penalty_approved_at.is_not(None))
        .scalar_subquery(),
    )).one()
    institutions, inspected, closed, penalties = (int(value or 0) for value in row)
    return {"institutions": institutions, "inspected": inspected, "completion_rate": _rate(inspected, institutions),
            "penalties": penalties, "closed": closed, "close_rate": _rate(closed, inspected)}


def _rate(part: int, whole: int) -> float:
    return round(part / whole, RATE_DIGITS) if whole else 0.0


def views(*, session: SessionLike, plans: Sequence[InspectionPlan]) -> list[dict]:
    """The plans as the API shows them: departments and items read in one query each for all of them,
    progress in one statement per plan."""
    ids = [plan.id for plan in plans]
    departments: dict[int, list[str]] = {plan_id: [] for plan_id in ids}
    for plan_id, department in session.execute(select(PlanDepartment.plan_id, PlanDepartment.department)
                                               .where(PlanDepartment.plan_id.in_(ids))):
        departments[plan_id].append(department)
    items: dict[int, list[dict]] = {plan_id: [] for plan_id in ids}
    for item in session.scalars(select(PlanItem).where(PlanItem.plan_id.in_(ids)).order_by(PlanItem.id)):
        items[item.plan_id].append({"department": item.department, "code": item.code, "text": item.text,
                                    "basis": item.basis})
    return [{"id": plan.id, "year": plan.year, "name": plan.name, "departments": canonical(departments[plan.id]),
             "categories": list(plan.categories), "streets": list(plan.streets), "due_on": plan.due_on,
             "items": items[plan.id], "created_at": plan.created_at, "created_by_id": plan.created_by_id,
             "progress": progress(session=session, plan=plan)} for plan in plans]


def view(*, session: SessionLike, plan: InspectionPlan) -> dict:
    return views(session=session, plans=[plan])[0]

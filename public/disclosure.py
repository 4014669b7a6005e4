"""Public disclosure of inspection results across institutions (双随机一公开), no login.

Two lists: every public record whose result is public (`published_at` set; its settled result, which
keeps an approved penalty while a later finding awaits review), and the approved penalties among them
(`penalty_approved_at` set, settled result `penalty`). A penalty is public for
the window of policy `public_years` (five years, counted from the inspection day, as on the scan
profile), on both lists. A record awaiting legal review, or returned by it, is on
neither; an approved one is on both at once. Each page costs three queries whatever its size: the
count, the page (records with their institution's name and street), and the departments of the page's
records.

Each item carries `publish_due_on`: the decision day (the recording day; for a penalty, the day it was
approved), Beijing time, plus the policy's `credit.publish_working_days` working days of the version in
force that day (GET /api/v1/policy says which text sets them), so anyone can check that `published_at`
came within it.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Select, func, or_, select

from api import policy, workdays
from api.database import SessionLike
from registry.models import Institution
from supervision import grades
from supervision.models import Inspection, InspectionDepartment
from supervision.plans import canonical


def query(*, year: int | None = None, department: str | None = None, street: str | None = None,
          penalties: bool = False, today: dt.date) -> Select:
    """Public records (or approved penalties) by the list's filters, newest published first, as rows of
    the columns an item shows."""
    statement = (
        select(Inspection.id, Inspection.institution_id, Institution.name.label("institution_name"),
               Institution.street, Inspection.inspected_on, Inspection.settled_result.label("result"),
               Inspection.summary,
               Inspection.draw_id, Inspection.published_at, Inspection.recorded_at, Inspection.decision_no,
               Inspection.penalty_approved_at)
        .join(Institution, Institution.id == Inspection.institution_id)
        .where(Inspection.public.is_(True), Inspection.settled_result.is_not(None),
               Inspection.published_at.is_not(None))
        .order_by(Inspection.published_at.desc(), Inspection.id.desc())
    )
    since = grades.years_before(today, policy.in_force(today).public_years)
    if penalties:
        statement = statement.where(Inspection.settled_result == "penalty", Inspection.penalty_approved_at.is_not(None),
                                    Inspection.inspected_on >= since)
    else:  # a penalty is public for the window only, on this list too
        statement = statement.where(or_(Inspection.settled_result != "penalty", Inspection.inspected_on >= since))
    if year is not None:  # a range, not a function of the column: ix_inspections_inspected_on serves it
        statement = statement.where(Inspection.inspected_on >= dt.date(year, 1, 1),
                                    Inspection.inspected_on < dt.date(year + 1, 1, 1))
    if department is not None:  # ix_inspection_departments_department
        statement = statement.where(Inspection.id.in_(
            select(InspectionDepartment.inspection_id).where(InspectionDepartment.department == department)))
    if street is not None:
        statement = statement.where(Institution.street == street)
    return statement


def page(*, session: SessionLike, statement: Select, page: int, page_size: int, penalties: bool = False) -> dict:
    """One page of `query()`: {items, page, page_size, total}, in three queries."""
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    rows = session.execute(statement.limit(page_size).offset((page - 1) * page_size)).all()
    departments: dict[int, list[str]] = {row.id: [] for row in rows}
    if rows:
        for inspection_id, department in session.execute(
                select(InspectionDepartment.inspection_id, InspectionDepartment.department)
                .where(InspectionDepartment.inspection_id.in_(list(departments)))
):
            departments[inspection_id].append(department)
    items = [item(row, canonical(departments[row.id]), penalty=penalties) for row in rows]
    return {"items": items, "page": page, "page_size": page_size, "total": total}


def item(row, departments: list[str], *, penalty: bool = False) -> dict:
    shown = {"id": row.id, "institution_id": row.institution_id, "institution_name": row.institution_name,
             "street": row.street, "inspected_on": row.inspected_on, "departments": departments,
             "result": row.result, "summary": row.summary, "draw_id": row.draw_id,
             "published_at": row.published_at, "decided_on": decided_on(row.recorded_at, row.penalty_approved_at),
             "publish_due_on": publish_due_on(row.recorded_at, row.penalty_approved_at)}
    if penalty:
        shown["decision_no"] = row.decision_no
    return shown


def decided_on(recorded_at: dt.datetime, penalty_approved_at: dt.datetime | None) -> dt.date:
    """The decision day in Beijing: a penalty's approval (法制审核), else the recording of the result."""
    return workdays.local_date(penalty_approved_at or recorded_at)


def publish_due_on(recorded_at: dt.datetime, penalty_approved_at: dt.datetime | None) -> dt.date:
    """The last day the result may be published on: the policy's working days after the decision."""
    decided = decided_on(recorded_at, penalty_approved_at)
    return workdays.add_working_days(decided, policy.in_force(decided).publish_working_days)

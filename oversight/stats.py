"""Numbers for leaders (issue 20): complaints, self-checks, leads, inspections, credit and lists over a
period, grouped by department, street, category or month.

Every number is an aggregate statement (GROUP BY with sums of CASE), one per domain, whatever the
number of rows; Python only turns the few grouped rows into the contract's shape. What each number
counts is defined in docs/decisions.md ("Oversight numbers"); in short:

- complaints: those received in the period (a cohort), by the department holding them now;
- self-checks: quarterly filings whose deadline fell in the period (and has passed), and the
  non-compliant items of filings submitted in it; the lead department's (health), which runs them;
- leads: opened in the period, closed in it; the lead department's;
- inspections: visits in the period, counted in each department on the record; plan completion at the
  end of the period, of the plans of the period's years;
- credit and lists: the current state of the institutions (a grade is a state, not an event), none per
  month; the lead department's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, case, exists, func, literal, or_, select, union_all
from sqlalchemy.sql import Select

from api.access import ADMIN, SUPERVISOR
from api.database import SHANGHAI, SessionLike, UTCDateTime, today_shanghai, utcnow
from api.errors import Forbidden, ValidationFailed
from api.models import DEPARTMENTS, Account
from complaints.models import Complaint
from complaints.service import OPEN_FOR_REPLY, overdue_clause
from leads.models import Lead
from registry.models import CATEGORIES, Institution
from selfcheck import periods
from selfcheck.models import Rectification, SelfCheck, SelfCheckAnswer
from supervision import credit
from supervision.models import (
    Inspection,
    InspectionDepartment,
    InspectionFinding,
    InspectionPlan,
    ListEntry,
    PlanDepartment,
)
from supervision.plans import in_scope

GROUPS = ("department", "street", "category", "month")
ALL_DEPARTMENTS = "all"  # `department=all`: every department, for those allowed to see them
LEAD_DEPARTMENT = "health"  # 卫健, the lead: self-checks, leads, credit and lists are its numbers
MAX_YEARS = 5
RATE_DIGITS = 4
GRADES = ("A", "B", "C", "D")
LISTS = ("red", "black", "key")

Row = dict[str, int]
Key = str | None


@dataclass(frozen=True)
class Scope:
    """What is counted: the period (Beijing dates, as UTC bounds, end exclusive), the filters, the
    grouping, and the moment of counting (what is overdue, which deadlines have passed)."""

    date_from: dt.date
    date_to: dt.date
    department: str | None  # None: every department
    street: str | None
    group_by: str | None
    dialect: str
    now: dt.datetime
    today: dt.date

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.combine(self.date_from, dt.time(), tzinfo=SHANGHAI)

    @property
    def end(self) -> dt.datetime:
        return dt.datetime.combine(self.date_to + dt.timedelta(days=1), dt.time(), tzinfo=SHANGHAI)

    def ungrouped(self) -> Scope:
        return Scope(self.date_from, self.date_to, self.department, self.street, None, self.dialect, self.now,
                     self.today)


# ---- the period, the department, who may ask ------------------------------------------------------

def default_period(today: dt.date, date_from: dt.date | None, date_to: dt.date | None) -> tuple[dt.date, dt.date]:
    """Unless given: to today, from the first of January of `to`'s year (the year so far)."""
    date_to = date_to or today
    return date_from or date_to.replace(month=1, day=1), date_to


def check_period(date_from: dt.date, date_to: dt.date) -> None:
    if date_to < date_from:
        raise ValidationFailed("统计期间有误", fields={"to": ["截止日期不能早于起始日期"]})
    if date_to >= _years_after(date_from, MAX_YEARS):
        raise ValidationFailed("统计期间有误", fields={"from": [f"统计期间不能超过 {MAX_YEARS} 年"]})


def _years_after(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def sees_all_departments(account: Account) -> bool:
    """Admins, and supervisors of the lead department (卫健 leads 综合监管)."""
    return account.role == ADMIN or (account.role == SUPERVISOR and account.department == LEAD_DEPARTMENT)


def department_for(account: Account, asked: str | None) -> str | None:
    """The department whose numbers `account` gets (None: all). Department staff get their own by
    default; another department or all of them only for those who see all (else Forbidden)."""
    if asked is None:
        return None if sees_all_departments(account) else account.department
    wanted = None if asked == ALL_DEPARTMENTS else asked
    if wanted != account.department and not sees_all_departments(account):
        raise Forbidden("只能查看本部门的统计数据")
    return wanted


def check_group_by(group_by: str | None) -> None:
    if group_by is not None and group_by not in GROUPS:
        raise ValidationFailed(fields={"group_by": [f"分组方式应为 {' | '.join(GROUPS)} 之一"]})


# ---- the entry point --------------------------------------------------------------------------------

def compute(*, session: SessionLike, account: Account, date_from: dt.date, date_to: dt.date,
            department: str | None, street: str | None, group_by: str | None,
            now: dt.datetime | None = None) -> dict:
    """The numbers of the period, grouped, and their total, in the contract's shape (see the module
    docstring and docs/decisions.md). Institutions' credit gone stale is recomputed first, as every
    reader of many institutions does (supervision.credit.refresh_stale): the caller commits."""
    check_period(date_from, date_to)
    check_group_by(group_by)
    scope = Scope(date_from, date_to, department_for(account, department), street or None, group_by,
                  session.get_bind().dialect.name, now or utcnow(), today_shanghai())
    credit.refresh_stale(session=session, now=scope.now)
    parts = {
        "complaints": _complaints(session, scope),
        "selfchecks": _selfchecks(session, scope),
        "leads": _leads(session, scope),
        "inspections": _inspections(session, scope),
        "credit": _credit(session, scope),
        "lists": _lists(session, scope),
    }
    keys = _keys(scope, parts)
    groups = [{"key": key, **{name: part.group(key) for name, part in parts.items()}} for key in keys]
    return {"from": date_from, "to": date_to, "groups": groups if group_by else [],
            "total": {name: part.total for name, part in parts.items()}}


@dataclass
class Part:
    """One domain's numbers: per key, and in total; `empty` what a key without rows shows."""

    by_key: dict[Key, dict]
    total: dict
    empty: dict

    def group(self, key: Key) -> dict:
        return self.by_key.get(key, self.empty)


def _keys(scope: Scope, parts: dict[str, Part]) -> list[Key]:
    """The groups shown: every department (or the one asked), every month of the period, every
    institution category; and whatever other key (a street, none) has numbers, in order, empty last."""
    found = {key for part in parts.values() for key in part.by_key}
    if scope.group_by == "department":
        return [scope.department] if scope.department else list(DEPARTMENTS)
    if scope.group_by == "month":
        return months_between(scope.date_from, scope.date_to)
    known: list[str] = list(CATEGORIES) if scope.group_by == "category" else []
    rest = sorted(key for key in found if key is not None and key not in known)
    return known + rest + ([None] if None in found else [])


def months_between(date_from: dt.date, date_to: dt.date) -> list[Key]:
    months: list[Key] = []
    year, month = date_from.year, date_from.month
    while (year, month) <= (date_to.year, date_to.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


# ---- SQL helpers ------------------------------------------------------------------------------------

def _month_of_time(scope: Scope, column) -> ColumnElement[str]:
    """'YYYY-MM' of a UTC timestamp, in Beijing (UTC+8 all year, no summer time)."""
    if scope.dialect == "postgresql":
        return func.to_char(func.timezone("Asia/Shanghai", column), "YYYY-MM")
    return func.strftime("%Y-%m", column, "+8 hours")


def _month_of_date(scope: Scope, column) -> ColumnElement[str]:
    if scope.dialect == "postgresql":
        return func.to_char(column, "YYYY-MM")
    return func.strftime("%Y-%m", column)


def _count_if(condition) -> ColumnElement[int]:
    return func.sum(case((condition, 1), else_=0))


def _by(statement: Select, key) -> Select:
    """`statement` (its columns: the measures) grouped by `key`, which it then reads last; as it is
    if `key` is None (one row)."""
    if key is None:
        return statement
    return statement.add_columns(key.label("group_key")).group_by(key)


def _fetch(session: SessionLike, statement: Select, measures: Sequence[str], *, grouped: bool,
           fixed: Key = None) -> dict[Key, Row]:
    """{key: {measure: int}} of a statement whose columns are the measures, then the key if `grouped`
    (else every row counts under `fixed`)."""
    result: dict[Key, Row] = {}
    for row in session.execute(statement):
        values = tuple(row)
        group = values[len(measures)] if grouped else fixed
        result[group] = {name: int(value or 0) for name, value in zip(measures, values, strict=False)}
    return result


def _summed(sources: Iterable[Row], measures: Sequence[str]) -> Row:
    rows = list(sources)
    return {name: sum(row.get(name, 0) for row in rows) for name in measures}


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, RATE_DIGITS) if whole else None


def _institution_key(scope: Scope, month_column=None, *, of_date: bool = False):
    """The key of a row read through an institution: its street or category, or the month of
    `month_column`; None when not grouped, or grouped by department (the lead department's alone)."""
    if scope.group_by == "month" and month_column is not None:
        return _month_of_date(scope, month_column) if of_date else _month_of_time(scope, month_column)
    return {"street": Institution.street, "category": Institution.category}.get(scope.group_by or "")


def _street(scope: Scope) -> list:
    return [Institution.street == scope.street] if scope.street else []


def _resummed(branches: list[Select], measures: Sequence[str], *, grouped: bool) -> Select:
    """One statement summing the branches' rows per key (their `group_key` column, last)."""
    union = (branches[0] if len(branches) == 1 else union_all(*branches)).subquery("branches")
    statement = select(*[func.sum(union.c[name]) for name in measures])
    if grouped:
        statement = statement.add_columns(union.c.group_key).group_by(union.c.group_key)
    return statement


def _institution_part(session: SessionLike, scope: Scope, build, measures: Sequence[str], finish, *,
                      per_month: bool = True) -> Part:
    """A domain of the lead department read through institutions: `build(scope)` is its statement
    (see _by). Its total is the sum of its groups (each row has one key), except per month when the
    domain has no months (a state: `per_month` False), where the groups are empty (None)."""
    zero = dict.fromkeys(measures, 0)
    if not _lead_department_only(scope):
        return Part({}, finish(zero), finish(zero))
    if not scope.group_by or (scope.group_by == "month" and not per_month):
        total = _fetch(session, build(scope.ungrouped()), measures, grouped=False).get(None, zero)
        empty = finish(zero) if per_month else dict.fromkeys(finish(zero))
        return Part({}, finish(total), empty)
    grouped = scope.group_by != "department"
    rows = _fetch(session, build(scope), measures, grouped=grouped, fixed=LEAD_DEPARTMENT)
    return Part({key: finish(row) for key, row in rows.items()}, finish(_summed(rows.values(), measures)),
                finish(zero))


def _lead_department_only(scope: Scope) -> bool:
    """Numbers that belong to the lead department: none when another department is asked for."""
    return scope.department in (None, LEAD_DEPARTMENT)


# ---- complaints -------------------------------------------------------------------------------------

COMPLAINT_MEASURES = ("received", "accepted", "closed", "overdue", "on_time", "answered", "rating_sum",
                      "rated")


def _complaints(session: SessionLike, scope: Scope) -> Part:
    """Received in the period, by the department holding the case, the street and category of the
    institution complained about (none for an unlicensed place), the month of receipt."""
    key = {"department": Complaint.department, "street": Institution.street, "category": Institution.category,
           "month": _month_of_time(scope, Complaint.submitted_at)}.get(scope.group_by or "")
    late_reply = and_(Complaint.replied_at.is_(None), Complaint.status.in_(OPEN_FOR_REPLY),
                      Complaint.reply_due_at < scope.now)
    statement = select(
        func.count(),
        _count_if(Complaint.accepted_at.is_not(None)),
        _count_if(Complaint.status == "closed"),
        _count_if(overdue_clause(scope.now)),
        _count_if(Complaint.replied_at <= Complaint.reply_due_at),
        _count_if(or_(Complaint.replied_at.is_not(None), late_reply)),
        func.sum(Complaint.rating),
        func.count(Complaint.rating),
    ).select_from(Complaint).where(Complaint.submitted_at >= scope.start, Complaint.submitted_at < scope.end)
    if scope.group_by in ("street", "category") or scope.street:
        statement = statement.outerjoin(Institution, Institution.id == Complaint.institution_id)
    if scope.department:
        statement = statement.where(Complaint.department == scope.department)
    statement = statement.where(*_street(scope))
    rows = _fetch(session, _by(statement, key), COMPLAINT_MEASURES, grouped=key is not None)
    total = _summed(rows.values(), COMPLAINT_MEASURES)
    return Part({k: _complaint_numbers(row) for k, row in rows.items() if key is not None},
                _complaint_numbers(total), _complaint_numbers(dict.fromkeys(COMPLAINT_MEASURES, 0)))


def _complaint_numbers(row: Row) -> dict:
    return {"received": row["received"], "accepted": row["accepted"], "closed": row["closed"],
            "overdue": row["overdue"], "on_time_rate": _rate(row["on_time"], row["answered"]),
            "avg_rating": round(row["rating_sum"] / row["rated"], 2) if row["rated"] else None}


# ---- self-checks ------------------------------------------------------------------------------------

SELFCHECK_MEASURES = ("due", "filed", "items", "rectified")


def quarters_due(scope: Scope) -> list[periods.Period]:
    """The quarters whose filing deadline (the end of the month after the quarter) fell in the period
    and has passed (before today)."""
    last = min(scope.date_to, scope.today - dt.timedelta(days=1))
    quarter = periods.quarter_of(scope.date_from - dt.timedelta(days=62))
    found = []
    while quarter.due <= last:
        if quarter.due >= scope.date_from:
            found.append(quarter)
        quarter = periods.quarter_of(quarter.end + dt.timedelta(days=1))
    return found


def _selfchecks(session: SessionLike, scope: Scope) -> Part:
    quarters = quarters_due(scope)

    def build(scope: Scope) -> Select:
        grouped = scope.group_by not in (None, "department")
        branches = []
        if quarters:
            table = _quarters_table(quarters)
            filed = exists().where(
                SelfCheck.institution_id == Institution.id, SelfCheck.status != "returned",
                or_(and_(SelfCheck.period == table.c.label, SelfCheck.submitted_at < table.c.due_end),
                    and_(SelfCheck.period == table.c.year_label, SelfCheck.submitted_at >= table.c.start,
                         SelfCheck.submitted_at < table.c.due_end)))
            due_key = table.c.due_month if scope.group_by == "month" else _institution_key(scope)
            branches.append(_by(
                select(func.count().label("due"), _count_if(filed).label("filed"), literal(0).label("items"),
                       literal(0).label("rectified"))
                .select_from(Institution).join(table, Institution.created_at < table.c.start)
                .where(Institution.status == "active", *_street(scope)), due_key))
        item_key = _institution_key(scope, SelfCheck.submitted_at)
        branches.append(_by(
            select(literal(0).label("due"), literal(0).label("filed"), func.count(SelfCheckAnswer.id).label("items"),
                   func.count(Rectification.id).label("rectified"))
            .select_from(SelfCheckAnswer)
            .join(SelfCheck, SelfCheck.id == SelfCheckAnswer.selfcheck_id)
            .join(Institution, Institution.id == SelfCheck.institution_id)
            .outerjoin(Rectification, Rectification.answer_id == SelfCheckAnswer.id)
            .where(SelfCheckAnswer.result == "non_compliant", SelfCheck.status != "returned",
                   SelfCheck.submitted_at >= scope.start, SelfCheck.submitted_at < scope.end, *_street(scope)),
            item_key))
        return _resummed(branches, SELFCHECK_MEASURES, grouped=grouped)

    return _institution_part(session, scope, build, SELFCHECK_MEASURES, _selfcheck_numbers)


def _quarters_table(quarters: Sequence[periods.Period]):
    """The quarters as rows (label, year, start, end of the due day, due month): a union of literals,
    which both SQLite and PostgreSQL take (SQLite has no column list on a VALUES alias)."""
    rows = [select(literal(q.label).label("label"), literal(str(q.year)).label("year_label"),
                   literal(_beijing_midnight(q.start), UTCDateTime()).label("start"),
                   literal(_beijing_midnight(q.due + dt.timedelta(days=1)), UTCDateTime()).label("due_end"),
                   literal(q.due.strftime("%Y-%m")).label("due_month")) for q in quarters]
    return (rows[0] if len(rows) == 1 else union_all(*rows)).subquery("quarters")


def _beijing_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=SHANGHAI)


def _selfcheck_numbers(row: Row) -> dict:
    return {"due": row["due"], "filed": row["filed"], "filing_rate": _rate(row["filed"], row["due"]),
            "non_compliant_items": row["items"], "rectified_rate": _rate(row["rectified"], row["items"])}


# ---- leads ------------------------------------------------------------------------------------------

LEAD_MEASURES = ("opened", "closed")


def _leads(session: SessionLike, scope: Scope) -> Part:
    """Opened in the period; closed (inspected or dismissed) in it: each counted in its own month."""

    def build(scope: Scope) -> Select:
        branches = []
        for column, measures in ((Lead.opened_at, (1, 0)), (Lead.closed_at, (0, 1))):
            counted = func.count()
            statement = (select((counted if measures[0] else literal(0)).label("opened"),
                                (counted if measures[1] else literal(0)).label("closed"))
                         .select_from(Lead).outerjoin(Institution, Institution.id == Lead.institution_id)
                         .where(column >= scope.start, column < scope.end, *_street(scope)))
            branches.append(_by(statement, _institution_key(scope, column)))
        return _resummed(branches, LEAD_MEASURES, grouped=scope.group_by not in (None, "department"))

    return _institution_part(session, scope, build, LEAD_MEASURES, dict)


# ---- inspections ------------------------------------------------------------------------------------

INSPECTION_MEASURES = ("done", "penalties")
PLAN_MEASURES = ("pairs", "inspected")


def _inspections(session: SessionLike, scope: Scope) -> Part:
    """Visits in the period (in each department on the record), those with an approved penalty (法制
    审核 done), and plan completion. Grouped by department, a joint visit counts once in each of its
    departments and once in the total."""
    records = _inspection_records(session, scope)
    records_total = (_inspection_records(session, scope.ungrouped()).get(None) if scope.group_by == "department"
                     else _summed(records.values(), INSPECTION_MEASURES))
    plans = _plan_years(session, scope)
    completion = _plan_completion(session, scope, plans)
    completion_total = (_plan_completion(session, scope.ungrouped(), plans).get(None)
                        if scope.group_by else completion.get(None))
    zero = dict.fromkeys(PLAN_MEASURES, 0)

    def numbers(row: Row | None, plan: Row | None) -> dict:
        row, plan = row or dict.fromkeys(INSPECTION_MEASURES, 0), plan or zero
        return {"done": row["done"], "penalties": row["penalties"],
                "plan_completion_rate": _rate(plan["inspected"], plan["pairs"])}

    keys = set(records) | set(completion) if scope.group_by else set()
    return Part({key: numbers(records.get(key), completion.get(key)) for key in keys},
                numbers(records_total, completion_total), numbers(None, None))


def _inspection_records(session: SessionLike, scope: Scope) -> dict[Key, Row]:
    key = ({"department": InspectionDepartment.department}.get(scope.group_by or "")
           or _institution_key(scope, Inspection.inspected_on, of_date=True))
    per_department = scope.group_by == "department" or bool(scope.department)
    # A department's penalties are the visits where its own penalty finding was approved: a joint visit
    # where only the market department's penalty stands is no penalty of health's.
    penalty = (exists().where(InspectionFinding.inspection_id == Inspection.id,
                              InspectionFinding.department == InspectionDepartment.department,
                              InspectionFinding.result == "penalty", InspectionFinding.review == "approved")
               if per_department else Inspection.penalty_approved_at.is_not(None))
    statement = (select(func.count(), _count_if(penalty))
                 .select_from(Inspection)
                 .where(Inspection.inspected_on >= scope.date_from, Inspection.inspected_on <= scope.date_to))
    if scope.group_by in ("street", "category") or scope.street:
        statement = statement.join(Institution, Institution.id == Inspection.institution_id)
    if per_department:
        statement = statement.join(InspectionDepartment, InspectionDepartment.inspection_id == Inspection.id)
    if scope.department:
        statement = statement.where(InspectionDepartment.department == scope.department)
    statement = statement.where(*_street(scope))
    return _fetch(session, _by(statement, key), INSPECTION_MEASURES, grouped=key is not None)


def _plan_years(session: SessionLike, scope: Scope) -> list[InspectionPlan]:
    """The plans of the period's years (of the department asked for): a few a year."""
    statement = select(InspectionPlan).where(InspectionPlan.year.between(scope.date_from.year, scope.date_to.year))
    if scope.department:
        statement = statement.where(InspectionPlan.id.in_(
            select(PlanDepartment.plan_id).where(PlanDepartment.department == scope.department)))
    return list(session.scalars(statement.order_by(InspectionPlan.id)))


def _plan_completion(session: SessionLike, scope: Scope, plans: Sequence[InspectionPlan]) -> dict[Key, Row]:
    """Pairs of (plan, institution it covers now) and those inspected under the plan by the end of
    the period (supervision.plans: 完成), by the plan's departments, the institution's street or
    category; per month, as at the end of each month (the pairs of that year's plans)."""
    if not plans:
        return {}
    pairs = [select(literal(plan.id).label("plan_id"), literal(plan.year).label("year"),
                    Institution.id.label("institution_id"), Institution.street.label("street"),
                    Institution.category.label("category"))
             .where(*in_scope(categories=plan.categories, streets=plan.streets), *_street(scope)) for plan in plans]
    pair = (pairs[0] if len(pairs) == 1 else union_all(*pairs)).subquery("pairs")
    first = (select(Inspection.plan_id, Inspection.institution_id, func.min(Inspection.inspected_on).label("on"))
             .where(Inspection.plan_id.in_([plan.id for plan in plans]), Inspection.inspected_on <= scope.date_to)
             .group_by(Inspection.plan_id, Inspection.institution_id).subquery("first"))
    statement = (select(func.count(), func.count(first.c.on)).select_from(pair)
                 .outerjoin(first, and_(first.c.plan_id == pair.c.plan_id,
                                        first.c.institution_id == pair.c.institution_id)))
    if scope.group_by == "department" or scope.department:
        statement = statement.join(PlanDepartment, PlanDepartment.plan_id == pair.c.plan_id)
    if scope.department:
        statement = statement.where(PlanDepartment.department == scope.department)
    if scope.group_by == "month":
        return _completion_by_month(session, scope, statement, first.c.on, pair.c.year)
    key = {"department": PlanDepartment.department, "street": pair.c.street,
           "category": pair.c.category}.get(scope.group_by or "")
    return _fetch(session, _by(statement, key), PLAN_MEASURES, grouped=key is not None)


def _completion_by_month(session: SessionLike, scope: Scope, statement: Select, first_on, year) -> dict[Key, Row]:
    """Completion at the end of each month of the period: the pairs of that year's plans, and those
    first inspected by then (a running sum over the few (year, month) rows)."""
    month = _month_of_date(scope, first_on)
    counts: dict[tuple[int, Key], int] = {}
    pairs_of_year: dict[int, int] = {}
    for pairs, inspected, plan_year, first_month in session.execute(
            statement.add_columns(year, month).group_by(year, month)):
        pairs_of_year[plan_year] = pairs_of_year.get(plan_year, 0) + int(pairs)
        if first_month is not None:
            counts[(plan_year, first_month)] = int(inspected)
    result: dict[Key, Row] = {}
    for key in months_between(scope.date_from, scope.date_to):
        assert key is not None
        key_year = int(key[:4])
        done = sum(n for (plan_year, first_month), n in counts.items()
                   if plan_year == key_year and first_month is not None and first_month <= key)
        result[key] = {"pairs": pairs_of_year.get(key_year, 0), "inspected": done}
    return result


# ---- credit and lists: the current state --------------------------------------------------------------

def _credit(session: SessionLike, scope: Scope) -> Part:
    """Active institutions by their credit grade now."""

    def build(scope: Scope) -> Select:
        statement = (select(*[_count_if(Institution.credit_grade == grade) for grade in GRADES])
                     .where(Institution.status == "active", *_street(scope)))
        return _by(statement, _institution_key(scope))

    return _institution_part(session, scope, build, GRADES, dict, per_month=False)


def _lists(session: SessionLike, scope: Scope) -> Part:
    """Active institutions on the red, black and key supervision lists now (as `credit` counts them)."""

    def build(scope: Scope) -> Select:
        statement = (select(*[_count_if(ListEntry.list == name) for name in LISTS])
                     .select_from(ListEntry).join(Institution, Institution.id == ListEntry.institution_id)
                     .where(ListEntry.removed_at.is_(None), Institution.status == "active", *_street(scope)))
        return _by(statement, _institution_key(scope))

    return _institution_part(session, scope, build, LISTS, dict, per_month=False)

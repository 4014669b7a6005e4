"""Set-based credit recomputation: a fixed number of aggregate queries whatever the number of
institutions, `grades.compute()` per row in Python, then one bulk UPDATE and one bulk INSERT of
history for the rows that changed. Used for one institution after an event and for all of them
(`flask recompute-credit`, daily, and bench/credit.py).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, and_, exists, func, insert, or_, select, update

from api import policy
from api.database import SHANGHAI, SessionLike, lock_rows, today_shanghai, utcnow
from api.policy import Policy
from complaints.models import Complaint
from leads.models import Lead
from leads.service import HIGH_PRIORITY
from registry.models import Institution, Staff
from selfcheck.models import Commitment, Rectification, SelfCheck, SelfCheckAnswer
from supervision import grades
from supervision.models import CreditRecord, Inspection, ListDecision, ListEntry, Violation


def final_clause(now: dt.datetime) -> ColumnElement[bool]:
    """A violation counts when upheld, or when still pending after its objection window ended."""
    return or_(Violation.status == "upheld",
               and_(Violation.status == "pending", Violation.objection_due_at < now))


def _by_institution(session: SessionLike, statement, ids) -> dict:
    if ids is not None:
        statement = statement.where(statement.selected_columns[0].in_(ids))
    return {row[0]: row[1] for row in session.execute(statement)}


def recompute(*, session: SessionLike, institution_ids: list[int] | None = None, today: dt.date | None = None,
              now: dt.datetime | None = None, reason: str = "recomputed") -> int:
    """Recompute institutions' (and their staff's) credit; returns how many institutions changed.

    The institutions are locked first (api.database.lock_rows): two recomputations of one institution
    (two scans of a stale code, the daily job and a violation being recorded) then run one after the
    other, and the second reads what the first wrote instead of writing its own copy over it (a
    second history row, a list entry opened twice)."""
    lock_rows(session, Institution, institution_ids)
    today = today or today_shanghai()
    now = now or utcnow()
    year = today.year
    start = dt.date(year, 1, 1)
    cycle_start = grades.cycle_start(year)
    previous_start = grades.cycle_start(year - 1)
    final = final_clause(now)
    under = policy.in_force(today)

    points = _by_institution(session, select(Violation.institution_id, func.sum(Violation.points))
                             .where(Violation.subject_type == "institution", Violation.occurred_on >= start, final)
                             .group_by(Violation.institution_id), institution_ids)
    next_final = _by_institution(session, select(Violation.institution_id, func.min(Violation.objection_due_at))
                                 .where(Violation.status == "pending", Violation.objection_due_at >= now)
                                 .group_by(Violation.institution_id), institution_ids)
    in_force = _by_institution(session, select(Commitment.institution_id, func.max(Commitment.valid_to))
                               .where(Commitment.status == "active", Commitment.valid_from <= today,
                                      Commitment.valid_to >= today)
                               .group_by(Commitment.institution_id), institution_ids)
    breached = _by_institution(session, select(Commitment.institution_id, func.count())
                               .where(Commitment.breached_at >= cycle_start)
                               .group_by(Commitment.institution_id), institution_ids)
    black = _by_institution(session, select(ListDecision.institution_id, func.max(ListDecision.reason))
                            .where(ListDecision.list == "black", ListDecision.lifted_at.is_(None))
                            .group_by(ListDecision.institution_id), institution_ids)
    leads = _by_institution(session, select(Lead.institution_id, func.max(Lead.score))
                            .where(Lead.status == "open", Lead.institution_id.is_not(None))
                            .group_by(Lead.institution_id), institution_ids)
    since = grades.years_before(today, under.mode_lookback_years)  # the record the mode follows
    in_window = _rows_by_institution(session, select(
        Violation.institution_id, func.max(Violation.points), func.min(Violation.occurred_on))
        .where(Violation.subject_type == "institution", Violation.occurred_on >= since, final)
        .group_by(Violation.institution_id), institution_ids)
    penalties = _by_institution(session, select(Inspection.institution_id, func.min(Inspection.inspected_on))
                                .where(Inspection.result == "penalty", Inspection.inspected_on >= since)
                                .group_by(Inspection.institution_id), institution_ids)
    latest_inspection = _by_institution(session, select(Inspection.institution_id, Inspection.result).where(
        Inspection.id.in_(select(func.max(Inspection.id)).group_by(Inspection.institution_id))), institution_ids)
    open_items = _by_institution(session, select(SelfCheck.institution_id, func.count())
                                 .join(SelfCheckAnswer, SelfCheckAnswer.selfcheck_id == SelfCheck.id)
                                 .where(SelfCheckAnswer.result == "non_compliant", SelfCheck.status != "returned",
                                        ~exists().where(Rectification.answer_id == SelfCheckAnswer.id))
                                 .group_by(SelfCheck.institution_id), institution_ids)
    substantiated = _by_institution(session, select(Complaint.institution_id, func.count())
                                    .where(Complaint.finding.in_(("substantiated", "partly_substantiated")),
                                           Complaint.submitted_at >= previous_start)
                                    .group_by(Complaint.institution_id), institution_ids)
    last_before_cycle = (select(CreditRecord.institution_id, func.max(CreditRecord.id).label("id"))
                         .where(CreditRecord.computed_at < cycle_start).group_by(CreditRecord.institution_id))
    if institution_ids is not None:
        last_before_cycle = last_before_cycle.where(CreditRecord.institution_id.in_(institution_ids))
    last_record = last_before_cycle.subquery()
    previous_grade = dict(session.execute(
        select(CreditRecord.institution_id, CreditRecord.grade).join(last_record,
                                                                     CreditRecord.id == last_record.c.id)).all())
    institutions = select(Institution.id, Institution.category, Institution.remote_monitoring,
                          Institution.credit_points, Institution.credit_grade, Institution.credit_band,
                          Institution.credit_risk, Institution.credit_lists, Institution.commitment_valid_to,
                          Institution.credit_stale_after, Institution.credit_record, Institution.credit_graded_risk)
    if institution_ids is not None:
        institutions = institutions.where(Institution.id.in_(institution_ids))

    updates, history, opened, closed = [], [], [], []
    for row in session.execute(institutions):
        valid_to = in_force.get(row.id)
        record, leaves_window = _record(in_window.get(row.id), penalties.get(row.id), under)
        result = grades.compute(grades.CreditInputs(
            points=int(points.get(row.id) or 0), commitment_in_force=valid_to is not None,
            breached=bool(breached.get(row.id)), black_decision=black.get(row.id),
            open_lead=row.id in leads, high_lead=(leads.get(row.id) or 0) >= HIGH_PRIORITY,
            previous_grade=previous_grade.get(row.id), substantiated_complaints=int(substantiated.get(row.id) or 0),
            category=row.category, remote_monitoring=row.remote_monitoring, record=record,
            latest_inspection=latest_inspection.get(row.id), open_items=int(open_items.get(row.id) or 0),
        ), under)
        stale_after = _stale_after(next_final.get(row.id), valid_to, leaves_window)
        values = {"credit_points": result.points, "credit_grade": result.grade, "credit_band": result.band,
                  "credit_risk": result.risk, "credit_lists": list(result.lists), "commitment_valid_to": valid_to,
                  "credit_stale_after": stale_after, "credit_record": result.record,
                  "credit_graded_risk": result.graded_risk}
        stored = {"credit_points": row.credit_points, "credit_grade": row.credit_grade, "credit_band": row.credit_band,
                  "credit_risk": row.credit_risk, "credit_lists": list(row.credit_lists or []),
                  "commitment_valid_to": row.commitment_valid_to, "credit_stale_after": row.credit_stale_after,
                  "credit_record": row.credit_record, "credit_graded_risk": row.credit_graded_risk}
        if values == stored:
            continue
        updates.append({"id": row.id, **values})
        if (result.grade, result.points, result.band, list(result.lists)) != (
                row.credit_grade, row.credit_points, row.credit_band, list(row.credit_lists or [])) \
                or result.risk != row.credit_risk:
            history.append({"institution_id": row.id, "computed_at": now, "cycle": year, "points": result.points,
                            "grade": result.grade, "band": result.band, "risk": result.risk,
                            "lists": list(result.lists), "reason": reason[:100],
                            "policy_version": under.version})
        before = set(row.credit_lists or [])
        for name in set(result.lists) - before:
            opened.append({"institution_id": row.id, "list": name, "reason": result.list_reasons[name][:300],
                           "listed_at": now})
        for name in before - set(result.lists):
            closed.append((row.id, name))
    if updates:
        session.execute(update(Institution), updates)
    if history:
        # render_nulls: one executemany, not a new statement each time a row's NULL columns differ
        session.execute(insert(CreditRecord).execution_options(render_nulls=True), history)
    for name in ("red", "black"):  # one statement per list, however many leave it
        leaving = [institution_id for institution_id, list_name in closed if list_name == name]
        if leaving:
            session.execute(update(ListEntry).where(ListEntry.institution_id.in_(leaving), ListEntry.list == name,
                                                    ListEntry.removed_at.is_(None)).values(removed_at=now))
    if opened:
        session.execute(insert(ListEntry), opened)
    _recompute_staff(session, institution_ids, start, final, under)
    session.flush()
    return len(updates)


def refresh_stale(*, session: SessionLike, now: dt.datetime | None = None) -> int:
    """Recompute the institutions whose inputs changed with time since their snapshot (a pending
    violation became final, a commitment lapsed): readers of many institutions at once (the public
    lists, a draw, exports) call this first, so none of them needs the daily job to be right."""
    now = now or utcnow()
    stale = list(session.scalars(select(Institution.id).where(Institution.credit_stale_after <= now)))
    if not stale:
        return 0
    return recompute(session=session, institution_ids=stale, now=now, reason="input changed with time")


def _rows_by_institution(session: SessionLike, statement, ids) -> dict:
    """As _by_institution, with the rest of each row as a tuple."""
    if ids is not None:
        statement = statement.where(statement.selected_columns[0].in_(ids))
    return {row[0]: tuple(row[1:]) for row in session.execute(statement)}


def _record(violations: tuple | None, first_penalty: dt.date | None, under: Policy) -> tuple[str | None, dt.date | None]:
    """The institution's record over the look-back window (grades.SERIOUS: a final violation of the
    policy's serious points or a penalty; MINOR: another final violation; None: clean), and the day the
    first of those leaves the window (when the mode may change by itself)."""
    firsts = [day for day in (violations[1] if violations else None, first_penalty) if day is not None]
    if not firsts:
        return None, None
    serious = first_penalty is not None or (violations is not None and violations[0] >= under.serious_violation_points)
    leaves = grades.years_after(min(firsts), under.mode_lookback_years) + dt.timedelta(days=1)
    return (grades.SERIOUS if serious else grades.MINOR), leaves


def _stale_after(next_final: dt.datetime | None, commitment_valid_to: dt.date | None,
                 leaves_window: dt.date | None = None) -> dt.datetime | None:
    """The next moment the inputs change by themselves: a pending violation becoming final, the
    commitment in force ending (the day after its last day, Beijing time), or a violation or penalty
    leaving the look-back window."""
    moments = [next_final] if next_final is not None else []
    for day in (commitment_valid_to + dt.timedelta(days=1) if commitment_valid_to else None, leaves_window):
        if day is not None:
            moments.append(dt.datetime.combine(day, dt.time.min, tzinfo=SHANGHAI))
    return min(moments) if moments else None


def _recompute_staff(session: SessionLike, institution_ids, start: dt.date, final, under: Policy) -> None:
    """Staff points and grade (the same bands; staff sign no commitment, so 0 points is B)."""
    points = select(Violation.staff_id, func.sum(Violation.points).label("points")).where(
        Violation.subject_type == "staff", Violation.occurred_on >= start, final).group_by(Violation.staff_id)
    if institution_ids is not None:
        points = points.where(Violation.institution_id.in_(institution_ids))
    totals = dict(session.execute(points).all())
    staff = select(Staff.id, Staff.credit_points)
    if institution_ids is not None:
        staff = staff.where(Staff.institution_id.in_(institution_ids))
    changes = []
    for staff_id, stored in session.execute(staff):
        total = int(totals.get(staff_id) or 0)
        if total != stored:
            changes.append({"id": staff_id, "credit_points": total, "credit_grade": grades.grade_for(points=total, under=under)})
    if changes:
        session.execute(update(Staff), changes)

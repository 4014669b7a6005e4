"""Set-based credit recomputation: a fixed number of aggregate queries whatever the number of
institutions, `grades.compute()` per row in Python, then one bulk UPDATE and one bulk INSERT of
history for the rows that changed. Used for one institution after an event and for all of them
(`flask recompute-credit`, daily, and bench/credit.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import ColumnElement, and_, exists, extract, func, insert, or_, select, update

from api import changes, policy
from api.database import SHANGHAI, SessionLike, lock_rows, today_shanghai, utcnow
from api.policy import Policy
from complaints.models import Complaint
from leads.models import Lead
from leads.service import HIGH_PRIORITY
from registry.models import Institution, Staff
from registry.ready_profiles import mark_stale
from selfcheck.models import Commitment, Rectification, SelfCheck, SelfCheckAnswer
from supervision import grades
from supervision.models import CreditRecord, Inspection, ListDecision, ListEntry, Violation

PROGRESS_EVERY = 500  # institutions between two reports to a progress bar


def final_clause(now: dt.datetime) -> ColumnElement[bool]:
    """A violation counts when upheld, or when still pending after its objection window ended."""
    return or_(Violation.status == "upheld",
               and_(Violation.status == "pending", Violation.objection_due_at < now))


def _by_institution(session: SessionLike, statement, ids) -> dict:
    if ids is not None:
        statement = statement.where(statement.selected_columns[0].in_(ids))
    return {row[0]: row[1] for row in session.execute(statement)}


def recompute(*, session: SessionLike, institution_ids: list[int] | None = None, today: dt.date | None = None,
              now: dt.datetime | None = None, reason: str = "recomputed",
              progress: Callable[[int, int], None] | None = None) -> int:
    """Recompute institutions' (and their staff's) credit; returns how many institutions changed.
    `progress(done, total)` hears every PROGRESS_EVERY institutions (a command's progress bar).

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
    turns = _turns(today)

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
    decisions = select(ListDecision.institution_id, ListDecision.reason, ListDecision.ends_at).where(
        ListDecision.list == "black", ListDecision.lifted_at.is_(None), ListDecision.ends_at > now)
    entries = select(ListEntry.institution_id, ListEntry.list, ListEntry.listed_at, ListEntry.ends_at).where(
        ListEntry.removed_at.is_(None), ListEntry.list.in_(("black", "key")))
    if institution_ids is not None:
        decisions = decisions.where(ListDecision.institution_id.in_(institution_ids))
        entries = entries.where(ListEntry.institution_id.in_(institution_ids))
    black = {row.institution_id: row for row in session.execute(decisions.order_by(ListDecision.decided_at))}
    open_black, open_key = {}, set()
    for listed in session.execute(entries):
        if listed.list == "black":
            open_black[listed.institution_id] = listed
        else:
            open_key.add(listed.institution_id)
    held_over = _held_over_points(session, open_black, now, year)
    leads = _by_institution(session, select(Lead.institution_id, func.max(Lead.score))
                            .where(Lead.status == "open", Lead.institution_id.is_not(None))
                            .group_by(Lead.institution_id), institution_ids)
    since = grades.years_before(today, under.mode_lookback_years)  # the record the mode follows
    in_window = _rows_by_institution(session, select(
        Violation.institution_id, func.max(Violation.points), func.min(Violation.occurred_on))
        .where(Violation.subject_type == "institution", Violation.occurred_on >= since, final)
        .group_by(Violation.institution_id), institution_ids)
    penalties = _by_institution(session, select(Inspection.institution_id, func.min(Inspection.inspected_on))
                                .where(Inspection.penalty_approved_at.is_not(None), Inspection.inspected_on >= since)
                                .group_by(Inspection.institution_id), institution_ids)
    numbered_inspections = select(Inspection.institution_id, Inspection.settled_result.label("result"),
                                  func.row_number().over(partition_by=Inspection.institution_id,
                                                         order_by=(Inspection.inspected_on.desc(), Inspection.id.desc()))
                                  .label("n")).where(Inspection.settled_result.is_not(None))  # not one awaiting review
    if institution_ids is not None:  # numbered within these institutions only, not the whole city
        numbered_inspections = numbered_inspections.where(Inspection.institution_id.in_(institution_ids))
    latest = numbered_inspections.subquery()
    latest_inspection = _by_institution(session, select(latest.c.institution_id, latest.c.result)
                                        .where(latest.c.n == 1), institution_ids)
    numbered_filings = select(SelfCheck.id, SelfCheck.institution_id, func.row_number().over(
        partition_by=SelfCheck.institution_id, order_by=(SelfCheck.submitted_at.desc(), SelfCheck.id.desc()))
        .label("n")).where(SelfCheck.status != "returned")
    if institution_ids is not None:
        numbered_filings = numbered_filings.where(SelfCheck.institution_id.in_(institution_ids))
    filings = numbered_filings.subquery()
    open_items = _by_institution(session, select(filings.c.institution_id, func.count())  # of the latest filing
                                 .join(SelfCheckAnswer, SelfCheckAnswer.selfcheck_id == filings.c.id)
                                 .where(filings.c.n == 1, SelfCheckAnswer.result == "non_compliant",
                                        ~exists().where(Rectification.answer_id == SelfCheckAnswer.id))
                                 .group_by(filings.c.institution_id), institution_ids)
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
    shown_changed: list[int] = []  # institutions whose credit itself changed (the changes feed)
    total = session.scalar(select(func.count()).select_from(institutions.subquery())) if progress else 0
    for done, row in enumerate(session.execute(institutions), start=1):
        if progress is not None and done % PROGRESS_EVERY == 0:
            progress(done, total or 0)
        valid_to = in_force.get(row.id)
        record, leaves_window = _record(in_window.get(row.id), penalties.get(row.id), under)
        decision, entry = black.get(row.id), open_black.get(row.id)
        listed_cycle, listed_points = held_over.get(row.id, (None, 0))
        result = grades.compute(grades.CreditInputs(
            points=int(points.get(row.id) or 0), commitment_in_force=valid_to is not None,
            breached=bool(breached.get(row.id)), black_decision=decision.reason if decision else None,
            listed_points=listed_points, listed_cycle=listed_cycle,
            open_lead=row.id in leads, high_lead=(leads.get(row.id) or 0) >= HIGH_PRIORITY,
            previous_grade=previous_grade.get(row.id), substantiated_complaints=int(substantiated.get(row.id) or 0),
            category=row.category, remote_monitoring=row.remote_monitoring, record=record,
            latest_inspection=latest_inspection.get(row.id), open_items=int(open_items.get(row.id) or 0),
        ), under)
        before, after = set(row.credit_lists or []), set(result.lists)
        black_ends = entry.ends_at if entry is not None and "black" in after else None
        if black_ends is not None and black_ends <= now:  # the term ended, the grounds stand: listed anew
            closed.append((row.id, "black"))
            before.discard("black")
        for name in before - after:
            closed.append((row.id, name))
        for name in after - before:
            black_ends = grades.black_list_ends(now) if name == "black" else black_ends
            opened.append(_entry(row.id, name, result, now, black_ends if name == "black" else None))
        if "key" in result.list_reasons and row.id not in open_key:
            opened.append(_entry(row.id, "key", result, now, None))
        elif "key" not in result.list_reasons and row.id in open_key:
            closed.append((row.id, "key"))
        stale_after = _stale_after(next_final.get(row.id), valid_to, black_ends,
                                   decision.ends_at if decision else None, leaves_window, *turns)
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
        if {k: v for k, v in values.items() if k != "credit_stale_after"} != {
                k: v for k, v in stored.items() if k != "credit_stale_after"}:
            shown_changed.append(row.id)
        if (result.grade, result.points, result.band, list(result.lists)) != (
                row.credit_grade, row.credit_points, row.credit_band, list(row.credit_lists or [])) \
                or result.risk != row.credit_risk:
            history.append({"institution_id": row.id, "computed_at": now, "cycle": year, "points": result.points,
                            "grade": result.grade, "band": result.band, "risk": result.risk,
                            "lists": list(result.lists), "reason": reason[:100],
                            "policy_version": under.version})
    if updates:
        session.execute(update(Institution), updates)
        mark_stale(session, (row["id"] for row in updates))  # their profiles: written once, at commit
        changes.record(session, "credit", shown_changed, at=now)  # the feed: not when only the stale moment moved
    if history:
        # render_nulls: one executemany, not a new statement each time a row's NULL columns differ
        session.execute(insert(CreditRecord).execution_options(render_nulls=True), history)
    for name in ("red", "black", "key"):  # one statement per list, however many leave it
        leaving = [institution_id for institution_id, list_name in closed if list_name == name]
        if leaving:
            left = session.scalars(update(ListEntry).where(ListEntry.institution_id.in_(leaving), ListEntry.list == name,
                                                           ListEntry.removed_at.is_(None)).values(removed_at=now)
                                   .returning(ListEntry.id).execution_options(synchronize_session=False))
            changes.record(session, "list", list(left), op="delete", at=now)
    if opened:
        session.execute(insert(ListEntry).execution_options(render_nulls=True), opened)
        # Their ids for the feed by one SELECT: RETURNING would split the executemany into a statement per
        # thousand rows. `now` is this recomputation's own instant, so it names exactly the rows it opened.
        entered = session.scalars(select(ListEntry.id).where(ListEntry.listed_at == now, ListEntry.removed_at.is_(None)))
        changes.record(session, "list", list(entered), at=now)
    _recompute_staff(session, institution_ids, start, final, under)
    session.flush()
    if progress is not None:
        progress(total or 0, total or 0)
    return len(updates)


def clean_snapshot(*, category: str, today: dt.date | None = None) -> dict:
    """The credit columns of a new institution (no points, no record), as recompute() would store them."""
    today = today or today_shanghai()
    under = policy.in_force(today)
    clean = grades.compute(grades.CreditInputs(category=category), under)
    return {"credit_grade": clean.grade, "credit_graded_risk": clean.graded_risk, "credit_band": clean.band,
            "credit_stale_after": _stale_after(None, None, *_turns(today))}


def _turns(today: dt.date) -> list[dt.datetime]:
    """Moments every snapshot changes at by itself: the next policy version takes effect, the next cycle."""
    next_policy = policy.book().next_change(today)
    return [dt.datetime.combine(day, dt.time.min, tzinfo=SHANGHAI)
            for day in (next_policy, dt.date(today.year + 1, 1, 1)) if day is not None]


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


def _record(violations: tuple | None, first_penalty: dt.date | None,
            under: Policy) -> tuple[str | None, dt.datetime | None]:
    """The institution's record over the look-back window (grades.SERIOUS: a final violation of the
    policy's serious points or a penalty; MINOR: another final violation; None: clean), and the day the
    first of those leaves the window (when the mode may change by itself)."""
    firsts = [day for day in (violations[1] if violations else None, first_penalty) if day is not None]
    if not firsts:
        return None, None
    serious = first_penalty is not None or (violations is not None and violations[0] >= under.serious_violation_points)
    first, years = min(firsts), under.mode_lookback_years
    leaves = grades.years_after(first, years) + dt.timedelta(days=1)
    while grades.years_before(leaves, years) <= first:  # 29 February looks back to 28 February
        leaves += dt.timedelta(days=1)
    return (grades.SERIOUS if serious else grades.MINOR), dt.datetime.combine(leaves, dt.time.min, tzinfo=SHANGHAI)


def _entry(institution_id: int, name: str, result: grades.Computed, now: dt.datetime,
           ends_at: dt.datetime | None) -> dict:
    return {"institution_id": institution_id, "list": name, "reason": result.list_reasons[name][:300],
            "listed_at": now, "ends_at": ends_at}


def _held_over_points(session: SessionLike, open_black: dict, now: dt.datetime, year: int) -> dict:
    """For the black listings still in their term that began in an earlier cycle: (that cycle, its final
    points now). The listing outlives its cycle while those points stand (a violation set aside ends it
    with its grounds). One query, whatever the number of institutions."""
    wanted = {institution_id: entry.listed_at.astimezone(SHANGHAI).year for institution_id, entry in open_black.items()
              if entry.ends_at is not None and entry.ends_at > now
              and entry.listed_at.astimezone(SHANGHAI).year < year}
    if not wanted:
        return {}
    cycle = extract("year", Violation.occurred_on)
    totals = session.execute(
        select(Violation.institution_id, cycle, func.sum(Violation.points))
        .where(Violation.subject_type == "institution", Violation.institution_id.in_(list(wanted)),
               Violation.occurred_on >= dt.date(min(wanted.values()), 1, 1), Violation.occurred_on < dt.date(year, 1, 1),
               final_clause(now))
        .group_by(Violation.institution_id, cycle))
    found = {(institution_id, int(in_cycle)): int(total) for institution_id, in_cycle, total in totals}
    return {institution_id: (in_cycle, found.get((institution_id, in_cycle), 0))
            for institution_id, in_cycle in wanted.items()}


def _stale_after(next_final: dt.datetime | None, commitment_valid_to: dt.date | None,
                 *term_ends: dt.datetime | None) -> dt.datetime | None:
    """The next moment the inputs change by themselves: a pending violation becoming final, the
    commitment in force ending (the day after its last day, Beijing time), the term of a black
    listing or of a black-list decision ending, or a violation or penalty leaving the look-back window."""
    moments = [moment for moment in (next_final, *term_ends) if moment is not None]
    if commitment_valid_to is not None:
        moments.append(dt.datetime.combine(commitment_valid_to + dt.timedelta(days=1), dt.time.min, tzinfo=SHANGHAI))
    return min(moments) if moments else None


def _recompute_staff(session: SessionLike, institution_ids, start: dt.date, final, under: Policy) -> None:
    """Staff points and grade (the same bands; staff sign no commitment, so 0 points is B)."""
    points = select(Violation.staff_id, func.sum(Violation.points).label("points")).where(
        Violation.subject_type == "staff", Violation.occurred_on >= start, final).group_by(Violation.staff_id)
    if institution_ids is not None:
        points = points.where(Violation.institution_id.in_(institution_ids))
    totals = dict(session.execute(points).all())
    staff = select(Staff.id, Staff.credit_points, Staff.institution_id)
    if institution_ids is not None:
        staff = staff.where(Staff.institution_id.in_(institution_ids))
    changed: list[dict] = []
    their_institutions = set()
    for staff_id, stored, institution_id in session.execute(staff):
        total = int(totals.get(staff_id) or 0)
        if total != stored:
            changed.append({"id": staff_id, "credit_points": total, "credit_grade": grades.grade_for(points=total, under=under)})
            their_institutions.add(institution_id)
    if changed:
        session.execute(update(Staff), changed)
        mark_stale(session, their_institutions)
        changes.record(session, "staff", [change["id"] for change in changed])

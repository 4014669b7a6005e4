"""Adding reasons to inspection leads (线索): why an institution should be inspected, scored in one place.

Every source (complaint intake, self-checks, commitment breaches) calls `add_reasons()` with reasons of a
kind listed in WEIGHTS, or rides `add_reason_cte()` along in its own statement (complaints.intake).
`score()` is the one scoring function. Listing, closing and dismissing leads is supervision's
(supervision.leads), which sits above the packages that write here.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence

from sqlalchemy import ColumnClause, bindparam, case, func, insert, literal_column, select, update

from api.database import SessionLike, lock_row, upsert_insert, utcnow
from leads.models import LEAD_REASON_KINDS, Lead, LeadReason
from registry.credit_snapshot import mark_credit_stale
from registry.models import Institution

# Points per reason of each kind; a lead's score is their sum, capped at 100.
WEIGHTS = {
    "complaint": 10,  # one complaint about the institution (a lead opens at 3 within 30 days)
    "serious_complaint": 40,  # a complaint in a serious category (illegal practice, fraud, violence...)
    "veto_item": 50,  # self-check: a non-compliant veto (一票否决) item
    "rectification_overdue": 20,
    "missed_selfcheck": 20,
    "commitment_breach": 30,
    "expired_licence_scanned": 30,
}
MAX_SCORE = 100
HIGH_PRIORITY = 40  # at or above: drawn into every random inspection, listed first
assert set(WEIGHTS) == set(LEAD_REASON_KINDS) and min(WEIGHTS.values()) >= 0  # rescore() needs both
assert max(WEIGHTS.values()) <= MAX_SCORE - HIGH_PRIORITY  # so _score_before() knows the priority

KIND_NAMES = {
    "complaint": "投诉",
    "serious_complaint": "严重类别投诉",
    "veto_item": "自查一票否决项不符合",
    "rectification_overdue": "整改逾期",
    "missed_selfcheck": "未按期自查",
    "commitment_breach": "违背信用承诺",
    "expired_licence_scanned": "执业许可证过期仍在执业",
}


def score(reasons: list[dict]) -> int:
    return min(MAX_SCORE, sum(WEIGHTS[reason["kind"]] for reason in reasons))


def rescore(current: int, added_kinds: Sequence[str]) -> int:
    """score() after adding reasons of `added_kinds` to reasons that scored `current`: the same number,
    since no weight is negative (min(C, a + b) = min(C, min(C, a) + b) for b >= 0), with no need to
    read the reasons already there."""
    return min(MAX_SCORE, current + sum(WEIGHTS[kind] for kind in added_kinds))


def reason(kind: str, detail: str, at: dt.datetime, ref: str | None = None) -> dict:
    if kind not in WEIGHTS:
        raise ValueError(f"unknown lead reason {kind!r}")
    return {"kind": kind, "detail": detail, "at": at, "ref": ref}


# add_reasons() runs on every complaint: its statements are built once (see complaints.intake).
_leads, _lead_reasons = Lead.__table__, LeadReason.__table__
_OPEN_LEAD = select(_leads.c.id, _leads.c.score).where(
    _leads.c.institution_id == bindparam("institution_id"), _leads.c.status == "open")
_OPEN_A_LEAD = insert(_leads).returning(_leads.c.id)
_SET_SCORE = update(_leads).where(_leads.c.id == bindparam("lead_id")).values(score=bindparam("score"))


# rescore() of one reason, in SQL. (Constants are inlined: bound ones go missing from a statement
# cached with this as a nested CTE, see complaints.intake.)
_cap: ColumnClause[int] = literal_column(str(MAX_SCORE))
_plus_points = case((_leads.c.score + bindparam("points") > _cap, _cap), else_=_leads.c.score + bindparam("points"))
_ADD_POINTS = update(_leads).where(_leads.c.id == bindparam("lead_id")).values(score=_plus_points) \
    .returning(_leads.c.score)


def _reason_onto_open_lead(dialect: str, institution_id):
    """One reason onto the open lead of `institution_id` (a value, bind or column), if it has one and
    not the reason's ref already; returns the lead's id. (INSERT ... SELECT: finding the lead and adding
    to it are one statement.)

    On PostgreSQL the lead is read FOR UPDATE: a statement that waited (for the institution's lock, in
    complaint intake) reads with the snapshot it started with, and a lead closed meanwhile by an
    inspection or a dismissal would still look open; locking the row re-reads it as it is now."""
    columns = _lead_reasons.c
    lead = select(_leads.c.id, *(bindparam(f"reason_{name}", type_=columns[name].type)
                                 for name in ("kind", "detail", "at", "ref"))).where(
        _leads.c.institution_id == institution_id, _leads.c.status == literal_column("'open'"))
    if dialect == "postgresql":
        lead = lead.with_for_update(of=_leads)
    return (upsert_insert(dialect, _lead_reasons)
            .from_select(["lead_id", "kind", "detail", "at", "ref"], lead)
            .on_conflict_do_nothing().returning(columns.lead_id))


@functools.cache
def _add_reason_statement(dialect: str):
    return _reason_onto_open_lead(dialect, bindparam("for_institution"))


def add_reason_cte(institution_id):
    """PostgreSQL: the score's UPDATE reads the reason's INSERT ... RETURNING (a data-modifying CTE), so
    a reason joins the open lead in one statement, and rides along in another statement as a CTE
    (complaints.intake stores a case with it): (id, score) of the lead, no row if none was open.
    `institution_id` is a value, a bind or a column of another CTE of that statement. Its parameters:
    reason_params()."""
    joined = _reason_onto_open_lead("postgresql", institution_id).cte("joined")
    return update(_leads).where(_leads.c.id == joined.c.lead_id).values(score=_plus_points) \
        .returning(_leads.c.id, _leads.c.score).cte("joined_lead")


_ADD_REASON = add_reason_cte(bindparam("for_institution"))
_ADD_REASON_AND_POINTS = select(_ADD_REASON.c.id, _ADD_REASON.c.score)


def reason_params(reason: dict) -> dict:
    """The parameters of one reason for the statements above. None is named after a column:
    SQLAlchemy would take such a parameter as that column's value in a CTE's INSERT or UPDATE."""
    return {"points": WEIGHTS[reason["kind"]], **{f"reason_{name}": value for name, value in reason.items()}}


def _add_one_reason(connection, institution_id: int, reason: dict) -> tuple[int, int] | None:
    """One reason onto the institution's open lead, if it has one and not the reason's ref already:
    (the lead's id, its new score), else None. One statement on PostgreSQL, two on SQLite."""
    params = {"for_institution": institution_id, **reason_params(reason)}
    if connection.dialect.name == "postgresql":
        return connection.execute(_ADD_REASON_AND_POINTS, params).first()
    lead_id = connection.execute(_add_reason_statement(connection.dialect.name), params).scalar()
    if lead_id is None:
        return None
    return lead_id, connection.execute(_ADD_POINTS, {"lead_id": lead_id, "points": params["points"]}).scalar_one()


def add_reason_if_open(*, session: SessionLike, institution_id: int, reason: dict) -> int | None:
    """add_reasons() of one reason when the institution has an open lead: the lead's id; else None
    and nothing happens."""
    joined = _add_one_reason(session.connection(), institution_id, reason)
    if joined is None:
        return None
    return reason_added(session=session, institution_id=institution_id, kind=reason["kind"],
                        lead_id=joined[0], score=joined[1])


def reason_added(*, session: SessionLike, institution_id: int, kind: str, lead_id: int, score: int) -> int:
    """After a reason of `kind` joined the institution's open lead, which now scores `score`: the
    institution's risk follows if the lead just became high priority. Returns the lead's id."""
    if _priority(_score_before(score, WEIGHTS[kind])) != _priority(score):
        _mark_risk_stale(session, institution_id)
    return lead_id


@functools.cache
def _insert_new_reasons(dialect: str):
    """Insert reasons, skipping those whose ref the lead has; returns the kinds of those inserted."""
    return upsert_insert(dialect, _lead_reasons).on_conflict_do_nothing().returning(_lead_reasons.c.kind)


def add_reasons(*, session: SessionLike, reasons: list[dict], institution_id: int | None = None,
                place_name: str | None = None, place_address: str | None = None) -> int:
    """Add reasons to the institution's open lead, opening one if there is none. Returns the lead's id.

    A reason whose ref the lead already has is not added again. An unlicensed place has no
    institution: each of its reports opens its own lead. Writers to an institution's lead take the
    institution's row lock first (complaint intake already holds it; a self-check filed at the same
    moment as a complaint must not open a second lead or write its score over the complaint's), and
    the partial unique index refuses a second open lead should one not. It is a few statements on
    columns, never a read of the lead's other reasons.
    """
    connection = session.connection()
    if institution_id:
        lock_row(session, Institution, institution_id)
    if institution_id and len(reasons) == 1:  # every complaint about an institution with an open lead
        lead_id = add_reason_if_open(session=session, institution_id=institution_id, reason=reasons[0])
        if lead_id is not None:
            return lead_id
    lead = connection.execute(_OPEN_LEAD, {"institution_id": institution_id}).first() if institution_id else None
    if lead is None:
        lead_id, before = connection.execute(_OPEN_A_LEAD, {
            "institution_id": institution_id, "place_name": place_name, "place_address": place_address,
            "status": "open", "score": 0, "opened_at": utcnow()}).scalar_one(), None
    else:
        lead_id, before = lead
    added = connection.execute(_insert_new_reasons(connection.dialect.name),
                               [{"lead_id": lead_id, **reason} for reason in reasons]).scalars().all()
    after = rescore(before or 0, added)
    if after != before:
        connection.execute(_SET_SCORE, {"lead_id": lead_id, "score": after})
    if _priority(before) != _priority(after):  # risk reads only "a lead is open" and "it is high"
        _mark_risk_stale(session, institution_id)
    return lead_id


def _score_before(after: int, points: int) -> int:
    """The score a lead had before one reason of `points` made it `after`; at the cap, the lowest it
    can have been, which is high priority whatever the reason (checked below WEIGHTS)."""
    return after - points if after < MAX_SCORE else MAX_SCORE - points


def _priority(lead_score: int | None) -> str | None:
    return None if lead_score is None else "high" if lead_score >= HIGH_PRIORITY else "normal"


def _mark_risk_stale(session: SessionLike, institution_id: int | None) -> None:
    """An institution's risk level follows its open lead: its credit is recomputed by the next reader
    (registry.credit_snapshot), which is the same moment for whoever reads it."""
    if institution_id is not None:
        mark_credit_stale(session=session, institution_id=institution_id)


def add_unseen_reasons(*, session: SessionLike, institution_id: int, reasons: list[dict]) -> int | None:
    """add_reasons() for a daily sweep: reasons whose ref any lead of the institution already carries
    (open, inspected or dismissed) are not added again; None if nothing was new. (Read under the
    institution's lock: a lead closed meanwhile has its reasons counted.)"""
    lock_row(session, Institution, institution_id)
    known = set(session.scalars(select(LeadReason.ref).join(Lead).where(
        Lead.institution_id == institution_id, LeadReason.ref.in_([r["ref"] for r in reasons if r["ref"]]))))
    fresh = [r for r in reasons if r["ref"] is None or r["ref"] not in known]
    if not fresh:
        return None
    return add_reasons(session=session, institution_id=institution_id, reasons=fresh)


def last_closed_at(institution_id):
    """When the institution's last lead ended (NULL if none has), as a scalar subquery: complaints
    before it were dealt with by that lead. `institution_id` is a value or a column or bind."""
    return (select(func.max(_leads.c.closed_at))
            .where(_leads.c.institution_id == institution_id, _leads.c.status != "open").scalar_subquery())



"""Inspection leads (线索): why an institution should be inspected, scored in one place.

Every source (complaints now; self-checks, commitment breaches and expired licences later) calls
`add_reasons()` with reasons of a kind listed in WEIGHTS. `score()` is the one scoring function.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import lazyload

from api.database import utcnow
from api.errors import InvalidTransition
from registry.models import Institution
from supervision.models import Lead

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


def reason(kind: str, detail: str, at: dt.datetime, ref: str | None = None) -> dict:
    if kind not in WEIGHTS:
        raise ValueError(f"unknown lead reason {kind!r}")
    return {"kind": kind, "detail": detail, "at": at.isoformat(), **({"ref": ref} if ref else {})}


def open_lead_for(*, session, institution_id: int) -> Lead | None:
    # Adding a reason needs the lead alone: not its institution (joined by default for the list views).
    return session.scalar(select(Lead).where(Lead.institution_id == institution_id, Lead.status == "open")
                          .options(lazyload(Lead.institution)))


def add_reasons(*, session, reasons: list[dict], institution_id: int | None = None,
                place_name: str | None = None, place_address: str | None = None, lead: Lead | None = None) -> Lead:
    """Add reasons to the institution's open lead, opening one if there is none.

    An unlicensed place has no institution: each of its reports opens its own lead. Callers serialise
    per institution (see complaints.service: the institution row is locked first), and the partial
    unique index refuses a second open lead should they not.
    """
    if lead is None and institution_id:
        lead = open_lead_for(session=session, institution_id=institution_id)
    before = (lead is not None, lead is not None and lead.score >= HIGH_PRIORITY)
    if lead is None:
        lead = Lead(institution_id=institution_id, place_name=place_name, place_address=place_address, reasons=[])
        session.add(lead)
    known = {r.get("ref") for r in lead.reasons if r.get("ref")}
    lead.reasons = lead.reasons + [r for r in reasons if not r.get("ref") or r["ref"] not in known]
    lead.score = score(lead.reasons)
    session.flush()
    if before != (True, lead.score >= HIGH_PRIORITY):  # risk reads only "a lead is open" and "it is high"
        _refresh_risk(session, institution_id)
    return lead


def _refresh_risk(session, institution_id: int | None) -> None:
    """An institution's risk level follows its open lead at once."""
    if institution_id is not None:
        from supervision import credit

        credit.recompute(session=session, institution_ids=[institution_id], reason="lead changed")


def add_new_reasons(*, session, institution_id: int, reasons: list[dict]) -> Lead | None:
    """add_reasons() for a daily sweep: reasons whose ref any lead of the institution already carries
    (open, inspected or dismissed) are not added again; None if nothing was new."""
    known = {r.get("ref") for lead_reasons in session.scalars(select(Lead.reasons).where(
        Lead.institution_id == institution_id)) for r in lead_reasons}
    fresh = [r for r in reasons if r.get("ref") not in known]
    if not fresh:
        return None
    return add_reasons(session=session, institution_id=institution_id, reasons=fresh)


def close_open_lead(*, session, institution_id: int, status: str, by_id: int | None, note: str | None) -> Lead | None:
    """End the institution's open lead: `inspected` (an inspection was recorded) or `dismissed`."""
    lead = open_lead_for(session=session, institution_id=institution_id)
    if lead is not None:
        _close(lead, status=status, by_id=by_id, note=note)
    return lead


def dismiss(*, session, lead: Lead, by_id: int, note: str) -> Lead:
    if lead.status != "open":
        raise InvalidTransition("该线索已关闭")
    _close(lead, status="dismissed", by_id=by_id, note=note)
    session.flush()
    _refresh_risk(session, lead.institution_id)
    return lead


def _close(lead: Lead, *, status: str, by_id: int | None, note: str | None) -> None:
    lead.status, lead.closed_at, lead.closed_by_id, lead.close_note = status, utcnow(), by_id, note


def last_closed_at(*, session, institution_id: int) -> dt.datetime | None:
    """When the institution's last lead ended: complaints before it were dealt with by that lead."""
    return session.scalar(
        select(Lead.closed_at).where(Lead.institution_id == institution_id, Lead.status != "open")
        .order_by(Lead.closed_at.desc()).limit(1)
    )


def lead_query(*, status: str | None = "open", institution_id: int | None = None, min_score: int | None = None):
    """One SQL query for a page of leads: highest score first, the institution joined in."""
    statement = select(Lead).order_by(Lead.score.desc(), Lead.opened_at, Lead.id)
    if status:
        statement = statement.where(Lead.status == status)
    if institution_id:
        statement = statement.where(Lead.institution_id == institution_id)
    if min_score is not None:
        statement = statement.where(Lead.score >= min_score)
    return statement


def lead_view(lead: Lead) -> dict:
    institution: Institution | None = lead.institution
    return {
        "id": lead.id,
        "institution_id": lead.institution_id,
        "institution_name": institution.name if institution else lead.place_name,
        "address": institution.address if institution else lead.place_address,
        "unlicensed": institution is None,
        "score": lead.score,
        "priority": "high" if lead.score >= HIGH_PRIORITY else "normal",
        "reasons": [{"kind": r["kind"], "detail": r["detail"], "at": r["at"]} for r in lead.reasons],
        "status": lead.status,
        "opened_at": lead.opened_at,
        "closed_at": lead.closed_at,
        "close_note": lead.close_note,
    }

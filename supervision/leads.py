"""Inspection leads as regulators work them: the list (highest score first), closing a lead when an
inspection is recorded, dismissing one with a note. Reasons are added below, in leads.service."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import lazyload

from api.database import SessionLike, lock_row, utcnow
from api.errors import InvalidTransition
from leads.models import Lead
from leads.service import HIGH_PRIORITY
from registry.models import Institution
from supervision import credit


def open_lead_for(*, session: SessionLike, institution_id: int) -> Lead | None:
    # Closing a lead needs the lead alone: not its institution (joined by default for the list views).
    return session.scalar(select(Lead).where(Lead.institution_id == institution_id, Lead.status == "open")
                          .options(lazyload(Lead.institution)))


def close_open_lead(*, session: SessionLike, institution_id: int, status: str, by_id: int | None, note: str | None) -> Lead | None:
    """End the institution's open lead: `inspected` (an inspection was recorded) or `dismissed`.
    Locks the institution first, as every writer to its lead does (see add_reasons)."""
    lock_row(session, Institution, institution_id)
    lead = open_lead_for(session=session, institution_id=institution_id)
    if lead is not None:
        _close(lead, status=status, by_id=by_id, note=note)
    return lead


def dismiss(*, session: SessionLike, lead: Lead, by_id: int, note: str) -> Lead:
    """Close the lead by a regulator's decision. The institution is locked first, then the lead read
    again: a complaint that holds the institution and is joining the lead finishes first (taken the
    other way round, the two would wait for each other), and a lead closed meanwhile is not closed twice."""
    if lead.institution_id is not None:
        lock_row(session, Institution, lead.institution_id)
        session.refresh(lead)
    if lead.status != "open":
        raise InvalidTransition("该线索已关闭")
    _close(lead, status="dismissed", by_id=by_id, note=note)
    session.flush()
    if lead.institution_id is not None:  # the institution's risk follows its open lead at once
        credit.recompute(session=session, institution_ids=[lead.institution_id], reason="lead dismissed")
    return lead


def _close(lead: Lead, *, status: str, by_id: int | None, note: str | None) -> None:
    lead.status, lead.closed_at, lead.closed_by_id, lead.close_note = status, utcnow(), by_id, note


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
        "reasons": [{"kind": r.kind, "detail": r.detail, "at": r.at} for r in lead.reasons],
        "status": lead.status,
        "opened_at": lead.opened_at,
        "closed_at": lead.closed_at,
        "close_note": lead.close_note,
    }

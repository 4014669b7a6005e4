"""Credit: points, grade, colour, consequence band, supervision mode, risk and lists, derived in one
place (DESIGN.md, "Points, grade, mode").

The rules are in `supervision.grades` (`compute()` turns an institution's inputs into its credit).
`supervision.credit.recompute()` gathers those inputs for many institutions with a handful of set-based queries, stores the result on
the institution rows (the snapshot the scan reads) and appends a history row where anything changed.
What depends on today's date alone (the licence status, a commitment that lapsed overnight) is applied
at read time by `institution_credit()`, so the stored snapshot never shows a stale colour. The read
functions (`institution_credit()`, `staff_credit()`) also recompute a snapshot whose inputs changed
with time (an objection window ended): every endpoint reads credit through them, so all agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import object_session

from api import policy
from api.database import SessionLike, utcnow
from supervision import credit
from supervision.grades import band_for, colour_for, risk_for, supervision_mode

# ---- read time ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Credit:
    grade: str
    points: int
    colour: str
    supervision_mode: str | None
    lists: tuple[str, ...]
    band: str | None = None
    risk_level: str = "low"
    mode_reason: str | None = None
    graded_risk_level: str | None = None  # cosmetic and dental: the quantified risk level (量化分级)

    def public(self) -> dict:
        return {"grade": self.grade, "colour": self.colour, "supervision_mode": self.supervision_mode,
                "lists": list(self.lists)}

    def public_of_institution(self) -> dict:
        """An institution's public credit: with its quantified risk level (null unless cosmetic or dental)."""
        return {**self.public(), "graded_risk_level": self.graded_risk_level}


def commitment_in_force(institution, today) -> bool:
    return institution.commitment_valid_to is not None and today <= institution.commitment_valid_to


def institution_credit(institution, licence_status: str, today) -> Credit:
    """The stored snapshot (recomputed first if it went stale), with what today's date alone changes
    applied: the licence status (colour, risk) and a commitment that lapsed (grade A needs one in force)."""
    bring_up_to_date(institution)
    in_force = commitment_in_force(institution, today)
    grade = institution.credit_grade
    if grade == "A" and not in_force:
        grade = "B"
    lists = tuple(institution.credit_lists or ())
    if grade != "A":
        lists = tuple(name for name in lists if name != "red")
    stored_risk = institution.credit_risk or "low"
    risk = risk_for(grade=grade, lists=lists, open_lead=stored_risk != "low", high_lead=stored_risk == "high",
                    licence_status=licence_status)
    mode, mode_reason = supervision_mode(
        grade=grade, lists=lists, category=institution.category, remote_monitoring=institution.remote_monitoring,
        commitment_in_force=in_force, record=institution.credit_record,
        lookback_years=policy.in_force(today).mode_lookback_years)
    return Credit(
        grade=grade,
        points=institution.credit_points,
        colour=colour_for(grade=grade, lists=lists, licence_status=licence_status),
        supervision_mode=mode,
        lists=lists,
        band=institution.credit_band,
        risk_level=risk,
        mode_reason=mode_reason,
        graded_risk_level=institution.credit_graded_risk,
    )


def staff_credit(staff, institution_licence_status: str) -> Credit:
    """A staff member's own grade (recomputed with its institution's if that went stale); the badge is
    red too when the institution may not practise."""
    bring_up_to_date(staff.institution, staff)
    grade = staff.credit_grade
    return Credit(grade=grade, points=staff.credit_points,
                  colour=colour_for(grade=grade, licence_status=institution_licence_status),
                  supervision_mode=None, lists=(), band=band_for(staff.credit_points))


def refresh_institution_credit(*, session: SessionLike, institution, today=None, reason: str = "recomputed") -> str:
    """Recompute one institution now (after a violation, a breach, a commitment, a list decision)."""
    credit.recompute(session=session, institution_ids=[institution.id], today=today, reason=reason)
    session.refresh(institution)
    return institution.credit_grade


def bring_up_to_date(institution, *also) -> None:
    """Recompute if a stored input has changed by itself since the snapshot (an objection window ended,
    a commitment lapsed), so reading never needs a job to have run; `also` (its staff) are reloaded.
    No query unless stale. Rows not in a session (built by hand) are shown as they are. The route
    commits what was recomputed, or it is recomputed again next time (see credit.refresh_stale for
    readers that filter on the stored columns)."""
    stale_after = getattr(institution, "credit_stale_after", None)
    if stale_after is None or utcnow() < stale_after or (session := object_session(institution)) is None:
        return
    refresh_institution_credit(session=session, institution=institution, reason="input changed with time")
    for instance in also:
        session.refresh(instance)

"""Credit, colour and supervision mode: derived in one place (DESIGN.md, "Points, grade, mode").

Today the inputs are the points total, black-list membership, whether a commitment is in force, and
the licence status; violations, commitments and lists feed these same functions when they land.
"""

from __future__ import annotations

from dataclasses import dataclass

GREEN, YELLOW, RED = "green", "yellow", "red"
COLOUR_HEX = {GREEN: "#1a7f37", YELLOW: "#9a6700", RED: "#cf222e"}
RED_LICENCE_STATUSES = frozenset({"expired", "suspended", "revoked"})
GRADED_CATEGORIES = frozenset({"cosmetic", "dental"})


def grade_for(*, points: int, black_listed: bool = False, commitment_in_force: bool = False,
              breached: bool = False) -> str:
    """A: 0 points, no breach, a commitment in force; B: 1-5 (or 0 without a commitment);
    C: 6-11; D: 12 or more, or on the black list."""
    if black_listed or points >= 12:
        return "D"
    if points >= 6:
        return "C"
    if points == 0 and commitment_in_force and not breached:
        return "A"
    return "B"


def colour_for(*, grade: str, lists: tuple[str, ...] = (), licence_status: str = "valid") -> str:
    """Green for A/B, yellow for C, red for D, the black list, or a licence that cannot be practised on."""
    if grade == "D" or "black" in lists or licence_status in RED_LICENCE_STATUSES:
        return RED
    if grade == "C":
        return YELLOW
    return GREEN


def supervision_mode(*, grade: str, category: str, remote_monitoring: bool, commitment_in_force: bool) -> str:
    """Stationed for D first (it overrides everything); commitment-based for A with a commitment;
    then remote monitoring, then quantified grading for cosmetic and dental; otherwise one-code."""
    if grade == "D":
        return "stationed"
    if grade == "A" and commitment_in_force:
        return "commitment"
    if remote_monitoring:
        return "remote"
    if category in GRADED_CATEGORIES:
        return "graded"
    return "one_code"


@dataclass(frozen=True)
class Credit:
    grade: str
    points: int
    colour: str
    supervision_mode: str | None
    lists: tuple[str, ...]

    def public(self) -> dict:
        return {"grade": self.grade, "colour": self.colour, "supervision_mode": self.supervision_mode,
                "lists": list(self.lists)}


def refresh_institution_credit(*, session, institution, today) -> str:
    """Recompute and store the institution's grade from its inputs; called whenever one changes
    (a commitment signed or breached; violations and lists when they land)."""
    import datetime as dt

    from sqlalchemy import select

    from api.database import SHANGHAI
    from selfcheck.models import Commitment

    cycle_start = dt.datetime(today.year, 1, 1, tzinfo=SHANGHAI)  # the scoring cycle is the calendar year
    commitments = session.execute(
        select(Commitment.status, Commitment.valid_from, Commitment.valid_to)
        .where(Commitment.institution_id == institution.id,
               (Commitment.status == "active") | (Commitment.breached_at >= cycle_start))
    ).all()
    active = [c for c in commitments if c.status == "active" and c.valid_from <= today <= c.valid_to]
    breached = any(c.status == "breached" for c in commitments)
    institution.commitment_valid_to = active[0].valid_to if active else None
    institution.credit_grade = grade_for(points=institution.credit_points, commitment_in_force=bool(active),
                                         breached=breached)
    session.flush()
    return institution.credit_grade


def commitment_in_force(institution, today) -> bool:
    return institution.commitment_valid_to is not None and today <= institution.commitment_valid_to


def institution_credit(institution, licence_status: str, today) -> Credit:
    """The credit of an institution from its stored grade and points, its licence status and its
    commitment today (a commitment that lapsed takes grade A away at once, without waiting for a
    recomputation to store it)."""
    lists: tuple[str, ...] = ()
    in_force = commitment_in_force(institution, today)
    grade = institution.credit_grade
    if grade == "A" and not in_force:
        grade = "B"
    return Credit(
        grade=grade,
        points=institution.credit_points,
        colour=colour_for(grade=grade, lists=lists, licence_status=licence_status),
        supervision_mode=supervision_mode(grade=grade, category=institution.category,
                                          remote_monitoring=institution.remote_monitoring,
                                          commitment_in_force=in_force),
        lists=lists,
    )


def staff_credit(staff, institution_licence_status: str) -> Credit:
    """A staff member's own grade; the badge is red too when the institution may not practise."""
    grade = staff.credit_grade
    return Credit(grade=grade, points=staff.credit_points,
                  colour=colour_for(grade=grade, licence_status=institution_licence_status),
                  supervision_mode=None, lists=())

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


def institution_credit(institution, licence_status: str) -> Credit:
    """The credit of an institution from its stored grade and points and its licence status today."""
    lists: tuple[str, ...] = ()
    commitment_in_force = False
    grade = institution.credit_grade
    return Credit(
        grade=grade,
        points=institution.credit_points,
        colour=colour_for(grade=grade, lists=lists, licence_status=licence_status),
        supervision_mode=supervision_mode(grade=grade, category=institution.category,
                                          remote_monitoring=institution.remote_monitoring,
                                          commitment_in_force=commitment_in_force),
        lists=lists,
    )


def staff_credit(staff, institution_licence_status: str) -> Credit:
    """A staff member's own grade; the badge is red too when the institution may not practise."""
    grade = staff.credit_grade
    return Credit(grade=grade, points=staff.credit_points,
                  colour=colour_for(grade=grade, licence_status=institution_licence_status),
                  supervision_mode=None, lists=())

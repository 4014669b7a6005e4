"""Credit: points, grade, colour, consequence band, supervision mode, risk and lists, derived in one
place (DESIGN.md, "Points, grade, mode").

`compute()` is the one function that turns an institution's inputs into its credit. `recompute()`
gathers those inputs for many institutions with a handful of set-based queries, stores the result on
the institution rows (the snapshot the scan reads) and appends a history row where anything changed.
What depends on today's date alone (the licence status, a commitment that lapsed overnight) is applied
at read time by `institution_credit()`, so the stored snapshot never shows a stale colour. The read
functions (`institution_credit()`, `staff_credit()`) also recompute a snapshot whose inputs changed
with time (an objection window ended): every endpoint reads credit through them, so all agree.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy.orm import object_session

GREEN, YELLOW, RED = "green", "yellow", "red"
RED_LICENCE_STATUSES = frozenset({"expired", "suspended", "revoked"})
GRADED_CATEGORIES = frozenset({"cosmetic", "dental"})
HIGH_PRIORITY_LEAD = 40  # supervision.leads.HIGH_PRIORITY; repeated to keep this module import-free
BANDS = ((21, "validation_deferred"), (16, "key_supervision"), (12, "warning_talk"))  # 暂缓校验, 重点监管, 约谈
BAND_NAMES = {"warning_talk": "约谈", "key_supervision": "重点监管", "validation_deferred": "暂缓校验"}
PUBLIC_YEARS = 5  # penalties and bad-credit records are public for at most five years


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


def band_for(points: int) -> str | None:
    return next((name for floor, name in BANDS if points >= floor), None)


def colour_for(*, grade: str, lists: tuple[str, ...] | list[str] = (), licence_status: str = "valid") -> str:
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


def risk_for(*, grade: str, lists, open_lead: bool, high_lead: bool, licence_status: str = "valid") -> str:
    """high: D, black list, an open high-priority lead, or a licence that cannot be practised on;
    medium: C, any open lead, or a licence about to expire; low otherwise."""
    if grade == "D" or "black" in lists or high_lead or licence_status in RED_LICENCE_STATUSES:
        return "high"
    if grade == "C" or open_lead or licence_status == "expiring":
        return "medium"
    return "low"


@dataclass(frozen=True)
class CreditInputs:
    points: int = 0  # final points in the current cycle
    commitment_in_force: bool = False
    breached: bool = False  # a commitment breached in the current cycle
    black_decision: str | None = None  # a supervisor's black-list reason, if any
    open_lead: bool = False
    high_lead: bool = False
    previous_grade: str | None = None  # the grade at the end of the previous cycle
    substantiated_complaints: int = 0  # in this cycle and the previous one
    category: str = "clinic"
    remote_monitoring: bool = False


@dataclass(frozen=True)
class Computed:
    points: int
    grade: str
    band: str | None
    risk: str
    lists: tuple[str, ...]
    list_reasons: dict[str, str] = field(default_factory=dict)


def compute(inputs: CreditInputs) -> Computed:
    """The one function: grade, consequence band, risk and lists from an institution's inputs.

    Red list: grade A now and at the end of the previous cycle, with no substantiated complaint in
    either. Black list: grade D from points, or a supervisor's decision.
    """
    black_reasons = {}
    if inputs.black_decision:
        black_reasons["black"] = f"监管部门决定：{inputs.black_decision}"
    elif inputs.points >= 12:
        black_reasons["black"] = f"本周期不良执业记分 {inputs.points} 分，信用等级 D"
    grade = grade_for(points=inputs.points, black_listed=bool(black_reasons),
                      commitment_in_force=inputs.commitment_in_force, breached=inputs.breached)
    reasons = dict(black_reasons)
    if grade == "A" and inputs.previous_grade == "A" and inputs.substantiated_complaints == 0:
        reasons["red"] = "连续两个记分周期信用等级为 A，且无查实的投诉举报"
    lists = tuple(name for name in ("red", "black") if name in reasons)
    risk = risk_for(grade=grade, lists=lists, open_lead=inputs.open_lead, high_lead=inputs.high_lead)
    return Computed(points=inputs.points, grade=grade, band=band_for(inputs.points), risk=risk, lists=lists,
                    list_reasons=reasons)


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

    def public(self) -> dict:
        return {"grade": self.grade, "colour": self.colour, "supervision_mode": self.supervision_mode,
                "lists": list(self.lists)}


def commitment_in_force(institution, today) -> bool:
    return institution.commitment_valid_to is not None and today <= institution.commitment_valid_to


def institution_credit(institution, licence_status: str, today) -> Credit:
    """The stored snapshot (recomputed first if it went stale), with what today's date alone changes
    applied: the licence status (colour, risk) and a commitment that lapsed (grade A needs one in force)."""
    _bring_up_to_date(institution)
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
    return Credit(
        grade=grade,
        points=institution.credit_points,
        colour=colour_for(grade=grade, lists=lists, licence_status=licence_status),
        supervision_mode=supervision_mode(grade=grade, category=institution.category,
                                          remote_monitoring=institution.remote_monitoring,
                                          commitment_in_force=in_force),
        lists=lists,
        band=institution.credit_band,
        risk_level=risk,
    )


def staff_credit(staff, institution_licence_status: str) -> Credit:
    """A staff member's own grade (recomputed with its institution's if that went stale); the badge is
    red too when the institution may not practise."""
    _bring_up_to_date(staff.institution, staff)
    grade = staff.credit_grade
    return Credit(grade=grade, points=staff.credit_points,
                  colour=colour_for(grade=grade, licence_status=institution_licence_status),
                  supervision_mode=None, lists=(), band=band_for(staff.credit_points))


# ---- recomputation ------------------------------------------------------------------------------

def cycle_start(year: int) -> dt.datetime:
    from api.database import SHANGHAI

    return dt.datetime(year, 1, 1, tzinfo=SHANGHAI)


def refresh_institution_credit(*, session, institution, today=None, reason: str = "recomputed") -> str:
    """Recompute one institution now (after a violation, a breach, a commitment, a list decision)."""
    from supervision import credit

    credit.recompute(session=session, institution_ids=[institution.id], today=today, reason=reason)
    session.refresh(institution)
    return institution.credit_grade


def _bring_up_to_date(institution, *also) -> None:
    """Recompute if a stored input has changed by itself since the snapshot (an objection window ended,
    a commitment lapsed), so reading never needs a job to have run; `also` (its staff) are reloaded.
    No query unless stale. Rows not in a session (built by hand) are shown as they are. The route
    commits what was recomputed, or it is recomputed again next time (see credit.refresh_stale for
    readers that filter on the stored columns)."""
    from api.database import utcnow

    stale_after = getattr(institution, "credit_stale_after", None)
    if stale_after is None or utcnow() < stale_after or (session := object_session(institution)) is None:
        return
    refresh_institution_credit(session=session, institution=institution, reason="input changed with time")
    for instance in also:
        session.refresh(instance)

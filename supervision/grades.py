"""Credit rules: points, grade, colour, consequence band, supervision mode, risk and lists, derived in
one place (DESIGN.md, "Points, grade, mode"). Pure functions of their inputs, imported by the recomputation
(supervision.credit) and the read functions (supervision.service).

`compute()` is the one function that turns an institution's inputs into its credit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from api import policy
from api.database import SHANGHAI
from api.policy import Policy

GREEN, YELLOW, RED = "green", "yellow", "red"
RED_LICENCE_STATUSES = frozenset({"expired", "suspended", "revoked"})
GRADED_CATEGORIES = frozenset({"cosmetic", "dental"})
BAND_NAMES = {"warning_talk": "约谈", "key_supervision": "重点监管", "validation_deferred": "暂缓校验"}


def grade_for(*, points: int, black_listed: bool = False, commitment_in_force: bool = False,
              breached: bool = False, under: Policy | None = None) -> str:
    """A: 0 points, no breach, a commitment in force; B: 1 up to the C cut-off (or 0 without a
    commitment); C: up to the D cut-off; D: from it, or on the black list. The cut-offs are the policy's
    (`under`, the version in force today if None; version 1: C from 6, D from 12)."""
    under = under or policy.in_force()
    if black_listed or points >= under.grade_d_from:
        return "D"
    if points >= under.grade_c_from:
        return "C"
    if points == 0 and commitment_in_force and not breached:
        return "A"
    return "B"


def band_for(points: int, under: Policy | None = None) -> str | None:
    return next((name for floor, name in (under or policy.in_force()).bands if points >= floor), None)


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


def compute(inputs: CreditInputs, under: Policy | None = None) -> Computed:
    """The one function: grade, consequence band, risk and lists from an institution's inputs, under a
    policy version (the one in force today if None).

    Red list: grade A now and at the end of the previous cycle, with no substantiated complaint in
    either. Black list: grade D from points, or a supervisor's decision.
    """
    under = under or policy.in_force()
    black_reasons = {}
    if inputs.black_decision:
        black_reasons["black"] = f"监管部门决定：{inputs.black_decision}"
    elif inputs.points >= under.grade_d_from:
        black_reasons["black"] = f"本周期不良执业记分 {inputs.points} 分，信用等级 D"
    grade = grade_for(points=inputs.points, black_listed=bool(black_reasons),
                      commitment_in_force=inputs.commitment_in_force, breached=inputs.breached, under=under)
    reasons = dict(black_reasons)
    if grade == "A" and inputs.previous_grade == "A" and inputs.substantiated_complaints == 0:
        reasons["red"] = "连续两个记分周期信用等级为 A，且无查实的投诉举报"
    lists = tuple(name for name in ("red", "black") if name in reasons)
    risk = risk_for(grade=grade, lists=lists, open_lead=inputs.open_lead, high_lead=inputs.high_lead)
    return Computed(points=inputs.points, grade=grade, band=band_for(inputs.points, under), risk=risk, lists=lists,
                    list_reasons=reasons)


# ---- cycles -------------------------------------------------------------------------------------

def cycle_start(year: int) -> dt.datetime:
    return dt.datetime(year, 1, 1, tzinfo=SHANGHAI)

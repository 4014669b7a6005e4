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
BAND_ORDER = ("warning_talk", "key_supervision", "validation_deferred")  # weakest first
KEY_BANDS = frozenset({"key_supervision", "validation_deferred"})  # the key supervision list (重点监管名单)


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


def band_for(points: int, under: Policy | None = None, *, black_listed: bool = False) -> str | None:
    """The consequence band of the points; a black-listed institution is under key supervision whatever
    its points (Liaocheng: "进入“黑名单”的机构，纳入重点监管名单"), or in a stronger band if its points say so."""
    band = next((name for floor, name in (under or policy.in_force()).bands if points >= floor), None)
    if black_listed and (band is None or BAND_ORDER.index(band) < BAND_ORDER.index("key_supervision")):
        return "key_supervision"
    return band


def black_list_ends(listed_at: dt.datetime) -> dt.datetime:
    """The end of a black listing's term: policy `credit.black_list_term_days` (of the version in force
    on the day of the listing, Beijing time) after it."""
    day = listed_at.astimezone(SHANGHAI).date()
    return listed_at + dt.timedelta(days=policy.in_force(day).black_list_term_days)


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
    black_decision: str | None = None  # a supervisor's black-list reason, if any (in force: not lifted, in term)
    listed_points: int = 0  # final points of the earlier cycle in which a black listing still in its term began
    listed_cycle: int | None = None  # ... and that cycle
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
    either. Black list: a supervisor's decision in force, grade D from this cycle's points, or a listing
    for points of an earlier cycle still in its term (the listing outlives the cycle; grade D while
    listed). Key supervision (`list_reasons["key"]`, not one of `lists`): a band of key supervision or
    stronger, which every black-listed institution has.
    """
    under = under or policy.in_force()
    reasons = {}
    if inputs.black_decision:
        reasons["black"] = f"监管部门决定：{inputs.black_decision}"
    elif inputs.points >= under.grade_d_from:
        reasons["black"] = f"本周期不良执业记分 {inputs.points} 分，信用等级 D"
    elif inputs.listed_points >= under.grade_d_from:
        reasons["black"] = f"{inputs.listed_cycle} 年度不良执业记分 {inputs.listed_points} 分，黑名单期限未满"
    black_listed = "black" in reasons
    grade = grade_for(points=inputs.points, black_listed=black_listed,
                      commitment_in_force=inputs.commitment_in_force, breached=inputs.breached, under=under)
    band = band_for(inputs.points, under, black_listed=black_listed)
    if grade == "A" and inputs.previous_grade == "A" and inputs.substantiated_complaints == 0:
        reasons["red"] = "连续两个记分周期信用等级为 A，且无查实的投诉举报"
    if black_listed:
        reasons["key"] = f"列入黑名单（{reasons['black']}）"
    elif band in KEY_BANDS:
        reasons["key"] = f"本周期不良执业记分 {inputs.points} 分，{BAND_NAMES[band or '']}"
    lists = tuple(name for name in ("red", "black") if name in reasons)
    risk = risk_for(grade=grade, lists=lists, open_lead=inputs.open_lead, high_lead=inputs.high_lead)
    return Computed(points=inputs.points, grade=grade, band=band, risk=risk, lists=lists, list_reasons=reasons)


# ---- cycles -------------------------------------------------------------------------------------

def cycle_start(year: int) -> dt.datetime:
    return dt.datetime(year, 1, 1, tzinfo=SHANGHAI)

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


SERIOUS, MINOR = "serious", "minor"  # an institution's record over the look-back window (None: clean)


def supervision_mode(*, grade: str, lists=(), category: str, remote_monitoring: bool, commitment_in_force: bool,
                     record: str | None = None, lookback_years: int = 3) -> tuple[str, str]:
    """The supervision mode and why, after Licheng's plan (seed 000): high risk or a serious violation in
    the look-back window → stationed (驻点式); cosmetic and dental → graded (量化分级) unless stationed;
    no final violation in the window, a commitment in force and grade A (no breach, no points this cycle)
    → commitment (承诺式); remote monitoring
    installed → remote (智慧卫监); otherwise, and after any other violation, one-code (一码、不良记分)."""
    window = f"近 {lookback_years} 年"
    if grade == "D" or "black" in lists:
        return "stationed", "信用等级 D 或列入黑名单（高危风险）"
    if record == SERIOUS:
        return "stationed", f"{window}内有严重违法行为（10 分记分或行政处罚）"
    if category in GRADED_CATEGORIES:
        return "graded", "医疗美容、口腔医疗机构实行分级分类监管、量化分级"
    if record is None and commitment_in_force and grade == "A":  # A: no breach, no final points this cycle
        return "commitment", f"{window}内无违法行为，且信用承诺在有效期内"
    if remote_monitoring:
        return "remote", "已安装远程监控系统（智慧卫监），" + (f"{window}内无严重违法行为" if record else f"{window}内无违法行为")
    if record == MINOR:
        return "one_code", f"{window}内有违法行为（记分）"
    return "one_code", f"{window}内无违法行为，但未签署有效的信用承诺"


def graded_risk(*, latest_inspection: str | None, open_items: int, points: int, under: Policy | None = None) -> str:
    """The quantified risk level (量化分级) of a cosmetic or dental institution: the highest of what its
    latest inspection found (penalty high, rectify medium), its non-compliant self-check items not yet
    rectified (three or more high, any medium) and its final points this cycle (from the C
    cut-off high, any medium)."""
    under = under or policy.in_force()
    levels = ["low"]
    if latest_inspection == "penalty" or points >= under.grade_c_from or open_items >= 3:
        levels.append("high")
    if latest_inspection == "rectify" or points > 0 or open_items > 0:
        levels.append("medium")
    return max(levels, key=("low", "medium", "high").index)


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
    record: str | None = None  # SERIOUS, MINOR or None over the look-back window
    latest_inspection: str | None = None  # the result of the latest inspection recorded
    open_items: int = 0  # non-compliant self-check items not yet rectified


@dataclass(frozen=True)
class Computed:
    points: int
    grade: str
    band: str | None
    risk: str
    lists: tuple[str, ...]
    list_reasons: dict[str, str] = field(default_factory=dict)
    record: str | None = None
    graded_risk: str | None = None  # cosmetic and dental only


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
    graded = None
    if inputs.category in GRADED_CATEGORIES:  # black-listed or D: high, whatever else (加大监督检查频次)
        graded = "high" if grade == "D" or black_listed else graded_risk(
            latest_inspection=inputs.latest_inspection, open_items=inputs.open_items, points=inputs.points,
            under=under)
    return Computed(points=inputs.points, grade=grade, band=band, risk=risk, lists=lists, list_reasons=reasons,
                    record=inputs.record, graded_risk=graded)


# ---- cycles -------------------------------------------------------------------------------------

def cycle_start(year: int) -> dt.datetime:
    return dt.datetime(year, 1, 1, tzinfo=SHANGHAI)


def years_before(day: dt.date, years: int) -> dt.date:
    """The same date `years` earlier; 29 February becomes 28 February in a common year."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def years_after(day: dt.date, years: int) -> dt.date:
    """The same date `years` later; 29 February becomes 28 February in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


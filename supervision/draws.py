"""Random inspection draws (双随机): reproducible from a published seed and inputs.

`run()` is a pure function of the inputs; `draw()` snapshots the inputs from the database, runs it,
and stores both. Anyone can take a published draw's `inputs` and call `run(inputs)` (or follow
docs/draws.md by hand) and get the same targets and inspectors. Algorithm "onecode-draw-v3" (v2
without step 2b, v1 without steps 2b and 3; the inputs of older draws have no "graded_institutions" or
"key_sector_institutions", and run() gives them their own version's result):

1. rng = random.Random(seed) — Python's Mersenne Twister, seeded with the seed string (version 2
   seeding: SHA-512 of the string), never the global random state.
2. For grades A, B, C, D in that order: the pool is the ids of institutions of that grade, ascending,
   except the graded ones of step 2b; k = ceil(ratio × pool size); the drawn ids are rng.sample(pool, k),
   then sorted.
2b. Graded institutions (inputs "graded_institutions": [id, quantified risk level] of cosmetic and
   dental ones) are pooled by level instead, low, medium, high in that order, at "graded_ratios" (a
   higher level, a higher ratio), the same way (reason "random:graded-<level>").
3. Key-sector institutions (inputs "key_sector_institutions": active institutions of the policy's key
   categories that the department has not inspected this calendar year) not drawn yet are added
   (reason "key_sector"), ascending; one drawn at random in step 2 keeps its "random:<grade>" reason.
4. Institutions with an open high-priority lead not drawn yet are added (reason "lead"), ascending.
5. For each target in ascending id order: the eligible inspectors are the inspector ids, ascending,
   minus those who declared that institution or its street; rng.sample(eligible, n) picks n of them
   (sorted for display). Too few eligible inspectors for a target fails the draw, naming the target.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import secrets

from sqlalchemy import select

from api import policy
from api.access import SUPERVISOR
from api.database import SessionLike, today_shanghai
from api.errors import ValidationFailed
from api.models import Account
from api.policy import Policy
from leads.models import Lead
from leads.service import HIGH_PRIORITY
from registry.models import Institution
from supervision import credit, inspections
from supervision.models import Inspection, InspectionDraw, InspectorConflict

ALGORITHM = "onecode-draw-v3"
GRADES = ("A", "B", "C", "D")
LEVELS = ("low", "medium", "high")


def run(inputs: dict) -> list[dict]:
    """The draw itself: a pure function of `inputs` (see the module docstring)."""
    rng = random.Random(inputs["seed"])
    graded = {institution_id: level for institution_id, level in inputs.get("graded_institutions", ())}  # v3
    by_grade: dict[str, list[int]] = {grade: [] for grade in GRADES}
    by_level: dict[str, list[int]] = {level: [] for level in LEVELS}
    street_of: dict[int, str] = {}
    for institution_id, grade, street in inputs["institutions"]:
        if institution_id in graded:
            by_level[graded[institution_id]].append(institution_id)
        else:
            by_grade[grade].append(institution_id)
        street_of[institution_id] = street
    targets: dict[int, str] = {}
    pools = [(by_grade[grade], inputs["ratios"][grade], f"random:{grade}") for grade in GRADES]
    if graded:
        pools += [(by_level[level], inputs["graded_ratios"][level], f"random:graded-{level}") for level in LEVELS]
    for members, ratio, reason in pools:
        pool = sorted(members)
        k = min(len(pool), math.ceil(ratio * len(pool) - 1e-9))
        for institution_id in sorted(rng.sample(pool, k)):
            targets[institution_id] = reason
    for institution_id in sorted(inputs.get("key_sector_institutions", ())):  # absent from v1 draws
        if institution_id in street_of and institution_id not in targets:
            targets[institution_id] = "key_sector"
    for institution_id in sorted(inputs["lead_institutions"]):
        if institution_id in street_of and institution_id not in targets:
            targets[institution_id] = "lead"
    blocked_institutions: dict[int, set[int]] = {}
    blocked_streets: dict[int, set[str]] = {}
    for inspector_id, institution_id, street in inputs["conflicts"]:
        if institution_id is not None:
            blocked_institutions.setdefault(inspector_id, set()).add(institution_id)
        if street is not None:
            blocked_streets.setdefault(inspector_id, set()).add(street)
    result = []
    for institution_id in sorted(targets):
        eligible = [i for i in sorted(inputs["inspectors"])
                    if institution_id not in blocked_institutions.get(i, ())
                    and street_of[institution_id] not in blocked_streets.get(i, ())]
        if len(eligible) < inputs["inspectors_per_target"]:
            raise ValidationFailed(f"机构 {institution_id} 可回避后的执法人员不足 {inputs['inspectors_per_target']} 名",
                                   fields={"inspectors_per_target": [f"institution {institution_id}: "
                                                                     f"{len(eligible)} eligible inspectors"]})
        chosen = sorted(rng.sample(eligible, inputs["inspectors_per_target"]))
        result.append({"institution_id": institution_id, "inspector_ids": chosen, "reason": targets[institution_id]})
    return result


def snapshot(*, session: SessionLike, department: str, ratios: dict, inspectors_per_target: int, seed: str,
             under: Policy | None = None, graded_ratios: dict | None = None) -> dict:
    """The inputs of a draw, read from the directory now; stored with the draw and published. Ratios not
    given are the policy's (`under`, the version in force today if None), and so are the key categories:
    their active institutions that this department has not inspected this (Beijing) calendar year are
    drawn in full (Licheng's plan: "在医疗美容机构、中医备案诊所、口腔医疗机构等重点行业做到执法检查全覆盖")."""
    under = under or policy.in_force()
    defaults = under.grade_ratios
    officers = inspections.inspectors(session=session, department=department)
    if not officers:
        raise ValidationFailed(fields={"department": ["该部门没有在岗执法人员，无法抽查"]})
    if inspectors_per_target > len(officers):
        raise ValidationFailed(fields={"inspectors_per_target": [f"该部门只有 {len(officers)} 名执法人员"]})
    officer_ids = [officer.id for officer in officers]
    credit.refresh_stale(session=session)  # grades as of now, not as of the last event
    institutions = session.execute(select(Institution.id, Institution.credit_grade, Institution.street,
                                          Institution.credit_graded_risk)
                                   .where(Institution.status == "active").order_by(Institution.id)).all()
    graded = {level: float((graded_ratios or {}).get(level, under.graded_risk_ratios[level])) for level in LEVELS}
    if [graded[level] for level in LEVELS] != sorted(graded.values()):
        raise ValidationFailed(fields={"graded_ratios": ["风险等级越高，抽查比例不得越低（low ≤ medium ≤ high）"]})
    lead_ids = session.scalars(select(Lead.institution_id).where(
        Lead.status == "open", Lead.score >= HIGH_PRIORITY, Lead.institution_id.is_not(None))
        .order_by(Lead.institution_id)).all()
    year_start = dt.date(today_shanghai().year, 1, 1)
    inspected = select(Inspection.institution_id).where(Inspection.department == department,
                                                        Inspection.inspected_on >= year_start)
    key_sector_ids = session.scalars(select(Institution.id).where(
        Institution.status == "active", Institution.category.in_(under.key_categories),
        Institution.id.not_in(inspected)).order_by(Institution.id)).all()
    conflicts = session.execute(select(InspectorConflict.account_id, InspectorConflict.institution_id,
                                       InspectorConflict.street)
                                .where(InspectorConflict.account_id.in_(officer_ids))
                                .order_by(InspectorConflict.id)).all()
    return {
        "algorithm": ALGORITHM, "seed": seed, "department": department,
        "ratios": {grade: float(ratios.get(grade, defaults[grade])) for grade in GRADES},
        "inspectors_per_target": inspectors_per_target,
        "institutions": [[i.id, i.credit_grade, i.street] for i in institutions],
        "graded_institutions": [[i.id, i.credit_graded_risk] for i in institutions if i.credit_graded_risk],
        "graded_ratios": graded,
        "key_categories": list(under.key_categories), "year": year_start.year,
        "key_sector_institutions": list(key_sector_ids),
        "lead_institutions": list(lead_ids),
        "inspectors": officer_ids,
        "conflicts": [[c.account_id, c.institution_id, c.street] for c in conflicts],
    }


def draw(*, session: SessionLike, account: Account, department: str, ratios: dict, inspectors_per_target: int,
         seed: str | None = None, graded_ratios: dict | None = None) -> InspectionDraw:
    if account.role == SUPERVISOR and account.department != department:
        raise ValidationFailed(fields={"department": ["只能为本部门抽查"]})
    seed = seed or secrets.token_hex(16)
    under = policy.in_force()
    inputs = snapshot(session=session, department=department, ratios=ratios,
                      inspectors_per_target=inspectors_per_target, seed=seed, under=under,
                      graded_ratios=graded_ratios)
    targets = run(inputs)
    record = InspectionDraw(department=department, algorithm=ALGORITHM, seed=seed, inputs=inputs, targets=targets,
                            drawn_by_id=account.id, policy_version=under.version)
    session.add(record)
    session.flush()
    return record


def view(record: InspectionDraw) -> dict:
    return {"id": record.id, "department": record.department, "algorithm": record.algorithm, "seed": record.seed,
            "drawn_at": record.drawn_at, "targets": record.targets, "inputs": record.inputs}

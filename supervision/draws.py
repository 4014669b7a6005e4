"""Random inspection draws (双随机): reproducible from a published seed and inputs.

`run()` is a pure function of the inputs; `draw()` snapshots the inputs from the database, runs it,
and stores both. Anyone can take a published draw's `inputs` and call `run(inputs)` (or follow
docs/draws.md by hand) and get the same targets and inspectors. Algorithm "onecode-draw-v3" for a
single department's draw (v2 without step 2b, v1 without steps 2b and 3; the inputs of older draws
have no "graded_institutions" or "key_sector_institutions", and run() gives them their own version's
result), "onecode-draw-v4" for a joint draw (inputs with "departments"; steps 1–4 as v3, step 5 per
department):

1. rng = random.Random(seed) — Python's Mersenne Twister, seeded with the seed string (version 2
   seeding: SHA-512 of the string), never the global random state.
2. For grades A, B, C, D in that order: the pool is the ids of institutions of that grade, ascending,
   except the graded ones of step 2b; k = ceil(ratio × pool size); the drawn ids are rng.sample(pool, k),
   then sorted.
2b. Graded institutions (inputs "graded_institutions": [id, quantified risk level] of cosmetic and
   dental ones) are pooled by level instead, low, medium, high in that order, at "graded_ratios" (a
   higher level, a higher ratio), the same way (reason "random:graded-<level>").
3. Key-sector institutions (inputs "key_sector_institutions": active institutions of the policy's key
   categories that the department, or for a joint draw not every one of its departments, has not
   inspected this calendar year) not drawn yet are added (reason "key_sector"), ascending; one drawn
   at random in step 2 keeps its "random:<grade>" reason.
4. Institutions with an open high-priority lead not drawn yet are added (reason "lead"), ascending.
5. For each target in ascending id order: the eligible inspectors are the inspector ids, ascending,
   minus those who declared that institution or its street; rng.sample(eligible, n) picks n of them
   (sorted for display). Too few eligible inspectors for a target fails the draw, naming the target.
   v4: for each target in ascending id order, for each department in the order of "departments", the
   same with that department's inspectors ("inspectors": {department: [ids]}): n per department, so
   the team holds n inspectors of every department; too few fails naming the department and target.

A joint draw's or a plan's draw covers the plan's scope only: the snapshot lists only the institutions
of the plan's categories and streets, and says so ("plan_id", "scope").
"""

from __future__ import annotations

import datetime as dt
import math
import random
import secrets
from collections.abc import Sequence

from sqlalchemy import distinct, func, select, union

from api import policy
from api.access import SUPERVISOR
from api.database import SessionLike, today_shanghai
from api.errors import Forbidden, ValidationFailed
from api.models import DEPARTMENTS, Account
from api.policy import Policy
from leads.models import Lead
from leads.service import HIGH_PRIORITY
from registry.models import Institution
from supervision import credit, inspections, plans
from supervision.models import (
    Inspection,
    InspectionDepartment,
    InspectionDraw,
    InspectionPlan,
    InspectorConflict,
)

ALGORITHM = "onecode-draw-v3"  # a single department's draw
JOINT_ALGORITHM = "onecode-draw-v4"  # a joint draw: a team with inspectors of every department
GRADES = ("A", "B", "C", "D")
LEVELS = ("low", "medium", "high")
# What a published target shows besides what run() gives: read from the inspection records at read time.
DERIVED = ("status", "inspection_id")


def run(inputs: dict) -> list[dict]:
    """The draw itself: a pure function of `inputs` (see the module docstring)."""
    rng = random.Random(inputs["seed"])
    targets, street_of = _institutions(rng, inputs)
    blocked_institutions: dict[int, set[int]] = {}
    blocked_streets: dict[int, set[str]] = {}
    for inspector_id, institution_id, street in inputs["conflicts"]:
        if institution_id is not None:
            blocked_institutions.setdefault(inspector_id, set()).add(institution_id)
        if street is not None:
            blocked_streets.setdefault(inspector_id, set()).add(street)

    def eligible(institution_id: int, inspector_ids: list[int]) -> list[int]:
        return [i for i in sorted(inspector_ids)
                if institution_id not in blocked_institutions.get(i, ())
                and street_of[institution_id] not in blocked_streets.get(i, ())]

    n = inputs["inspectors_per_target"]
    result = []
    if "departments" in inputs:  # v4: a joint draw
        for institution_id in sorted(targets):
            team = []
            for department in inputs["departments"]:
                candidates = eligible(institution_id, inputs["inspectors"][department])
                if len(candidates) < n:
                    raise ValidationFailed(
                        f"{DEPARTMENTS.get(department, department)}（{department}）对机构 {institution_id} "
                        f"回避后的执法人员不足 {n} 名",
                        fields={f"departments.{department}": [f"机构 {institution_id}：回避后可派 {len(candidates)} 名，"
                                                              f"需 {n} 名"]})
                team += [{"account_id": i, "department": department} for i in sorted(rng.sample(candidates, n))]
            result.append({"institution_id": institution_id, "inspector_ids": sorted(m["account_id"] for m in team),
                           "inspectors": team, "reason": targets[institution_id]})
        return result
    for institution_id in sorted(targets):
        candidates = eligible(institution_id, inputs["inspectors"])
        if len(candidates) < n:
            raise ValidationFailed(f"机构 {institution_id} 可回避后的执法人员不足 {n} 名",
                                   fields={"inspectors_per_target": [f"institution {institution_id}: "
                                                                     f"{len(candidates)} eligible inspectors"]})
        chosen = sorted(rng.sample(candidates, n))
        result.append({"institution_id": institution_id, "inspector_ids": chosen, "reason": targets[institution_id]})
    return result


def _institutions(rng: random.Random, inputs: dict) -> tuple[dict[int, str], dict[int, str]]:
    """Steps 2 to 4: the targets and their reasons, and every listed institution's street."""
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
    return targets, street_of


def drawn_part(targets: Sequence[dict]) -> list[dict]:
    """Published targets without what is read at read time (DERIVED): what run() gives for them."""
    return [{key: value for key, value in target.items() if key not in DERIVED} for target in targets]


def inspected_by_every(departments: Sequence[str], since: dt.date):
    """The ids of institutions that every one of `departments` has inspected on or after `since`: a
    record of the department (`Inspection.department`, the lead's) or one it is on (InspectionDepartment,
    a joint record) counts."""
    by_lead = select(Inspection.institution_id.label("institution_id"), Inspection.department.label("department")) \
        .where(Inspection.inspected_on >= since, Inspection.department.in_(list(departments)))
    by_member = select(Inspection.institution_id, InspectionDepartment.department) \
        .join(InspectionDepartment, InspectionDepartment.inspection_id == Inspection.id) \
        .where(Inspection.inspected_on >= since, InspectionDepartment.department.in_(list(departments)))
    both = union(by_lead, by_member).subquery()
    return (select(both.c.institution_id).group_by(both.c.institution_id)
            .having(func.count(distinct(both.c.department)) == len(set(departments))))


def _officers(session: SessionLike, department: str, inspectors_per_target: int, *, joint: bool) -> list[int]:
    officers = [officer.id for officer in inspections.inspectors(session=session, department=department)]
    name = f"{DEPARTMENTS[department]}（{department}）"
    if not officers:
        if joint:
            raise ValidationFailed(f"{name}没有在岗执法人员，无法联合抽查",
                                   fields={f"departments.{department}": ["该部门没有在岗执法人员，无法抽查"]})
        raise ValidationFailed(fields={"department": ["该部门没有在岗执法人员，无法抽查"]})
    if inspectors_per_target > len(officers):
        if joint:
            raise ValidationFailed(f"{name}只有 {len(officers)} 名执法人员，每个检查对象需 {inspectors_per_target} 名",
                                   fields={f"departments.{department}": [f"该部门只有 {len(officers)} 名执法人员"]})
        raise ValidationFailed(fields={"inspectors_per_target": [f"该部门只有 {len(officers)} 名执法人员"]})
    return officers


def snapshot(*, session: SessionLike, department: str | None = None, departments: Sequence[str] | None = None,
             ratios: dict, inspectors_per_target: int, seed: str, under: Policy | None = None,
             graded_ratios: dict | None = None, plan: InspectionPlan | None = None) -> dict:
    """The inputs of a draw, read from the directory now; stored with the draw and published. Ratios not
    given are the policy's (`under`, the version in force today if None), and so are the key categories:
    their active institutions that this department (a joint draw: not every one of its departments) has
    not inspected this (Beijing) calendar year are drawn in full (Licheng's plan: "在医疗美容机构、中医备案
    诊所、口腔医疗机构等重点行业做到执法检查全覆盖"). A joint draw (`departments`) lists each department's
    inspectors; `inspectors_per_target` is then per department. With a plan, only its scope is listed."""
    under = under or policy.in_force()
    defaults = under.grade_ratios
    joint = departments is not None
    members = list(departments) if departments is not None else [department or ""]
    officers = {name: _officers(session, name, inspectors_per_target, joint=joint) for name in members}
    officer_ids = [i for name in members for i in officers[name]]
    scope = plans.in_scope(categories=plan.categories if plan else (), streets=plan.streets if plan else ())
    credit.refresh_stale(session=session)  # grades as of now, not as of the last event
    institutions = session.execute(select(Institution.id, Institution.credit_grade, Institution.street,
                                          Institution.credit_graded_risk)
                                   .where(*scope).order_by(Institution.id)).all()
    graded = {level: float((graded_ratios or {}).get(level, under.graded_risk_ratios[level])) for level in LEVELS}
    if [graded[level] for level in LEVELS] != sorted(graded.values()):
        raise ValidationFailed(fields={"graded_ratios": ["风险等级越高，抽查比例不得越低（low ≤ medium ≤ high）"]})
    listed = select(Institution.id).where(*scope)
    lead_ids = session.scalars(select(Lead.institution_id).where(
        Lead.status == "open", Lead.score >= HIGH_PRIORITY, Lead.institution_id.in_(listed))
        .order_by(Lead.institution_id)).all()
    year_start = dt.date(today_shanghai().year, 1, 1)
    key_sector_ids = session.scalars(select(Institution.id).where(
        *scope, Institution.category.in_(under.key_categories),
        Institution.id.not_in(inspected_by_every(members, year_start))).order_by(Institution.id)).all()
    conflicts = session.execute(select(InspectorConflict.account_id, InspectorConflict.institution_id,
                                       InspectorConflict.street)
                                .where(InspectorConflict.account_id.in_(officer_ids))
                                .order_by(InspectorConflict.id)).all()
    inputs: dict = {"algorithm": JOINT_ALGORITHM if joint else ALGORITHM, "seed": seed}
    inputs.update({"departments": members} if joint else {"department": department})
    if plan is not None:
        inputs.update({"plan_id": plan.id, "scope": {"categories": list(plan.categories),
                                                     "streets": list(plan.streets)}})
    inputs.update({
        "ratios": {grade: float(ratios.get(grade, defaults[grade])) for grade in GRADES},
        "inspectors_per_target": inspectors_per_target,
        "institutions": [[i.id, i.credit_grade, i.street] for i in institutions],
        "graded_institutions": [[i.id, i.credit_graded_risk] for i in institutions if i.credit_graded_risk],
        "graded_ratios": graded,
        "key_categories": list(under.key_categories), "year": year_start.year,
        "key_sector_institutions": list(key_sector_ids),
        "lead_institutions": list(lead_ids),
        "inspectors": officers if joint else officer_ids,
        "conflicts": [[c.account_id, c.institution_id, c.street] for c in conflicts],
    })
    return inputs


def draw(*, session: SessionLike, account: Account, ratios: dict, inspectors_per_target: int,
         department: str | None = None, departments: Sequence[str] | None = None, plan_id: int | None = None,
         seed: str | None = None, graded_ratios: dict | None = None) -> InspectionDraw:
    """Draw for one department (`department`) or jointly (`departments`, two or more, in the order of
    api.models.DEPARTMENTS whatever the order asked). A supervisor draws only for a draw its own
    department is in; with `plan_id`, every department of the draw must be on the plan, and only the
    plan's institutions are listed."""
    if (department is None) == (departments is None):
        raise ValidationFailed(fields={"departments": ["请填写 department（单部门抽查）或 departments（联合抽查），二选一"]})
    members = plans.canonical(departments) if departments is not None else [department or ""]
    if departments is not None and len(members) < 2:
        raise ValidationFailed(fields={"departments": ["联合抽查至少需要两个不同的部门"]})
    field = "departments" if departments is not None else "department"
    if account.role == SUPERVISOR and account.department not in members:
        if departments is not None:  # as plans, findings and legal review answer a department not on them
            raise Forbidden("只能为本部门参与的联合抽查")
        raise ValidationFailed(fields={field: ["只能为本部门抽查"]})  # the single-department answer, unchanged
    plan = None
    if plan_id is not None:
        plan = session.get(InspectionPlan, plan_id)
        if plan is None:
            raise ValidationFailed(fields={"plan_id": ["未找到该检查计划"]})
        if plan.year != today_shanghai().year:  # its targets could never be recorded under it
            raise ValidationFailed(fields={"plan_id": [f"该检查计划属于 {plan.year} 年度，只能按本年度的计划抽查"]})
        missing = [name for name in members if name not in plans.departments_of(session=session, plan_id=plan.id)]
        if missing:
            raise ValidationFailed(f"部门 {', '.join(missing)} 不在该检查计划之列",
                                   fields={field: [f"{name} 不在检查计划 {plan.id} 的部门之列" for name in missing]})
    seed = seed or secrets.token_hex(16)
    under = policy.in_force()
    inputs = snapshot(session=session, department=department, departments=members if departments is not None else None,
                      ratios=ratios, inspectors_per_target=inspectors_per_target, seed=seed, under=under,
                      graded_ratios=graded_ratios, plan=plan)
    targets = run(inputs)
    lead = account.department if account.department in members else members[0]  # who drew; else health first
    record = InspectionDraw(department=lead, algorithm=inputs["algorithm"], seed=seed, inputs=inputs, targets=targets,
                            drawn_by_id=account.id, policy_version=under.version,
                            departments=members if departments is not None else None, plan_id=plan_id)
    session.add(record)
    session.flush()
    return record


def views(*, session: SessionLike, records: Sequence[InspectionDraw]) -> list[dict]:
    """The draws as published. Each target's `status` is `inspected` once a record names the draw and the
    institution (`inspection_id`: the earliest, by date then entry), else `pending`: read in one query
    for all the draws."""
    first: dict[tuple[int | None, int], int] = {}
    if records:
        rows = session.execute(select(Inspection.draw_id, Inspection.institution_id, Inspection.id)
                               .where(Inspection.draw_id.in_([record.id for record in records]))
                               .order_by(Inspection.inspected_on, Inspection.id))
        for draw_id, institution_id, record_id in rows:
            first.setdefault((draw_id, institution_id), record_id)
    answers = []
    for record in records:
        targets = []
        for target in record.targets:
            inspection_id = first.get((record.id, target["institution_id"]))
            targets.append({**target, "status": "pending" if inspection_id is None else "inspected",
                            "inspection_id": inspection_id})
        answers.append({"id": record.id, "department": record.department,
                        "departments": list(record.departments or [record.department]), "plan_id": record.plan_id,
                        "algorithm": record.algorithm, "seed": record.seed, "drawn_at": record.drawn_at,
                        "targets": targets, "inputs": record.inputs})
    return answers


def view(*, session: SessionLike, record: InspectionDraw) -> dict:
    return views(session=session, records=[record])[0]

"""A district's year, built by hand for the leaders' numbers: four institutions in two streets,
complaints named and anonymous (on time, late, overdue, about an unlicensed place, at the edges of the
year in Beijing time), quarterly self-checks filed on time, late, returned and not at all, leads, a
joint inspection plan with a penalty, credit grades and lists.

The year is last year (Beijing), worked out per test: every quarter's filing deadline in it has passed.
Each number the tests expect is worked out in tests/oversight/test_stats.py next to the assertion.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

import pytest

from api.database import SHANGHAI, today_shanghai, utcnow
from leads.models import Lead
from registry.models import Institution
from selfcheck.models import ChecklistTemplate, Rectification, SelfCheck, SelfCheckAnswer
from supervision.models import (
    Inspection,
    InspectionDepartment,
    InspectionFinding,
    InspectionPlan,
    ListEntry,
    PlanDepartment,
)
from tests.supervision.helpers import new_institution

SHANDA, HONGJIALOU = "山大路街道", "洪家楼街道"


def beijing(day: dt.date, hour: int = 10, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=SHANGHAI)


@dataclass
class District:
    year: int
    ids: dict[str, int]

    @property
    def date_from(self) -> dt.date:
        return dt.date(self.year, 1, 1)

    @property
    def date_to(self) -> dt.date:
        return dt.date(self.year, 12, 31)


@pytest.fixture
def district(admin, session) -> District:
    year = today_shanghai().year - 1
    d = lambda month, day: dt.date(year, month, day)  # noqa: E731 - a date of the year, short
    a = new_institution(admin, 11, name="山大路诊所", category="clinic", street=SHANDA)
    b = new_institution(admin, 12, name="洪家楼口腔诊所", category="dental", street=HONGJIALOU)
    c = new_institution(admin, 13, name="洪家楼医院", category="hospital", street=HONGJIALOU)
    e = new_institution(admin, 14, name="山大路新诊所", category="clinic", street=SHANDA)
    ids = {"A": a["id"], "B": b["id"], "C": c["id"], "D": e["id"]}
    # Registered: A, B, C the year before; D in May (due from the third quarter on).
    created = {"A": beijing(dt.date(year - 1, 6, 1)), "B": beijing(dt.date(year - 1, 6, 1)),
               "C": beijing(dt.date(year - 1, 6, 1)), "D": beijing(d(5, 10))}
    grades = {"A": "A", "B": "C", "C": "D", "D": "B"}
    for name, institution_id in ids.items():
        institution = session.get(Institution, institution_id)
        institution.created_at = created[name]
        institution.credit_grade = grades[name]
        institution.credit_stale_after = None
    _complaints(session, ids, year)
    _selfchecks(session, ids, year)
    _leads(session, ids, year)
    _inspections(session, ids, year)
    session.add_all([
        ListEntry(institution_id=ids["A"], list="red", reason="守信激励"),
        ListEntry(institution_id=ids["C"], list="black", reason="多次拒不整改", ends_at=utcnow() + dt.timedelta(days=300)),
        ListEntry(institution_id=ids["B"], list="key", reason="记分达到 16 分", removed_at=utcnow()),
    ])
    session.commit()
    return District(year, ids)


def _complaint(session, number: int, **values):
    from complaints.models import Complaint

    submitted = values.pop("submitted_at")
    complaint = Complaint(
        tracking_no=f"TS{submitted:%Y%m%d}{number:06d}", query_code_hash=hashlib.sha256(b"q").hexdigest(),
        content="诊疗过程存在问题，请核查。", target_kind="institution" if values.get("institution_id") else "place",
        submitted_at=submitted, accept_due_at=submitted + dt.timedelta(days=7), **values)
    session.add(complaint)
    return complaint


def _complaints(session, ids, year):
    d = lambda month, day: dt.date(year, month, day)  # noqa: E731
    future = utcnow() + dt.timedelta(days=30)
    # 1. Named, about A, to health; replied on time and closed, rated 5.
    _complaint(session, 1, institution_id=ids["A"], category="medical_quality", department="health",
               anonymous=False, contact_name="张三", contact_phone="13912345678", submitted_at=beijing(d(3, 10)),
               status="closed", accepted_at=beijing(d(3, 11)), reply_due_at=beijing(d(5, 10), 23, 59),
               replied_at=beijing(d(4, 20)), closed_at=beijing(d(4, 25)), rating=5)
    # 2. Anonymous, about A, to health; accepted, still investigating past its reply deadline.
    _complaint(session, 2, institution_id=ids["A"], category="attitude_ethics", department="health",
               anonymous=True, submitted_at=beijing(d(3, 20)), status="investigating",
               accepted_at=beijing(d(3, 21)), reply_due_at=beijing(d(5, 20), 23, 59))
    # 3. Named, about B, to market; replied after its deadline, rated 2.
    _complaint(session, 3, institution_id=ids["B"], category="prices_charges", department="market",
               anonymous=False, contact_name="李四", contact_phone="13800000000", submitted_at=beijing(d(6, 1)),
               status="replied", accepted_at=beijing(d(6, 2)), reply_due_at=beijing(d(8, 1), 23, 59),
               replied_at=beijing(d(8, 10)), rating=2)
    # 4. Anonymous, about B, to medical insurance; never accepted, past the acceptance deadline.
    _complaint(session, 4, institution_id=ids["B"], category="insurance_fraud", department="medical_insurance",
               anonymous=True, submitted_at=beijing(d(6, 15)), status="submitted")
    # 5. Anonymous, an unlicensed place, to health; rejected.
    _complaint(session, 5, category="illegal_practice", department="health", anonymous=True,
               place_name="无证诊所", place_address="山大路 1 号", submitted_at=beijing(d(9, 1)), status="rejected")
    # 6. About C on the first of January of the next year at 00:30 in Beijing (16:30 UTC the day before):
    #    outside the year.
    _complaint(session, 6, institution_id=ids["C"], category="medical_quality", department="health",
               anonymous=True, submitted_at=beijing(dt.date(year + 1, 1, 1), 0, 30), status="submitted")
    # 7. About C at 23:30 on 31 December in Beijing: inside the year, in its December; accepted, its reply
    #    not yet due.
    _complaint(session, 7, institution_id=ids["C"], category="medical_quality", department="health",
               anonymous=True, submitted_at=beijing(d(12, 31), 23, 30), status="accepted",
               accepted_at=beijing(d(12, 31), 23, 45), reply_due_at=future)


def _filing(session, template, institution_id, period, submitted_at, results, *, status="submitted", revision=1,
            rectified=()):
    filing = SelfCheck(institution_id=institution_id, template_id=template.id, period=period, revision=revision,
                       status=status, signer_name="王某", signer_role="principal", submitted_at=submitted_at,
                       non_compliant_count=results.count("non_compliant"))
    for index, result in enumerate(results):
        plan = {"rectification_plan": "限期整改", "rectification_owner": "王某",
                "rectification_due": submitted_at.date() + dt.timedelta(days=30)} if result == "non_compliant" else {}
        filing.answers.append(SelfCheckAnswer(item_code=f"A{index:02d}", area="quality", tier="general",
                                              text=f"检查项 {index}", result=result, **plan))
    session.add(filing)
    session.flush()
    for index in rectified:
        session.add(Rectification(answer_id=filing.answers[index].id, done_on=submitted_at.date(), note="已整改"))
    return filing


def _selfchecks(session, ids, year):
    d = lambda month, day: dt.date(year, month, day)  # noqa: E731
    template = ChecklistTemplate(key="clinic", version=1, name="诊所依法执业自查表", categories=["clinic"], items=[])
    session.add(template)
    session.flush()
    nc, ok = "non_compliant", "compliant"
    # A: Q1 on time, two items not compliant (the first put right); Q2 late; the full year filed in Q3.
    _filing(session, template, ids["A"], f"{year}-Q1", beijing(d(4, 10)), [nc, nc, ok], rectified=[0])
    _filing(session, template, ids["A"], f"{year}-Q2", beijing(d(8, 5)), [ok])
    _filing(session, template, ids["A"], f"{year}", beijing(d(8, 20)), [ok])
    # B: Q1 filed on time but returned, corrected after the deadline (one item not compliant).
    _filing(session, template, ids["B"], f"{year}-Q1", beijing(d(4, 29)), [nc], status="returned")
    _filing(session, template, ids["B"], f"{year}-Q1", beijing(d(5, 3)), [nc], revision=2)
    # C: last year's Q4 filed in January, accepted, nothing wrong.
    _filing(session, template, ids["C"], f"{year - 1}-Q4", beijing(d(1, 15)), [ok], status="accepted")
    # D: Q3 on time, one item not compliant, put right.
    _filing(session, template, ids["D"], f"{year}-Q3", beijing(d(10, 20)), [nc, ok], rectified=[0])


def _leads(session, ids, year):
    d = lambda month, day: dt.date(year, month, day)  # noqa: E731
    session.add_all([
        Lead(institution_id=ids["A"], status="inspected", opened_at=beijing(d(3, 25)), closed_at=beijing(d(5, 10))),
        Lead(institution_id=ids["B"], status="open", opened_at=beijing(d(11, 1))),
        Lead(place_name="无证诊所", place_address="山大路 1 号", status="dismissed",
             opened_at=beijing(dt.date(year - 1, 12, 1)), closed_at=beijing(d(2, 1)), close_note="查无此处"),
    ])


def _inspections(session, ids, year):
    d = lambda month, day: dt.date(year, month, day)  # noqa: E731
    plan = InspectionPlan(year=year, name=f"{year} 年医疗服务领域综合监管检查计划", categories=[], streets=[],
                          due_on=d(11, 15))
    session.add(plan)
    session.flush()
    session.add_all([PlanDepartment(plan_id=plan.id, department="health"),
                     PlanDepartment(plan_id=plan.id, department="market")])

    def inspection(institution, on, departments, result, *, plan_id=None, penalty_by=None):
        """A record with one finding per department: `penalty_by`'s an approved penalty, the others `result`
        (then `pass` beside the penalty)."""
        record = Inspection(institution_id=ids[institution], inspected_on=on, result=result, settled_result=result,
                            summary="现场检查", department=departments[0], status="recorded", plan_id=plan_id,
                            penalty_approved_at=beijing(on) + dt.timedelta(days=3) if penalty_by else None)
        record.department_rows = [InspectionDepartment(department=department) for department in departments]
        record.findings = [
            InspectionFinding(department=department, result="penalty", review="approved", note="违法执业")
            if department == penalty_by else
            InspectionFinding(department=department, result="pass" if penalty_by else result, note="现场检查")
            for department in departments]
        session.add(record)

    # joint: market's penalty approved, health found nothing
    inspection("A", d(5, 10), ["health", "market"], "penalty", plan_id=plan.id, penalty_by="market")
    inspection("B", d(6, 20), ["health"], "pass", plan_id=plan.id)
    inspection("C", d(9, 5), ["market"], "rectify")  # outside the plan
    inspection("A", dt.date(year - 1, 11, 1), ["health"], "pass")  # the year before
    inspection("A", d(10, 1), ["health"], "pass", plan_id=plan.id)  # A again under the plan

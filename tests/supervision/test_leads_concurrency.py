"""Leads when complaints about one institution arrive at the same moment: one lead, every complaint on it.

Complaint intake serialises on the institution's row; on PostgreSQL the statement that stores a case
waits for that lock with the snapshot it started with, so what it could not see then (a lead opened
meanwhile) must still be found afterwards.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.database import db, lock_row, today_shanghai, utcnow
from complaints.models import Complaint
from leads import service as leads
from leads.models import Lead
from registry.models import Institution
from supervision import leads as lead_review
from supervision.models import Inspection
from tests.complaints.workflow_helpers import complaint_body
from tests.conftest import PG_URL
from tests.locks import join_all, post_in_threads, wait_until_backends_wait_for_a_lock

THREADS = 8


def _submit_in_threads(app, bodies: list[dict]) -> list[tuple[int, dict]]:
    """Each body from its own thread and test client, released together."""
    barrier = threading.Barrier(len(bodies))
    answers, failures, guard = [], [], threading.Lock()

    def send(body):
        try:
            barrier.wait(timeout=30)
            response = app.test_client().post("/api/v1/complaints", json=body)
            with guard:
                answers.append((response.status_code, response.get_json()))
        except Exception as error:  # noqa: BLE001 - reported by the test, not lost in the thread
            with guard:
                failures.append(repr(error))

    threads = [threading.Thread(target=send, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a submitting thread hung"
    assert failures == []
    return answers


def _leads_of(institution_id: int) -> list[Lead]:
    db.session.expire_all()
    return list(db.session.scalars(select(Lead).where(Lead.institution_id == institution_id)))


def _receipts(answers) -> set[str]:
    assert [status for status, _ in answers] == [201] * len(answers), answers
    return {body["tracking_no"] for _, body in answers}


def test_ordinary_complaints_arriving_together_open_one_lead_with_all_of_them(app, clinic):
    target = {"institution_id": clinic["id"]}

    numbers = _receipts(_submit_in_threads(app, [complaint_body(target)] * THREADS))

    [lead] = _leads_of(clinic["id"])
    assert lead.status == "open"
    assert {reason.ref for reason in lead.reasons} == numbers
    assert lead.score == leads.score([{"kind": "complaint"}] * THREADS)


def test_a_serious_complaint_among_ordinary_ones_makes_one_lead_that_every_later_one_joins(app, clinic):
    """Which complaints the lead carries depends on the order the institution's lock takes them in (the
    order of their ids): one taken before the serious one opened the lead stays off it, as when filed
    one after the other; every one taken after it is on it. One lead, scored by exactly its reasons."""
    target = {"institution_id": clinic["id"]}
    serious = complaint_body(target, category="illegal_practice")
    answers = _submit_in_threads(app, [serious] + [complaint_body(target)] * (THREADS - 1))

    numbers = _receipts(answers)
    [lead] = _leads_of(clinic["id"])
    kinds = {reason.ref: reason.kind for reason in lead.reasons}
    ids = dict(db.session.execute(select(Complaint.tracking_no, Complaint.id)
                                  .where(Complaint.tracking_no.in_(numbers))).all())
    off_the_lead = numbers - set(kinds)
    assert set(kinds) <= numbers and list(kinds.values()).count("serious_complaint") == 1
    assert len(off_the_lead) < 3  # three ordinary ones before the serious one would have opened it
    assert all(ids[off] < ids[on] for off in off_the_lead for on in kinds)
    assert lead.score == leads.score([{"kind": kind} for kind in kinds.values()])


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL only: its statements wait for a row lock with an older snapshot")
def test_a_complaint_that_waited_for_the_institution_joins_the_lead_opened_meanwhile(app, clinic):
    """Someone holds the institution (another complaint's transaction); while our complaint waits for
    it, that transaction opens a lead and commits. Ours is the first ordinary complaint: it opens no
    lead by count, so it is on the lead only if it looks again after the wait."""
    holder = db.session
    lock_row(holder, Institution, clinic["id"])
    answers = []
    waiting = threading.Thread(target=lambda: answers.extend(
        _submit_in_threads(app, [complaint_body({"institution_id": clinic["id"]})])))
    waiting.start()
    try:
        wait_until_backends_wait_for_a_lock("%INSERT INTO complaints%")
        leads.add_reasons(session=holder, institution_id=clinic["id"],
                          reasons=[leads.reason("serious_complaint", "另一投诉", utcnow(), ref="TS-OTHER")])
    finally:
        holder.commit()
        waiting.join(timeout=60)

    [number] = _receipts(answers)
    [lead] = _leads_of(clinic["id"])
    assert {reason.ref for reason in lead.reasons} == {"TS-OTHER", number}
    assert lead.score == leads.WEIGHTS["serious_complaint"] + leads.WEIGHTS["complaint"]


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL only: its statements wait for a row lock with an older snapshot")
def test_a_complaint_that_waited_while_the_lead_was_closed_opens_a_new_lead(app, clinic):
    """An inspection holds the institution and closes its open lead while a serious complaint waits for
    the institution: the complaint, which started before the lead was closed, must not land on the
    closed lead, but open a new one."""
    with Session(db.engine) as opener:
        leads.add_reasons(session=opener, institution_id=clinic["id"],
                          reasons=[leads.reason("serious_complaint", "早先投诉", utcnow(), ref="TS-EARLIER")])
        opener.commit()
    inspector = db.session
    lock_row(inspector, Institution, clinic["id"])
    answers = []
    waiting = threading.Thread(target=lambda: answers.extend(_submit_in_threads(
        app, [complaint_body({"institution_id": clinic["id"]}, category="illegal_practice")])))
    waiting.start()
    try:
        wait_until_backends_wait_for_a_lock("%INSERT INTO complaints%")
        lead_review.close_open_lead(session=inspector, institution_id=clinic["id"], status="inspected",
                                    by_id=None, note="现场检查")
    finally:
        inspector.commit()
        waiting.join(timeout=60)

    [number] = _receipts(answers)
    closed, opened = sorted(_leads_of(clinic["id"]), key=lambda lead: lead.id)
    assert (closed.status, [r.ref for r in closed.reasons], closed.score) == (
        "inspected", ["TS-EARLIER"], leads.WEIGHTS["serious_complaint"])
    assert (opened.status, [r.ref for r in opened.reasons]) == ("open", [number])


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL only: SQLite has one writer at a time anyway")
def test_a_self_check_finding_while_a_complaint_opens_a_lead_joins_it(app, clinic):
    """Self-checks add to leads too (a failed veto item). While a complaint's transaction holds the
    institution and opens a lead, a self-check's reason must wait and then join that lead, not open a
    second one (the database would refuse it) or write its score over the complaint's."""
    holder, engine = db.session, db.engine  # (the thread has no app context to find the engine in)
    lock_row(holder, Institution, clinic["id"])
    failures = []

    def file_self_check():
        try:
            with Session(engine) as filer:
                leads.add_reasons(session=filer, institution_id=clinic["id"], reasons=[
                    leads.reason("veto_item", "自查一票否决项不符合", utcnow(), ref="SC-1")])
                filer.commit()
        except Exception as error:  # noqa: BLE001 - reported by the test, not lost in the thread
            failures.append(repr(error))

    filing = threading.Thread(target=file_self_check)
    filing.start()
    try:
        wait_until_backends_wait_for_a_lock("%FOR UPDATE%")
        leads.add_reasons(session=holder, institution_id=clinic["id"],
                          reasons=[leads.reason("serious_complaint", "投诉", utcnow(), ref="TS-1")])
    finally:
        holder.commit()
        filing.join(timeout=60)

    assert failures == []
    [lead] = _leads_of(clinic["id"])
    assert {reason.ref for reason in lead.reasons} == {"TS-1", "SC-1"}
    assert lead.score == leads.score([{"kind": "serious_complaint"}, {"kind": "veto_item"}])


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL only: SQLite has one writer at a time anyway")
def test_a_dismissal_while_a_complaint_holds_the_institution_waits_for_it(app, clinic, login):
    """A complaint's transaction holds the institution and then joins its lead; a supervisor dismisses
    the lead at that moment. The dismissal waits for the institution before touching the lead (the
    other order deadlocks: the lead held by the dismissal, the institution by the complaint), then
    closes the lead with the complaint on it."""
    supervisor = login("supervisor", department="health")
    with Session(db.engine) as opener:
        lead_id = leads.add_reasons(session=opener, institution_id=clinic["id"],
                                    reasons=[leads.reason("serious_complaint", "早先投诉", utcnow(), ref="TS-1")])
        opener.commit()
    holder = db.session
    lock_row(holder, Institution, clinic["id"])
    answers = []
    dismissing = post_in_threads(app, supervisor, [(f"/api/v1/leads/{lead_id}/dismiss", {"note": "经核实，已另案处理"})],
                                 answers)
    try:
        wait_until_backends_wait_for_a_lock("%FOR UPDATE%")
        joined = leads.add_reason_if_open(session=holder, institution_id=clinic["id"],
                                          reason=leads.reason("complaint", "投诉", utcnow(), ref="TS-2"))
    finally:
        holder.commit()
        join_all(dismissing)

    assert joined == lead_id
    assert [response.status_code for response in answers] == [200], [r.get_json() for r in answers]
    [lead] = _leads_of(clinic["id"])
    assert lead.status == "dismissed" and {reason.ref for reason in lead.reasons} == {"TS-1", "TS-2"}


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL only: SQLite has one writer at a time anyway")
def test_an_inspection_recorded_while_another_is_being_recorded_waits_and_both_are_stored(app, clinic, login):
    """Two officers record inspections of one clinic at the same moment. The first has stored its
    inspection (whose foreign key share-locks the clinic) and is about to close the lead. The second
    must wait for the clinic before it writes anything: had it stored its own inspection first, each
    would hold a share lock the other's lock for the lead waits on, and one would fail (deadlock)."""
    with Session(db.engine) as opener:
        lead_id = leads.add_reasons(session=opener, institution_id=clinic["id"],
                                    reasons=[leads.reason("serious_complaint", "投诉", utcnow(), ref="TS-1")])
        opener.commit()
    officer = login("officer", department="health")
    first = db.session
    first.add(Inspection(institution_id=clinic["id"], inspected_on=today_shanghai(), result="pass",
                         summary="第一组检查", public=False, department="health", officer_id=officer.account.id))
    first.flush()
    answers = []
    second = post_in_threads(app, officer, [("/api/v1/inspections", {
        "institution_id": clinic["id"], "inspected_on": str(today_shanghai()), "result": "pass",
        "summary": "第二组检查", "public": False})], answers)
    try:
        wait_until_backends_wait_for_a_lock("%FOR UPDATE%")
        lead_review.close_open_lead(session=first, institution_id=clinic["id"], status="inspected",
                                    by_id=officer.account.id, note="第一组检查")
    finally:
        first.commit()
        join_all(second)

    assert [response.status_code for response in answers] == [201], [r.get_json() for r in answers]
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Inspection)
                             .where(Inspection.institution_id == clinic["id"])) == 2
    [lead] = _leads_of(clinic["id"])
    assert (lead.id, lead.status) == (lead_id, "inspected")

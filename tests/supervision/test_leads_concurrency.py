"""Leads when complaints about one institution arrive at the same moment: one lead, every complaint on it.

Complaint intake serialises on the institution's row; on PostgreSQL the statement that stores a case
waits for that lock with the snapshot it started with, so what it could not see then (a lead opened
meanwhile) must still be found afterwards.
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select, text

from api.database import db, lock_row, utcnow
from registry.models import Institution
from supervision import leads
from supervision.models import Lead
from tests.complaints.workflow_helpers import complaint_body
from tests.conftest import PG_URL

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


def test_a_serious_complaint_among_ordinary_ones_makes_one_lead_scored_by_its_reasons(app, clinic):
    """Which ordinary complaints the lead carries depends on the order they are taken in (one taken
    before the serious one opened the lead stays off it, as when filed one after the other); in every
    order there is one lead, with the serious complaint, scored by exactly the reasons it carries."""
    target = {"institution_id": clinic["id"]}
    serious = complaint_body(target, category="illegal_practice")
    answers = _submit_in_threads(app, [serious] + [complaint_body(target)] * (THREADS - 1))

    numbers = _receipts(answers)
    [lead] = _leads_of(clinic["id"])
    kinds = {reason.ref: reason.kind for reason in lead.reasons}
    assert set(kinds) <= numbers and list(kinds.values()).count("serious_complaint") == 1
    assert lead.score == leads.score([{"kind": kind} for kind in kinds.values()])


def _wait_until_a_backend_waits_for_a_lock(timeout: float = 30.0) -> None:
    with db.engine.connect() as watcher:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            waiting = watcher.scalar(text("SELECT count(*) FROM pg_stat_activity "
                                          "WHERE wait_event_type = 'Lock' AND datname = current_database()"))
            if waiting:
                return
            watcher.rollback()
            time.sleep(0.02)
    pytest.fail("the complaint never waited for the institution's lock")


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
        _wait_until_a_backend_waits_for_a_lock()
        leads.add_reasons(session=holder, institution_id=clinic["id"],
                          reasons=[leads.reason("serious_complaint", "另一投诉", utcnow(), ref="TS-OTHER")])
    finally:
        holder.commit()
        waiting.join(timeout=60)

    [number] = _receipts(answers)
    [lead] = _leads_of(clinic["id"])
    assert {reason.ref for reason in lead.reasons} == {"TS-OTHER", number}
    assert lead.score == leads.WEIGHTS["serious_complaint"] + leads.WEIGHTS["complaint"]

"""Tracking numbers: TS + Beijing date + the day's sequence, distinct even when many submit at once."""

from __future__ import annotations

import datetime as dt
import os
import re
import threading

from sqlalchemy import select

from api.database import db
from complaints import intake
from complaints.models import Complaint
from tests.complaints.helpers import complaint_body, rows, submitted
from tests.conftest import PG_URL

THREADS = 8
PER_THREAD = 5


def _submit_concurrently(app, body_for) -> tuple[list, list]:
    """THREADS threads, each with its own test client, each submitting PER_THREAD complaints."""
    barrier = threading.Barrier(THREADS)
    answers, failures = [], []
    lock = threading.Lock()

    def worker(worker_no):
        client = app.test_client()
        try:
            barrier.wait(timeout=30)
            for n in range(PER_THREAD):
                response = client.post("/api/v1/complaints", json=body_for(worker_no, n))
                with lock:
                    answers.append((response.status_code, response.get_json()))
        except Exception as error:  # noqa: BLE001 - reported by the test, not lost in the thread
            with lock:
                failures.append(repr(error))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a submitting thread hung"
    return answers, failures


def test_consecutive_complaints_get_consecutive_numbers_of_the_day(client):
    first = submitted(client)["tracking_no"]
    second = submitted(client)["tracking_no"]

    assert re.fullmatch(r"TS\d{14}", first) and re.fullmatch(r"TS\d{14}", second)
    if first[2:10] == second[2:10]:  # the same Beijing day (not straddling midnight)
        assert int(second[10:]) == int(first[10:]) + 1


def _submit_at(session, now: dt.datetime) -> str:
    """File a complaint through the service at a chosen moment (the clock is an argument there)."""
    data = {**complaint_body(), "details": {}}
    receipt = intake.submit(session=session, data=data, account_id=None, idempotency_key=None,
                            secret="test-secret", now=now)
    session.commit()
    return receipt["tracking_no"]


def test_the_date_in_the_number_is_the_beijing_date(session):
    late_evening_utc = dt.datetime(2026, 11, 23, 16, 30, tzinfo=dt.UTC)  # 00:30 on the 24th in Beijing

    assert _submit_at(session, late_evening_utc) == "TS20261124000001"


def test_the_sequence_starts_again_each_beijing_day(session):
    numbers = [
        _submit_at(session, dt.datetime(2026, 11, 24, 1, 0, tzinfo=dt.UTC)),
        _submit_at(session, dt.datetime(2026, 11, 24, 15, 59, tzinfo=dt.UTC)),  # 23:59 in Beijing
        _submit_at(session, dt.datetime(2026, 11, 24, 16, 0, tzinfo=dt.UTC)),  # midnight in Beijing
    ]

    assert numbers == ["TS20261124000001", "TS20261124000002", "TS20261125000001"]


def test_tracking_numbers_are_distinct_under_concurrent_submissions(app, session):
    def body(worker_no, n):
        return complaint_body(content=f"并发投诉测试：线程 {worker_no} 第 {n} 件，内容足够长。",
                              target={"name": f"无证诊所{worker_no}", "address": f"测试路 {n} 号"})

    answers, failures = _submit_concurrently(app, body)

    assert failures == []
    assert [status for status, _ in answers] == [201] * (THREADS * PER_THREAD), answers
    numbers = [answer["tracking_no"] for _, answer in answers]
    assert len(set(numbers)) == THREADS * PER_THREAD
    assert rows("complaints") == THREADS * PER_THREAD
    session.expire_all()
    assert set(session.scalars(select(Complaint.tracking_no))) == set(numbers)


def test_concurrent_complaints_about_one_institution_are_all_numbered_and_stored(app, session, clinic):
    def body(worker_no, n):
        return complaint_body(content=f"同一机构并发投诉：线程 {worker_no} 第 {n} 件，收费不透明。",
                              category="prices_charges", target={"institution_id": clinic["id"]})

    answers, failures = _submit_concurrently(app, body)

    assert failures == []
    assert [status for status, _ in answers] == [201] * (THREADS * PER_THREAD), answers
    numbers = {answer["tracking_no"] for _, answer in answers}
    assert len(numbers) == THREADS * PER_THREAD
    assert rows("complaints") == THREADS * PER_THREAD
    assert rows("complaint_events") == THREADS * PER_THREAD


def test_two_server_processes_hand_out_distinct_numbers(make_app):
    """Two apps on one database stand for two gunicorn workers (each has its own engine)."""
    first, second = make_app().test_client(), make_app().test_client()

    in_turn = []
    for _ in range(3):
        in_turn += [submitted(first)["tracking_no"], submitted(second)["tracking_no"]]

    assert len(set(in_turn)) == 6
    serials = [int(number[10:]) for number in in_turn]
    if PG_URL:  # each process takes a block of numbers: its own follow one another, after the other's block
        assert serials[0::2] == [serials[0], serials[0] + 1, serials[0] + 2]
        assert serials[1::2] == [serials[0] + intake.TRACKING_BLOCK + n for n in range(3)]
    else:  # SQLite: one counter bumped in each complaint's own transaction, in the order they came
        assert serials == list(range(serials[0], serials[0] + 6))


def test_a_forked_worker_does_not_hand_out_its_parents_tracking_numbers(client, app):
    """gunicorn forks its workers from a preloaded master: a block of numbers the parent holds stays
    the parent's, and the child takes its own from the day's counter."""
    submitted(client)  # on PostgreSQL this process now holds a block
    intake._blocks.setdefault(db.engine, intake._Block(dt.date.today(), 1, 99))  # SQLite takes none: as if
    reading, writing = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child reports what it inherited, and nothing else
        try:
            os.write(writing, str(len(intake._blocks)).encode())
        finally:
            os._exit(0)
    os.close(writing)
    inherited = os.read(reading, 16).decode()
    os.close(reading)
    os.waitpid(pid, 0)

    assert inherited == "0"
    assert db.engine in intake._blocks  # the parent's own is untouched

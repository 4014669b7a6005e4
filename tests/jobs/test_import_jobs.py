"""Imports as jobs (API.md, "Jobs"): more than 2,000 rows, or `Prefer: respond-async`, answer 202; the
job's result is the answer the import gives in the request; a bad row or an unreadable file ends as the
synchronous import would; a job is its starter's (and admins'); a worker killed mid-import leaves
nothing written and the job runs again to its end. The queue runs in immediate mode here (memory://:
each job runs as it is queued, in an application context of its own); test_queue.py runs real consumers."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from sqlalchemy import update

from api import jobs
from api.database import db
from tests.exchange.helpers import (
    INSTITUTION_HEADERS,
    INSTITUTION_IMPORT,
    STAFF_HEADERS,
    STAFF_IMPORT,
    csv_file,
    institution_row,
    rows,
    staff_row,
    upload,
    xlsx,
)
from tests.jobs.helpers import ASYNC, job, started


def upload_async(persona, path, data, filename="名录.xlsx", **query):
    from tests.exchange.helpers import multipart

    query = {k: str(v).lower() if isinstance(v, bool) else v for k, v in query.items()}
    body, content_type = multipart(data, filename)
    return persona.post(path, data=body, query_string=query, content_type=content_type, headers=ASYNC)


def test_a_small_import_sent_with_prefer_respond_async_answers_202_and_its_result_is_the_synchronous_answer(admin):
    data = xlsx(INSTITUTION_HEADERS, [institution_row(1), institution_row(2, uscc="bad"), institution_row(3)])
    synchronous = upload(admin, INSTITUTION_IMPORT, data, dry_run=True).get_json()

    response = upload_async(admin, INSTITUTION_IMPORT, data, dry_run=True)

    assert response.headers["Preference-Applied"] == "respond-async"
    body = job(admin, started(response))
    assert body["kind"] == "institutions_import"
    assert body["status"] == "done"
    assert body["result"] == synchronous
    assert body["progress"] == {"done": 3, "total": 3}
    assert body["created_at"] <= body["started_at"] <= body["finished_at"]
    assert "error" not in body
    assert rows("institutions") == 0


def test_an_import_of_more_than_2000_rows_becomes_a_job_that_writes_every_row(admin):
    data = csv_file(INSTITUTION_HEADERS, [institution_row(n) for n in range(1, 2002)])

    response = upload(admin, INSTITUTION_IMPORT, data, "名录.csv")

    body = job(admin, started(response))
    assert body["status"] == "done"
    assert body["result"] == {"created": 2001, "updated": 0, "rejected": [], "dry_run": False, "written": True}
    assert body["progress"] == {"done": 2001, "total": 2001}
    assert rows("institutions") == 2001
    assert rows("codes") == 2001


def test_an_import_of_2000_rows_is_answered_in_the_request(admin):
    data = csv_file(INSTITUTION_HEADERS, [institution_row(n) for n in range(1, 2001)] + [[""] * 13] * 5)

    response = upload(admin, INSTITUTION_IMPORT, data, "名录.csv", dry_run=True)

    assert response.status_code == 200
    assert response.get_json()["created"] == 2000


def test_a_job_with_a_bad_row_reports_it_and_writes_nothing_unless_partial(admin):
    data = xlsx(INSTITUTION_HEADERS, [institution_row(1), institution_row(2, category="游乐场"), institution_row(3)])

    whole = job(admin, started(upload_async(admin, INSTITUTION_IMPORT, data)))
    assert whole["status"] == "done"
    assert whole["result"]["written"] is False
    assert [(r["row"], list(r["fields"])) for r in whole["result"]["rejected"]] == [(3, ["category"])]
    assert rows("institutions") == 0

    partial = job(admin, started(upload_async(admin, INSTITUTION_IMPORT, data, partial=True)))
    assert partial["result"]["written"] is True
    assert partial["result"]["created"] == 2
    assert rows("institutions") == 2


def test_an_unreadable_file_fails_the_job_with_the_reason(admin, app):
    response = upload_async(admin, INSTITUTION_IMPORT, b"\x00\x01\x02 not a spreadsheet", "名录.xlsx")

    body = job(admin, started(response))
    assert body["status"] == "failed"
    assert body["error"]["code"] == "VALIDATION_FAILED"
    assert "file" in body["error"]["fields"]
    assert "result" not in body
    assert os.listdir(os.path.join(app.config["UPLOAD_DIR"], jobs.FOLDER)) == []  # the upload is not kept


def test_a_staff_import_runs_as_a_job_too(admin, clinic):
    data = xlsx(STAFF_HEADERS, [staff_row(1), staff_row(2)])

    body = job(admin, started(upload_async(admin, STAFF_IMPORT, data)))

    assert body["kind"] == "staff_import"
    assert body["result"]["created"] == 2
    assert rows("staff") == 2


def test_another_accounts_job_answers_404_and_an_admin_sees_it(health_officer, market_officer, admin):
    job_id = started(upload_async(health_officer, INSTITUTION_IMPORT, xlsx(INSTITUTION_HEADERS, [institution_row(1)])))

    assert market_officer.get(f"/api/v1/jobs/{job_id}").status_code == 404
    assert market_officer.get(f"/api/v1/jobs/{job_id}").get_json()["code"] == "NOT_FOUND"
    assert admin.get(f"/api/v1/jobs/{job_id}").status_code == 200
    assert health_officer.get(f"/api/v1/jobs/{job_id}").status_code == 200
    assert health_officer.get("/api/v1/jobs/999999").status_code == 404


@pytest.mark.parametrize("who", ["health_officer", "health_supervisor", "market_officer", "admin"])
def test_each_regulator_may_start_an_import_job(request, who):
    persona = request.getfixturevalue(who)

    body = job(persona, started(upload_async(persona, INSTITUTION_IMPORT, xlsx(INSTITUTION_HEADERS, [institution_row(1)]),
                                             dry_run=True)))

    assert body["status"] == "done"


@pytest.mark.parametrize("who", ["clinic_account", "citizen"])
def test_institutions_and_citizens_may_not_start_an_import_job(request, who):
    persona = request.getfixturevalue(who)

    response = upload_async(persona, INSTITUTION_IMPORT, xlsx(INSTITUTION_HEADERS, [institution_row(5)]))

    assert response.status_code == 403
    assert rows("jobs") == 0


def test_a_job_without_a_token_is_401(client):
    assert client.get("/api/v1/jobs/1").status_code == 401


# ---- a worker that dies mid-import --------------------------------------------------------------

class Killed(BaseException):
    """What the process's death looks like to the code that was running: it goes no further."""


def _queued_import(app, admin, data: bytes, **params) -> int:
    """A job as the route leaves it (row, stored upload, committed), not yet run by anyone."""
    job_ = jobs.create(session=db.session, kind="institutions_import", account=admin.account,
                       params={"dry_run": False, "partial": False, **params})
    jobs.store_input(job_, data, upload_dir=app.config["UPLOAD_DIR"])
    db.session.commit()
    return job_.id


def test_a_worker_killed_mid_import_writes_nothing_and_the_job_runs_again_to_its_end(app, admin):
    data = csv_file(INSTITUTION_HEADERS, [institution_row(n) for n in range(1, 1201)])
    job_id = _queued_import(app, admin, data)
    seen = []

    def dies_after_the_first_batch(job_id_, done, total):
        seen.append(done)
        raise Killed  # the first 500 rows have been flushed inside the import's transaction

    with app.app_context(), pytest.raises(Killed):
        jobs.execute(session=db.session, job_id=job_id, runners=app.extensions["job_runners"],
                     upload_dir=app.config["UPLOAD_DIR"], progress=dies_after_the_first_batch,
                     worker="elsewhere:1")
    assert seen == [500]
    assert rows("institutions") == 0  # the process died: its transaction never committed
    left = job(admin, job_id)
    assert left["status"] == "running"
    assert "result" not in left

    queue = app.extensions["task_queue"]
    again = queue.requeue_abandoned()  # not this host's process, and silent: looked at by its last report
    assert again == []  # it started a moment ago: not yet given up on
    db.session.execute(update(jobs.Job).where(jobs.Job.id == job_id)
                       .values(started_at=jobs.utcnow() - jobs.ABANDONED_AFTER - dt.timedelta(minutes=1)))
    db.session.commit()
    assert queue.requeue_abandoned() == [job_id]  # queued and, in immediate mode, run at once

    body = job(admin, job_id)
    assert body["status"] == "done"
    assert body["result"]["created"] == 1200
    assert rows("institutions") == 1200


def test_a_job_whose_worker_process_on_this_host_is_gone_is_queued_again_at_once(app, admin):
    job_id = _queued_import(app, admin, xlsx(INSTITUTION_HEADERS, [institution_row(1), institution_row(2)]))
    dead = f"{jobs.Liveness().host}:{2**22 + 12345}"  # above the kernel's pid_max: no such process
    db.session.execute(update(jobs.Job).where(jobs.Job.id == job_id)
                       .values(status=jobs.RUNNING, attempts=1, worker=dead, started_at=jobs.utcnow()))
    db.session.commit()

    assert app.extensions["task_queue"].requeue_abandoned() == [job_id]

    body = job(admin, job_id)
    assert body["status"] == "done"
    assert body["result"]["created"] == 2


def test_a_job_that_never_finishes_fails_after_three_runs_and_says_why(app, admin):
    job_id = _queued_import(app, admin, xlsx(INSTITUTION_HEADERS, [institution_row(1)]))
    dead = f"{jobs.Liveness().host}:{2**22 + 12345}"
    db.session.execute(update(jobs.Job).where(jobs.Job.id == job_id)
                       .values(status=jobs.RUNNING, attempts=jobs.MAX_ATTEMPTS, worker=dead, started_at=jobs.utcnow()))
    db.session.commit()

    assert app.extensions["task_queue"].requeue_abandoned() == []

    body = job(admin, job_id)
    assert body["status"] == "failed"
    assert "3 次" in body["error"]["message"]
    assert rows("institutions") == 0


def test_a_job_already_taken_is_not_run_twice(app, admin):
    job_id = _queued_import(app, admin, xlsx(INSTITUTION_HEADERS, [institution_row(1)]))
    queue = app.extensions["task_queue"]
    queue.enqueue(job_id)  # runs it
    queue.enqueue(job_id)  # a duplicate message: the job is no longer queued, nothing happens

    assert job(admin, job_id)["status"] == "done"
    assert rows("institutions") == 1


@pytest.mark.parametrize("make", [xlsx, csv_file])
def test_the_size_that_makes_a_job_is_counted_in_data_rows(make):
    from api import spreadsheets

    data = make(INSTITUTION_HEADERS, [institution_row(n) for n in range(1, 4)])

    assert spreadsheets.more_data_rows_than(data, 2)
    assert not spreadsheets.more_data_rows_than(data, 3)
    assert not spreadsheets.more_data_rows_than(b"PK\x03\x04 broken", 0)  # answered in the request instead
    assert spreadsheets.read(data).size == 3

"""Exports as jobs (API.md, "Jobs"): more than 50,000 rows, or `Prefer: respond-async`, answer 202; the
job's file is the export the request would have streamed, downloadable by its starter for 24 hours
(410 after); every export, as each regulator that may use it. Immediate mode (memory://), as served
in production (each request its own session: `served`)."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from sqlalchemy import func, select, update

from api import jobs
from api.audit import AuditEntry
from api.database import db
from tests.conftest import institution_payload
from tests.exchange.helpers import as_dicts, read_csv, read_xlsx
from tests.exchange.test_export_personas import EXPORTS
from tests.jobs.helpers import ASYNC, job, started

ALL_EXPORTS = [*EXPORTS, "/api/v1/lists/key/export"]


def _rows(body: bytes, fmt: str) -> list[dict]:
    if fmt == "csv":
        return as_dicts(read_csv(body))
    return [{k: "" if v is None else str(v) for k, v in row.items()} for row in as_dicts(read_xlsx(body)[0])]


def _download(persona, job_id: int):
    return persona.get(f"/api/v1/jobs/{job_id}/download")


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_an_export_sent_with_prefer_respond_async_gives_the_file_the_request_would_have_streamed(served, world, admin,
                                                                                                fmt):
    caller = admin.on(served)
    streamed = caller.get("/api/v1/complaints/export", query_string={"format": fmt})
    assert streamed.status_code == 200

    job_id = started(caller.get("/api/v1/complaints/export", query_string={"format": fmt}, headers=ASYNC))

    body = job(caller, job_id)
    assert body["kind"] == "complaints_export"
    assert body["status"] == "done"
    assert body["result"]["rows"] == 4
    assert body["result"]["format"] == fmt
    assert body["progress"] == {"done": 4, "total": 4}
    assert body["download_url"].endswith(f"/api/v1/jobs/{job_id}/download")
    finished = dt.datetime.fromisoformat(body["finished_at"])
    assert dt.datetime.fromisoformat(body["expires_at"]) == finished + dt.timedelta(hours=24)
    downloaded = _download(caller, job_id)
    assert downloaded.status_code == 200
    assert downloaded.mimetype == streamed.mimetype
    assert body["result"]["file_name"].endswith(f".{fmt}")
    assert _rows(downloaded.get_data(), fmt) == _rows(streamed.get_data(), fmt)


def test_an_export_of_more_rows_than_the_threshold_becomes_a_job(served, admin, clinic, second_clinic, monkeypatch):
    monkeypatch.setattr(jobs, "EXPORT_ASYNC_ROWS", 1)
    caller = admin.on(served)

    job_id = started(caller.get("/api/v1/institutions/export", query_string={"format": "csv", "street": "山大路街道"}))

    assert job(caller, job_id)["result"]["rows"] == 2
    assert len(_rows(_download(caller, job_id).get_data(), "csv")) == 2


def test_an_export_at_the_threshold_is_streamed(served, admin, clinic, second_clinic, monkeypatch):
    monkeypatch.setattr(jobs, "EXPORT_ASYNC_ROWS", 2)

    response = admin.on(served).get("/api/v1/institutions/export", query_string={"format": "csv"})

    assert response.status_code == 200


def test_the_job_keeps_the_exports_filters(served, admin, clinic):
    caller = admin.on(served)
    assert caller.post("/api/v1/institutions", json=institution_payload(7, street="洪家楼街道")).status_code == 201

    job_id = started(caller.get("/api/v1/institutions/export", query_string={"format": "csv", "street": "洪家楼街道"},
                                headers=ASYNC))

    (row,) = _rows(_download(caller, job_id).get_data(), "csv")
    assert row["街道"] == "洪家楼街道"


@pytest.mark.parametrize("path", ALL_EXPORTS)
@pytest.mark.parametrize("who", ["admin", "health_officer", "health_supervisor", "market_officer"])
def test_every_export_runs_as_a_job_for_each_regulator(request, served, world, path, who):
    caller = request.getfixturevalue(who).on(served)
    streamed = caller.get(path, query_string={"format": "csv"})
    assert streamed.status_code == 200

    job_id = started(caller.get(path, query_string={"format": "csv"}, headers=ASYNC))

    assert job(caller, job_id)["status"] == "done"
    downloaded = _download(caller, job_id)
    assert downloaded.status_code == 200
    assert _rows(downloaded.get_data(), "csv") == _rows(streamed.get_data(), "csv")


@pytest.mark.parametrize("who,status", [("clinic_account", 403), ("citizen", 403), (None, 401)])
def test_no_one_else_may_start_an_export_job(request, served, world, who, status):
    caller = request.getfixturevalue(who).on(served) if who else served

    response = caller.get("/api/v1/complaints/export", headers=ASYNC)

    assert response.status_code == status


def test_another_regulators_export_is_404_and_an_admin_may_download_one_without_contacts(served, world, health_officer,
                                                                                        market_officer, admin):
    job_id = started(health_officer.on(served).get("/api/v1/institutions/export", headers=ASYNC))

    assert market_officer.on(served).get(f"/api/v1/jobs/{job_id}").status_code == 404
    assert _download(market_officer.on(served), job_id).status_code == 404
    assert _download(admin.on(served), job_id).status_code == 200


def _contact_downloads(account_id: int) -> list[str]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEntry.detail).where(AuditEntry.action == "export_contacts",
                                                                   AuditEntry.account_id == account_id)))


def test_a_file_with_complainants_contacts_is_audited_at_each_download_and_only_its_starter_gets_it(
        served, world, health_officer, admin):
    caller = health_officer.on(served)
    job_id = started(caller.get("/api/v1/complaints/export", query_string={"format": "csv"}, headers=ASYNC))
    assert _contact_downloads(health_officer.account.id) == []  # written, not yet handed out

    rows = _rows(_download(caller, job_id).get_data(), "csv")

    assert [row["投诉人"] for row in rows if row["投诉人"]] == ["张三"]
    assert _contact_downloads(health_officer.account.id) == ["1"]
    assert _download(admin.on(served), job_id).status_code == 403
    _download(caller, job_id).get_data()
    assert _contact_downloads(health_officer.account.id) == ["1", "1"]


def test_a_download_after_24_hours_is_410_and_the_file_is_removed(app, served, world, admin):
    caller = admin.on(served)
    job_id = started(caller.get("/api/v1/leads/export", headers=ASYNC))
    assert _download(caller, job_id).status_code == 200
    path = os.path.join(app.config["UPLOAD_DIR"], db.session.get(jobs.Job, job_id).file_path)
    assert os.path.exists(path)

    db.session.execute(update(jobs.Job).where(jobs.Job.id == job_id)
                       .values(expires_at=jobs.utcnow() - dt.timedelta(seconds=1)))
    db.session.commit()

    response = _download(caller, job_id)
    assert response.status_code == 410
    assert response.get_json()["code"] == "EXPIRED"
    assert app.extensions["task_queue"].remove_expired_files() == 1
    assert not os.path.exists(path)
    assert _download(caller, job_id).status_code == 410
    assert job(caller, job_id)["status"] == "done"  # the job's record stays


def test_a_download_before_the_export_is_done_is_409_and_an_import_has_nothing_to_download(served, admin, app):
    caller = admin.on(served)
    waiting = jobs.create(session=db.session, kind="leads_export", account=admin.account, params={"query": []})
    db.session.commit()

    assert _download(caller, waiting.id).status_code == 409
    assert job(caller, waiting.id)["status"] == "queued"
    assert job(caller, waiting.id)["progress"] == {"done": 0, "total": None}
    imported = jobs.create(session=db.session, kind="institutions_import", account=admin.account, params={})
    db.session.execute(update(jobs.Job).where(jobs.Job.id == imported.id).values(status=jobs.DONE, result={}))
    db.session.commit()
    assert _download(caller, imported.id).status_code == 404


def test_jobs_are_kept_in_the_table_with_their_starter(served, world, admin):
    started(admin.on(served).get("/api/v1/selfchecks/export", headers=ASYNC))

    assert db.session.scalar(select(func.count()).select_from(jobs.Job).where(jobs.Job.account_id == admin.account.id)) == 1

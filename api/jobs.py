"""Long work as jobs (API.md, "Jobs (long work)"): the `jobs` table and what happens to a job.

A job is a row; the task queue (api.queue) carries only its id. Whoever runs a job first claims it
(queued → running, one UPDATE that only one claimant can win), then calls the runner its kind names.
The runner's writes and the job's `done` are committed in one transaction, so a consumer killed
mid-job leaves nothing half-written: the job is still `running`, with no result, and the sweep
(requeue_abandoned) puts it back in the queue once its worker is known dead or silent. A failure
records why, in the contract's error envelope. Runners are plain functions given by the packages
that own the work (directory, complaints, ...) and collected by the composition root: the core never
imports them.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import socket
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Mapped, mapped_column

from api.access import ADMIN
from api.database import Model, SessionLike, UTCDateTime, one_of, utcnow
from api.errors import DomainError, NotVisible
from api.models import Account

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
STATUSES = (QUEUED, RUNNING, DONE, FAILED)
IMPORT_ASYNC_ROWS = 2_000  # API.md: an import with more data rows than this answers 202
EXPORT_ASYNC_ROWS = 50_000  # API.md: an export with more rows than this answers 202
FILE_LIFETIME = dt.timedelta(hours=24)  # API.md: an export's file is kept this long
ABANDONED_AFTER = dt.timedelta(minutes=10)  # a running job whose worker has said nothing for this long
MAX_ATTEMPTS = 3  # runs of one job (a lost worker, a database that went away) before it fails
FOLDER = "jobs"  # under UPLOAD_DIR: uploaded inputs and written exports


class Job(Model):
    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(one_of("status", STATUSES), name="status"),
        Index("ix_jobs_status", "status", "id"),
        Index("ix_jobs_account", "account_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default=QUEUED)
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int | None] = mapped_column(Integer)
    params: Mapped[dict] = mapped_column(JSON, default=dict)  # what the runner needs besides the input file
    result: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[dict | None] = mapped_column(JSON)  # {code, message, fields?}: the contract's envelope
    input_path: Mapped[str | None] = mapped_column(String(255))  # under UPLOAD_DIR; removed when finished
    file_path: Mapped[str | None] = mapped_column(String(255))  # an export's file, under UPLOAD_DIR
    file_name: Mapped[str | None] = mapped_column(String(200))  # the name the download offers
    file_type: Mapped[str | None] = mapped_column(String(100))
    audit: Mapped[dict | None] = mapped_column(JSON)  # the audit entry each download of the file writes
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(128))  # host:pid of the consumer running it
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


# ---- creating and reading -------------------------------------------------------------------------

def create(*, session: SessionLike, kind: str, account: Account, params: Mapping[str, Any] | None = None,
           total: int | None = None) -> Job:
    job = Job(kind=kind, account_id=account.id, status=QUEUED, params=dict(params or {}), progress_total=total)
    session.add(job)
    session.flush()
    return job


def store_input(job: Job, data: bytes, *, upload_dir: str) -> None:
    """The uploaded file, kept until the job has finished: written under a temporary name, then renamed."""
    relative = os.path.join(FOLDER, f"{job.id}-{secrets.token_hex(8)}.in")
    _write_atomically(os.path.join(upload_dir, relative), [data])
    job.input_path = relative


def get_visible(*, session: SessionLike, job_id: int, account: Account) -> Job:
    """A job of this account, or any for an admin; another's answers like a missing one."""
    job = session.get(Job, job_id, populate_existing=True)  # a poll reads what the worker wrote since
    if job is None or (job.account_id != account.id and account.role != ADMIN):
        raise NotVisible("未找到该任务")
    return job


def view(job: Job, live: tuple[int, int | None] | None = None) -> dict:
    """The API's representation; `live` is the progress a running job has reported (api.queue)."""
    done, total = live if live is not None and job.status == RUNNING else (job.progress_done, job.progress_total)
    answer: dict[str, Any] = {
        "id": job.id, "kind": job.kind, "status": job.status, "progress": {"done": done, "total": total},
        "created_at": job.created_at, "started_at": job.started_at, "finished_at": job.finished_at,
    }
    if job.result is not None:
        answer["result"] = job.result
    if job.error is not None:
        answer["error"] = job.error
    if job.file_path is not None or job.expires_at is not None:
        answer["expires_at"] = job.expires_at
    return answer


# ---- running ------------------------------------------------------------------------------------

@dataclass
class Work:
    """What a runner gets: the job's plain values, a session with a transaction of its own, and a way
    to report progress (done, total) that is seen at once (it does not wait for the transaction)."""

    session: SessionLike
    job_id: int
    kind: str
    account_id: int
    params: dict
    input_path: str | None  # absolute
    folder: str  # where an export writes its file (absolute)
    progress: Callable[[int, int | None], None]
    total: int | None = None

    def account(self) -> Account:
        account = self.session.get(Account, self.account_id)
        if account is None or not account.active:
            raise NotVisible("发起任务的账号已停用")
        return account

    def read_input(self) -> bytes:
        if self.input_path is None:
            raise ValueError(f"job {self.job_id} has no input file")
        with open(self.input_path, "rb") as file:
            return file.read()


@dataclass
class Outcome:
    """What a runner did. `commit`: keep what it wrote in the session (an import that rejected rows
    without `partial`, or a dry run, answers without writing). An export names the file it wrote."""

    result: dict
    done: int = 0  # the units of work done (rows read or written)
    total: int | None = None  # None: as many as were done
    commit: bool = True
    file_path: str | None = None  # absolute, inside Work.folder
    file_name: str | None = None
    file_type: str | None = None
    audit: dict | None = None


Runner = Callable[[Work], Outcome]


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:128]


def claim(*, session: SessionLike, job_id: int, worker: str) -> Job | None:
    """Queued → running, committed; None when the job is not queued (done, failed, or another worker
    has it: a duplicate message in the queue does nothing)."""
    claimed = session.execute(
        update(Job).where(Job.id == job_id, Job.status == QUEUED)
        .values(status=RUNNING, attempts=Job.attempts + 1, worker=worker, started_at=utcnow(), progress_done=0)
    )
    session.commit()
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return session.get(Job, job_id)


def execute(*, session: SessionLike, job_id: int, runners: Mapping[str, Runner], upload_dir: str,
            progress: Callable[[int, int, int | None], None], worker: str | None = None,
            requeue: Callable[[int], None] | None = None) -> str | None:
    """Run one job to its end; the status it ended in (None: it was not this worker's to run)."""
    job = claim(session=session, job_id=job_id, worker=worker or worker_name())
    if job is None:
        return None
    attempt = job.attempts
    work = Work(session=session, job_id=job.id, kind=job.kind, account_id=job.account_id, params=dict(job.params),
                input_path=os.path.join(upload_dir, job.input_path) if job.input_path else None,
                folder=os.path.join(upload_dir, FOLDER), total=job.progress_total,
                progress=lambda done, total: progress(job_id, done, total))
    runner = runners.get(job.kind)
    try:
        if runner is None:
            raise LookupError(f"no runner for job kind {job.kind!r}")
        outcome = runner(work)
    except DomainError as error:
        session.rollback()
        return _fail(session, job_id, attempt, _envelope(error), upload_dir)
    except IntegrityError:  # a unique number taken by another writer while the job ran (checked before, raced)
        session.rollback()
        return _fail(session, job_id, attempt, {"code": "CONFLICT", "message": "导入期间有相同的统一社会信用代码或许可证号被他人登记，未写入任何数据，请重新导入"},
                     upload_dir)
    except OperationalError:  # the database went away: the same job may well work in a while
        log.exception("job %s (%s): database error", job_id, work.kind)
        session.rollback()
        if attempt < MAX_ATTEMPTS and requeue is not None:
            _set(session, job_id, attempt, status=QUEUED, worker=None)
            session.commit()
            requeue(job_id)
            return QUEUED
        return _fail(session, job_id, attempt, {"code": "UNAVAILABLE", "message": "数据库暂时不可用，任务未完成，请重新提交"},
                     upload_dir)
    except Exception:
        log.exception("job %s (%s) failed", job_id, work.kind)
        session.rollback()
        return _fail(session, job_id, attempt, {"code": "INTERNAL_ERROR", "message": "服务器内部错误，任务未完成"}, upload_dir)
    if not outcome.commit:
        session.rollback()
    now = utcnow()
    done = _set(session, job_id, attempt, status=DONE, result=outcome.result, finished_at=now,
                progress_done=outcome.done, progress_total=outcome.total if outcome.total is not None else outcome.done,
                file_path=os.path.relpath(outcome.file_path, upload_dir) if outcome.file_path else None,
                file_name=outcome.file_name, file_type=outcome.file_type, audit=outcome.audit,
                expires_at=now + FILE_LIFETIME if outcome.file_path else None)
    if not done:  # another worker took the job over meanwhile: what this one did goes
        session.rollback()
        _remove(outcome.file_path)
        return None
    session.commit()
    _remove_input(session, job_id, upload_dir)
    return DONE


def _set(session: SessionLike, job_id: int, attempt: int, **values) -> bool:
    """Update the job if this attempt still holds it (running, not taken over)."""
    changed = session.execute(update(Job).where(Job.id == job_id, Job.status == RUNNING, Job.attempts == attempt)
                              .values(**values))
    return changed.rowcount == 1  # type: ignore[attr-defined]


def _fail(session: SessionLike, job_id: int, attempt: int, error: dict, upload_dir: str) -> str | None:
    if not _set(session, job_id, attempt, status=FAILED, error=error, finished_at=utcnow()):
        session.rollback()
        return None
    session.commit()
    _remove_input(session, job_id, upload_dir)
    return FAILED


def _envelope(error: DomainError) -> dict:
    answer: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.fields:
        answer["fields"] = error.fields
    return answer


def _remove_input(session: SessionLike, job_id: int, upload_dir: str) -> None:
    job = session.get(Job, job_id)
    if job is not None and job.input_path:
        _remove(os.path.join(upload_dir, job.input_path))
        job.input_path = None
        session.commit()


def _remove(path: str | None) -> None:
    if path:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def _write_atomically(path: str, chunks: Iterable[bytes]) -> None:
    """Write under a temporary name in the same folder, then rename: a reader never sees half a file."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    partial = f"{path}.part-{secrets.token_hex(4)}"
    try:
        with open(partial, "wb") as file:
            for chunk in chunks:
                file.write(chunk)
        os.replace(partial, path)
    except BaseException:
        _remove(partial)
        raise


def write_file(folder: str, job_id: int, suffix: str, chunks: Iterable[bytes]) -> str:
    """An export's file (path returned), written atomically; a random part keeps the name unguessable."""
    path = os.path.join(folder, f"{job_id}-{secrets.token_hex(8)}.{suffix}")
    _write_atomically(path, chunks)
    return path


def counted(rows: Iterable, report: Callable[[int], None], every: int = 1000) -> Iterator:
    """`rows`, reporting how many have gone by every `every` rows and at the end."""
    count = 0
    for count, row in enumerate(rows, start=1):  # noqa: B007 - the count is the point
        yield row
        if count % every == 0:
            report(count)
    report(count)


# ---- the sweeps ---------------------------------------------------------------------------------

@dataclass
class Liveness:
    """How the sweep tells a dead worker: by its process on this host, else by its last report."""

    host: str = field(default_factory=socket.gethostname)
    last_report: Callable[[int], dt.datetime | None] = lambda job_id: None

    def dead(self, job: Job, now: dt.datetime) -> bool:
        host, _, pid = (job.worker or "").rpartition(":")
        if host == self.host and pid.isdigit() and not _process_alive(int(pid)):
            return True
        last = self.last_report(job.id) or job.started_at
        return last is None or now - last > ABANDONED_AFTER


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def requeue_abandoned(*, session: SessionLike, liveness: Liveness, requeue: Callable[[int], None],
                      upload_dir: str, now: dt.datetime | None = None) -> list[int]:
    """Running jobs whose worker died (killed, machine lost) go back to the queue, or fail after
    MAX_ATTEMPTS runs. Nothing of theirs was committed: a job's writes and its `done` are one
    transaction. The ids put back are returned."""
    now = now or utcnow()
    again = []
    for job in session.scalars(select(Job).where(Job.status == RUNNING).order_by(Job.id)).all():
        if not liveness.dead(job, now):
            continue
        if job.attempts >= MAX_ATTEMPTS:
            _fail(session, job.id, job.attempts, {"code": "INTERNAL_ERROR",
                                                  "message": f"任务执行 {job.attempts} 次均未完成（处理进程中断），请检查文件后重新提交"},
                  upload_dir)
            continue
        if _set(session, job.id, job.attempts, status=QUEUED, worker=None):
            session.commit()
            log.warning("job %s (%s): its worker %s is gone; queued again", job.id, job.kind, job.worker)
            requeue(job.id)
            again.append(job.id)
    return again


def remove_expired_files(*, session: SessionLike, upload_dir: str, now: dt.datetime | None = None) -> int:
    """Delete the files of exports past their 24 hours (the job stays, its download answers 410)."""
    now = now or utcnow()
    removed = 0
    expired = select(Job).where(Job.file_path.is_not(None), Job.expires_at <= now)
    for job in session.scalars(expired).all():
        _remove(os.path.join(upload_dir, job.file_path or ""))
        job.file_path = None
        removed += 1
    session.commit()
    return removed

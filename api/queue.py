"""The task queue: huey, embedded by default (a SQLite file in the instance folder), Redis in production
(ONECODE_TASK_QUEUE_URL=redis://...), or none at all (memory://: every job runs inside the request
that starts it, as the tests do).

The queue carries job ids only (api.jobs has the rows); one task, `run_job`, runs any job with the
runners the composition root hands over. The consumer (`flask --app wsgi worker`) also runs the
periodic tasks: the sweep of abandoned jobs every five minutes, the removal of expired export files
every hour, and the daily tasks the composition root gives (01:00 Beijing time). Progress is kept in
the queue's own key-value store, not in the database, so it is seen while the job's transaction is
still open (SQLite has one writer: the import holds it) and costs the database nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from flask import Flask
from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey, crontab

from api import jobs
from api.database import SHANGHAI, db

log = logging.getLogger(__name__)

NAME = "onecode"
SWEEP_MINUTES = "*/5"  # abandoned jobs are looked for this often (crontab minutes)
Validate = Callable[[dt.datetime], bool]


def huey_for(url: str | None, instance_path: str, name: str = NAME) -> Huey:
    """The huey of a TASK_QUEUE_URL: unset or sqlite:///path → SqliteHuey (default instance/tasks.db),
    redis://… → RedisHuey, memory:// → immediate mode (no consumer; jobs run where they are enqueued).
    `utc=True`: huey's clock, and so the timestamps periodic tasks are matched against, is naive UTC."""
    if url is None or url == "":
        os.makedirs(instance_path, exist_ok=True)  # a fresh clone has no instance/ yet
        return SqliteHuey(name, filename=os.path.join(instance_path, "tasks.db"), utc=True, results=False)
    if url.startswith("sqlite:///"):
        return SqliteHuey(name, filename=url.removeprefix("sqlite:///"), utc=True, results=False)
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey(name, url=url, utc=True, results=False)
    if url == "memory://":
        return MemoryHuey(name, immediate=True, utc=True, results=False)
    raise ValueError(f"unsupported task queue URL {url!r}")


def at_beijing(hour: int, minute: int = 0) -> Validate:
    """A periodic task's schedule: once a day at hour:minute Beijing time, whatever the consumer's
    own time zone. huey (utc=True) hands the check a naive UTC timestamp once a minute; China keeps
    no daylight saving, so 01:00 Beijing is 17:00 UTC every day of the year."""

    def validate(timestamp: dt.datetime) -> bool:
        local = timestamp.replace(tzinfo=dt.UTC).astimezone(SHANGHAI)
        return local.hour == hour and local.minute == minute

    validate.__name__ = f"daily_{hour:02d}{minute:02d}_beijing"
    return validate


@dataclass
class Queue:
    """The app's queue: enqueue a job, report and read its progress, run the sweeps."""

    huey: Huey
    app: Flask

    def enqueue(self, job_id: int, delay: float | None = None) -> None:
        task = self.app.extensions["job_task"]
        if delay:
            task.schedule(args=(job_id,), delay=delay)
        else:
            task(job_id)

    def report(self, job_id: int, done: int, total: int | None) -> None:
        self.huey.put(_key(job_id), (done, total, time.time()))

    def live(self, job_id: int) -> tuple[int, int | None] | None:
        value = self.huey.get(_key(job_id), peek=True)
        return (value[0], value[1]) if value else None

    def last_report(self, job_id: int) -> dt.datetime | None:
        value = self.huey.get(_key(job_id), peek=True)
        return dt.datetime.fromtimestamp(value[2], dt.UTC) if value else None

    def forget(self, job_id: int) -> None:
        self.huey.delete(_key(job_id))

    def run(self, job_id: int) -> str | None:
        """Run one job in an application context of its own (a consumer thread, or inside a request
        in immediate mode, where the request's session must not be the job's)."""
        with self.app.app_context():
            try:
                return jobs.execute(session=db.session, job_id=job_id, runners=self.app.extensions["job_runners"],
                                    upload_dir=self.app.config["UPLOAD_DIR"], progress=self.report,
                                    requeue=lambda again: self.enqueue(again, delay=30))
            finally:
                self.forget(job_id)

    def requeue_abandoned(self) -> list[int]:
        with self.app.app_context():
            return jobs.requeue_abandoned(session=db.session, liveness=jobs.Liveness(last_report=self.last_report),
                                          requeue=self.enqueue, upload_dir=self.app.config["UPLOAD_DIR"])

    def remove_expired_files(self) -> int:
        with self.app.app_context():
            return jobs.remove_expired_files(session=db.session, upload_dir=self.app.config["UPLOAD_DIR"])


def _key(job_id: int) -> str:
    return f"job-progress:{job_id}"


def init_app(app: Flask, *, runners: Mapping[str, jobs.Runner],
             daily: Mapping[str, tuple[Validate, Callable[[], object]]]) -> Queue:
    """Make the app's queue and register its tasks: `run_job`, the sweeps, and the `daily` tasks
    (name → (schedule, function run in an application context))."""
    huey = huey_for(app.config.get("TASK_QUEUE_URL"), app.instance_path, app.config.get("TASK_QUEUE_NAME", NAME))
    queue = Queue(huey, app)
    app.extensions["task_queue"] = queue
    app.extensions["job_runners"] = dict(runners)
    app.extensions["job_task"] = huey.task(name="run_job")(queue.run)
    huey.periodic_task(crontab(minute=SWEEP_MINUTES), name="requeue_abandoned_jobs")(queue.requeue_abandoned)
    huey.periodic_task(crontab(minute="7"), name="remove_expired_job_files")(queue.remove_expired_files)
    for name, (schedule, function) in daily.items():
        huey.periodic_task(schedule, name=name)(_in_context(app, function))
    return queue


def _in_context(app: Flask, function: Callable[[], object]) -> Callable[[], object]:
    def run():
        with app.app_context():
            result = function()
            log.info("periodic task %s: %s", function.__name__, result)
            return result

    run.__name__ = function.__name__
    return run


def queue() -> Queue:
    from flask import current_app

    return current_app.extensions["task_queue"]

"""The task queue itself: the daily sweeps' schedule (01:00 Beijing time, whatever the consumer's
clock), the queue a setting names, and real consumers running a job from an embedded SQLite queue and
from Redis (CI=true: Redis must be there; elsewhere that test is skipped without it)."""

from __future__ import annotations

import datetime as dt
import os
import uuid

import pytest
from huey import MemoryHuey, RedisHuey, SqliteHuey

from api import queue as task_queue
from api.config import ConfigError
from onecode import tasks
from tests.conftest import IN_CI, REDIS_URL
from tests.exchange.helpers import INSTITUTION_HEADERS, INSTITUTION_IMPORT, institution_row, rows, xlsx
from tests.jobs.helpers import finished, started
from tests.jobs.test_import_jobs import upload_async


def _minutes_of(day: dt.date):
    start = dt.datetime.combine(day, dt.time())
    return (start + dt.timedelta(minutes=n) for n in range(24 * 60))


def test_the_daily_sweeps_are_due_once_a_day_at_one_in_the_morning_beijing_time(app):
    huey = app.extensions["task_queue"].huey
    assert huey.utc  # the consumer hands periodic checks naive UTC timestamps
    (sweeps,) = [task for task in huey._registry.periodic_tasks if task.name.endswith("daily_sweeps")]

    for day in (dt.date(2026, 1, 1), dt.date(2026, 7, 1), dt.date(2026, 12, 31)):  # no daylight saving either way
        due = [moment for moment in _minutes_of(day) if sweeps.validate_datetime(moment)]
        assert due == [dt.datetime.combine(day, dt.time(17, 0))]  # 17:00 UTC is 01:00 the next day in Beijing
        beijing = due[0].replace(tzinfo=dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=8)))
        assert (beijing.hour, beijing.minute) == (1, 0)


def test_the_queue_sweeps_run_every_five_minutes_and_hourly(app):
    huey = app.extensions["task_queue"].huey
    by_name = {task.name.rsplit(".", 1)[-1]: task for task in huey._registry.periodic_tasks}

    assert set(by_name) == {"daily_sweeps", "requeue_abandoned_jobs", "remove_expired_job_files"}
    day = dt.date(2026, 12, 3)
    assert sum(by_name["requeue_abandoned_jobs"].validate_datetime(m) for m in _minutes_of(day)) == 24 * 12
    assert sum(by_name["remove_expired_job_files"].validate_datetime(m) for m in _minutes_of(day)) == 24


def test_the_daily_sweeps_refresh_leads_then_recompute_credit(app, clinic):
    assert tasks.daily_sweeps() == {"institutions_with_new_leads": 0, "credit_changed": 0}


def test_the_setting_names_the_queue(tmp_path):
    assert isinstance(task_queue.huey_for(None, str(tmp_path)), SqliteHuey)
    assert os.path.exists(tmp_path / "tasks.db")
    assert isinstance(task_queue.huey_for("redis://127.0.0.1:6379/0", str(tmp_path)), RedisHuey)
    immediate = task_queue.huey_for("memory://", str(tmp_path))
    assert isinstance(immediate, MemoryHuey) and immediate.immediate


def test_an_unknown_queue_url_stops_the_app(make_app):
    with pytest.raises(ConfigError, match="ONECODE_TASK_QUEUE_URL"):
        make_app(TASK_QUEUE_URL="amqp://127.0.0.1")


def test_the_worker_command_refuses_an_immediate_queue(app):
    result = app.test_cli_runner().invoke(args=["worker"])

    assert result.exit_code != 0
    assert "memory://" in result.output


def _consumer(huey):
    consumer = huey.create_consumer(workers=1, worker_type="thread", periodic=False, initial_delay=0.05, max_delay=0.2)
    consumer._set_signal_handlers = lambda: None  # the test runner keeps its own
    consumer.start()
    return consumer


def _import_through(worker_app, admin):
    """An import started through an app on `worker_app`'s queue, run by a real consumer thread."""
    served = worker_app.test_client()
    caller = admin.on(served)
    consumer = _consumer(worker_app.extensions["task_queue"].huey)
    try:
        data = xlsx(INSTITUTION_HEADERS, [institution_row(n) for n in range(1, 4)])
        job_id = started(upload_async(caller, INSTITUTION_IMPORT, data))
        return finished(caller, job_id)
    finally:
        consumer.stop(graceful=True)


def test_a_consumer_runs_a_job_from_the_embedded_sqlite_queue(make_app, admin, tmp_path):
    worker_app = make_app(TASK_QUEUE_URL=f"sqlite:///{tmp_path}/tasks.db")

    body = _import_through(worker_app, admin)

    assert body["status"] == "done"
    assert body["result"]["created"] == 3
    assert rows("institutions") == 3


@pytest.fixture
def redis_url():
    url = REDIS_URL or "redis://127.0.0.1:6379/15"
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except redis.exceptions.ConnectionError:
        if IN_CI:
            pytest.fail(f"Redis at {url} is unreachable (CI=true)")
        pytest.skip("Redis unreachable")
    return url


def test_a_consumer_runs_a_job_queued_in_redis(make_app, admin, redis_url):
    name = f"onecode-test-{uuid.uuid4().hex[:8]}"  # this test's own queue in a shared Redis
    worker_app = make_app(TASK_QUEUE_URL=redis_url, TASK_QUEUE_NAME=name)
    huey = worker_app.extensions["task_queue"].huey
    assert isinstance(huey, RedisHuey)
    try:
        body = _import_through(worker_app, admin)
    finally:
        huey.storage.flush_all()

    assert body["status"] == "done"
    assert body["result"]["created"] == 3
    assert rows("institutions") == 3


def test_the_daily_commands_report_progress_for_their_bars(app, session, clinic, second_clinic):
    from selfcheck import service as selfcheck
    from supervision import credit

    seen = []
    credit.recompute(session=session, progress=lambda done, total: seen.append((done, total)))
    selfcheck.sweep_leads(session=session, progress=lambda done, total: seen.append(("leads", done, total)))
    session.rollback()

    assert seen == [(2, 2)]  # both institutions recomputed; no lead reasons today, so no lead progress


@pytest.mark.parametrize("command", ["recompute-credit", "refresh-leads", "requeue-jobs"])
def test_the_operators_commands_still_run_by_hand(app, clinic, command):
    result = app.test_cli_runner().invoke(args=[command])

    assert result.exit_code == 0, result.output


def test_the_embedded_queue_starts_in_a_fresh_checkout_without_an_instance_folder(tmp_path):
    instance = tmp_path / "instance"  # a fresh clone: no instance/ yet (the quick start's first run)

    task_queue.huey_for(None, str(instance))

    assert (instance / "tasks.db").exists()

"""Tests of what happens while another transaction holds a row lock (PostgreSQL): wait until the
other side is really waiting before the holder goes on, so the interleaving is the one the test names."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text

from api.database import db


def wait_until_backends_wait_for_a_lock(query_like: str = "%", *, backends: int = 1, timeout: float = 30.0) -> None:
    """Return once `backends` sessions of this test run (same application_name, tests/conftest.py) wait
    for a lock in a statement like `query_like`; another run on the same database is not counted."""
    with db.engine.connect() as watcher:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            waiting = watcher.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database() AND application_name = current_setting('application_name') "
                "AND query LIKE :query_like"), {"query_like": query_like})
            if waiting >= backends:
                return
            watcher.rollback()
            time.sleep(0.02)
    pytest.fail(f"fewer than {backends} statements like {query_like!r} waited for a lock")


def post_in_threads(app, persona, requests: list[tuple[str, dict]], answers: list) -> list[threading.Thread]:
    """Each (path, body) POSTed from its own thread and test client, as `persona`; the responses are
    appended to `answers`. Join the threads with join_all()."""
    def send(path, body):
        answers.append(app.test_client().post(path, json=body, headers=persona.headers))

    threads = [threading.Thread(target=send, args=request) for request in requests]
    for thread in threads:
        thread.start()
    return threads


def join_all(threads) -> None:
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a request hung"

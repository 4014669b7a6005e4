"""The changes feed under concurrent writers (PostgreSQL): a reader following `next` sees every committed
change exactly once, in strictly increasing `seq`, and never a rolled-back one, even when a transaction
that wrote its change first commits last."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from api import changes
from api.database import db
from tests.conftest import PG_URL

pytestmark = pytest.mark.skipif(not PG_URL, reason="PostgreSQL only: SQLite has one writer at a time")


def _read(engine, since: int, limit: int = 5) -> dict:
    with Session(engine) as reader:
        page = changes.read(reader, since=since, limit=limit)
        reader.commit()
        return page


def _write(engine, type_: str, ids) -> None:
    with Session(engine) as writer:
        changes.record(writer, type_, ids)
        writer.commit()


def test_a_change_committed_late_is_numbered_after_those_committed_before_it(app):
    """A writes its change first and commits last; B and C commit in between; D rolls back. The reader
    sees B and C, then A behind them with a larger seq, and never D."""
    engine = db.engine
    with Session(engine) as first, Session(engine) as rolled_back:
        changes.record(first, "institution", [1])
        changes.write(first)  # inserted, not committed: its row id is the smallest
        changes.record(rolled_back, "institution", [4])
        changes.write(rolled_back)
        _write(engine, "institution", [2])
        _write(engine, "institution", [3])

        page = _read(engine, 0)
        assert [item["id"] for item in page["items"]] == [2, 3]
        since = page["next"]

        first.commit()
        rolled_back.rollback()

    page = _read(engine, since)
    assert [item["id"] for item in page["items"]] == [1] and page["items"][0]["seq"] > since
    assert _read(engine, page["next"]) == {"items": [], "next": page["next"]}
    row_ids = dict(db.session.execute(select(changes.Change.entity_id, changes.Change.id)).all())
    assert row_ids[1] < row_ids[2] < row_ids[3]  # written in this order, numbered 2, 3, then 1


def test_readers_following_next_under_concurrent_writers_see_each_committed_change_once(app):
    """Writers in threads commit changes while some hold theirs open across others' commits and some
    roll back; two readers follow `next` throughout. Each reader ends with exactly the committed changes,
    each once, in strictly increasing seq."""
    engine = db.engine
    committed: set[int] = set()
    rolled_back: set[int] = set()
    lock = threading.Lock()
    failures: list[str] = []
    writers_done = threading.Event()

    def writer(number: int) -> None:
        try:
            for round_ in range(15):
                entity = number * 1000 + round_
                with Session(engine) as session:
                    changes.record(session, "institution", [entity])
                    changes.write(session)
                    if round_ % 5 == 0:
                        time.sleep(0.05)  # held open while the other writers commit
                    if round_ % 7 == 3:
                        session.rollback()
                        with lock:
                            rolled_back.add(entity)
                    else:
                        session.commit()
                        with lock:
                            committed.add(entity)
        except Exception as error:  # noqa: BLE001 - reported by the test, not lost in the thread
            failures.append(repr(error))

    def reader(seen: list[dict]) -> None:
        try:
            since, deadline = 0, time.monotonic() + 120
            while time.monotonic() < deadline:
                done = writers_done.is_set()  # before the read: a read after the writers finished is complete
                page = _read(engine, since, limit=7)
                seen.extend(page["items"])
                since = page["next"]
                if done and not page["items"]:
                    return
            failures.append("the reader did not catch up")
        except Exception as error:  # noqa: BLE001
            failures.append(repr(error))

    readings: list[list[dict]] = [[], []]
    readers = [threading.Thread(target=reader, args=(seen,)) for seen in readings]
    writers = [threading.Thread(target=writer, args=(number,)) for number in range(1, 6)]
    for thread in (*readers, *writers):
        thread.start()
    for thread in writers:
        thread.join(timeout=120)
    writers_done.set()
    for thread in readers:
        thread.join(timeout=150)

    assert failures == []
    assert len(committed) == 5 * 15 - len(rolled_back) and rolled_back
    for seen in readings:
        seqs = [item["seq"] for item in seen]
        assert all(a < b for a, b in zip(seqs, seqs[1:], strict=False)), "seq went backwards or repeated"
        ids = [item["id"] for item in seen]
        assert len(ids) == len(set(ids)), "a change was seen twice"
        assert set(ids) == committed

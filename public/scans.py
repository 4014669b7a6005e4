"""Scan counting per code per day. Nothing about the person scanning is stored or even seen here.

Counts are buffered in the process and added to the database in one upsert every few seconds, so
the hot path never waits on a write (and SQLite's single writer never becomes the scan's bottleneck).
A crash loses at most the last few seconds of counts of that process.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import Counter

from sqlalchemy import select

from api.database import upsert_insert
from codes.models import ScanCount

log = logging.getLogger(__name__)


class ScanCounter:
    def __init__(self, flush_seconds: float):
        self.flush_seconds = flush_seconds
        self._pending: Counter[tuple[int, dt.date]] = Counter()
        self._lock = threading.Lock()
        self._last_flush = time.monotonic()

    def record(self, code_id: int, day: dt.date) -> None:
        with self._lock:
            self._pending[(code_id, day)] += 1

    def due(self) -> bool:
        return bool(self._pending) and time.monotonic() - self._last_flush >= self.flush_seconds

    def flush(self, engine) -> int:
        """Add the buffered counts to the database; on failure they stay buffered for the next try."""
        with self._lock:
            pending, self._pending = self._pending, Counter()
            self._last_flush = time.monotonic()
        if not pending:
            return 0
        rows = [{"code_id": code_id, "day": day, "count": n} for (code_id, day), n in pending.items()]
        statement = upsert_insert(engine, ScanCount).values(rows)
        statement = statement.on_conflict_do_update(
            index_elements=[ScanCount.code_id, ScanCount.day],
            set_={"count": ScanCount.count + statement.excluded["count"]},
        )
        try:
            with engine.begin() as connection:
                connection.execute(statement)
        except Exception:  # a busy or unreachable database must not fail the scan that triggered this
            log.exception("could not store scan counts; keeping them for the next flush")
            with self._lock:
                self._pending.update(pending)
            return 0
        return len(rows)


def daily_counts(*, session, code_id: int, since: dt.date, until: dt.date) -> list[dict]:
    rows = session.execute(
        select(ScanCount.day, ScanCount.count)
        .where(ScanCount.code_id == code_id, ScanCount.day >= since, ScanCount.day <= until)
        .order_by(ScanCount.day)
    ).all()
    return [{"date": day, "count": count} for day, count in rows]

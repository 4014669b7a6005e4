"""Credit recomputed by two transactions at once (two scans of a code whose snapshot is out of date, the
daily job while a violation is recorded): the second waits for the first and reads what it wrote."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from api.database import db
from registry.models import Institution
from supervision import credit
from supervision.models import CreditRecord
from tests.conftest import PG_URL
from tests.locks import wait_until_backends_wait_for_a_lock


def _history_rows(institution_id: int) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(CreditRecord)
                             .where(CreditRecord.institution_id == institution_id))


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL only: SQLite has one writer at a time anyway")
def test_two_recomputations_of_one_institution_at_once_record_the_change_once(app, clinic):
    """The clinic's stored points are out of step with its inputs. One recomputation corrects them
    and has not committed yet when a second starts: the second must wait for it, then find nothing
    left to change, rather than compute from the old snapshot and write a second history row."""
    with Session(db.engine) as setup:
        setup.execute(update(Institution).where(Institution.id == clinic["id"])
                      .values(credit_points=Institution.credit_points + 5))
        setup.commit()
    before = _history_rows(clinic["id"])
    engine, failures, changed = db.engine, [], []

    def recompute_too():
        try:
            with Session(engine) as second:
                changed.append(credit.recompute(session=second, institution_ids=[clinic["id"]], reason="second"))
                second.commit()
        except Exception as error:  # noqa: BLE001 - reported by the test, not lost in the thread
            failures.append(repr(error))

    first = db.session
    assert credit.recompute(session=first, institution_ids=[clinic["id"]], reason="first") == 1
    second = threading.Thread(target=recompute_too)
    second.start()
    try:
        wait_until_backends_wait_for_a_lock("%institutions%")
    finally:
        first.commit()
        second.join(timeout=60)

    assert failures == [] and changed == [0]
    assert _history_rows(clinic["id"]) == before + 1

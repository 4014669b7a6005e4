"""The daily tasks the task queue's consumer runs (api.queue): what `flask refresh-leads` and `flask
recompute-credit` do, in that order, at 01:00 Beijing time. They reach into selfcheck and supervision,
so they are defined here, in the composition root, and handed to the queue by create_app()."""

from __future__ import annotations

from api.database import db
from api.queue import at_beijing
from selfcheck import service as selfcheck
from supervision import credit


def daily_sweeps() -> dict:
    """Passed self-inspection deadlines → leads, then everyone's credit; each committed on its own."""
    leads = selfcheck.sweep_leads(session=db.session)
    db.session.commit()
    changed = credit.recompute(session=db.session, reason="daily recomputation")
    db.session.commit()
    return {"institutions_with_new_leads": leads, "credit_changed": changed}


DAILY_AT = at_beijing(1)  # 01:00 Beijing time: after the day's work, before the next day's first scans
DAILY = {"daily_sweeps": (DAILY_AT, daily_sweeps)}

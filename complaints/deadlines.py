"""Deadlines of the handling workflow, in Beijing time, on the official working-day calendar.

- Accept or reject within 5 working days of submission (health-sector practice; the national rules,
  信访工作条例 Art. 22, allow 15 days: we hold the stricter one).
- Reply within 60 days of acceptance, extendable once by up to 30 days (信访工作条例 Art. 34). These are
  calendar days, as 日 is in Chinese law; a period whose last day is a rest day or public holiday ends
  on the next working day (民法典 Art. 203).

A deadline is the end of its last day in Asia/Shanghai (see api.workdays for the calendar).
"""

from __future__ import annotations

import datetime as dt

from api.workdays import (
    add_working_days,
    end_of,
    is_working_day,
    local_date,
    next_working_day_on_or_after,
)

__all__ = ["accept_due", "add_working_days", "end_of", "extended", "is_working_day", "local_date", "reply_due"]

ACCEPT_WORKING_DAYS = 5
REPLY_DAYS = 60
MAX_EXTENSION_DAYS = 30


def accept_due(submitted_at: dt.datetime) -> dt.datetime:
    return end_of(add_working_days(local_date(submitted_at), ACCEPT_WORKING_DAYS))


def days_later(start: dt.datetime, days: int) -> dt.datetime:
    """End of the period of `days` calendar days counted from the day after `start`."""
    return end_of(next_working_day_on_or_after(local_date(start) + dt.timedelta(days=days)))


def reply_due(accepted_at: dt.datetime) -> dt.datetime:
    return days_later(accepted_at, REPLY_DAYS)


def extended(reply_due_at: dt.datetime, days: int) -> dt.datetime:
    return days_later(reply_due_at, days)

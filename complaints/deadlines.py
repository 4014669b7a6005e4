"""Deadlines of the handling workflow, in Beijing time, on the official working-day calendar.

The numbers are policy parameters (api.policy: complaints.*; version 1: accept or reject within 5
working days of submission, a local choice; reply within 60 days of acceptance, extendable once by up
to 30 days, as 信访工作条例 sets). The reply days are calendar days, as 日 is in Chinese law; a period
whose last day is a rest day or public holiday ends on the next working day (民法典 Art. 203). A case
takes the version in force when it is submitted (stored with it), for all its deadlines.

A deadline is the end of its last day in Asia/Shanghai (see api.workdays for the calendar).
"""

from __future__ import annotations

import datetime as dt

from api import policy
from api.policy import Policy
from api.workdays import (
    add_working_days,
    end_of,
    is_working_day,
    local_date,
    next_working_day_on_or_after,
)

__all__ = ["accept_due", "add_working_days", "end_of", "extended", "in_force_at", "is_working_day", "local_date",
           "reply_due"]



def in_force_at(submitted_at: dt.datetime) -> Policy:
    """The policy version a case submitted at `submitted_at` is handled under."""
    return policy.in_force(local_date(submitted_at))


def accept_due(submitted_at: dt.datetime, under: Policy | None = None) -> dt.datetime:
    """`under` the case's policy version (the one in force at `submitted_at` if None)."""
    days = (under or in_force_at(submitted_at)).accept_working_days
    return end_of(add_working_days(local_date(submitted_at), days))


def days_later(start: dt.datetime, days: int) -> dt.datetime:
    """End of the period of `days` calendar days counted from the day after `start`."""
    return end_of(next_working_day_on_or_after(local_date(start) + dt.timedelta(days=days)))


def reply_due(accepted_at: dt.datetime, under: Policy | None = None) -> dt.datetime:
    return days_later(accepted_at, (under or in_force_at(accepted_at)).reply_days)


def extended(reply_due_at: dt.datetime, days: int) -> dt.datetime:
    return days_later(reply_due_at, days)

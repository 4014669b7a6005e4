"""Deadlines of the handling workflow, in Beijing time, on the official working-day calendar.

- Accept or reject within 5 working days of submission (health-sector practice; the national rules,
  信访工作条例 Art. 22, allow 15 days: we hold the stricter one).
- Reply within 60 days of acceptance, extendable once by up to 30 days (信访工作条例 Art. 34). These are
  calendar days, as 日 is in Chinese law; a period whose last day is a rest day or public holiday ends
  on the next working day (民法典 Art. 203).

A deadline is the end (23:59:59.999999) of its last day in Asia/Shanghai, stored in UTC.
chinese-calendar knows the State Council's holiday schedule only for the years it ships; beyond those,
weekends alone are rest days (a warning is logged: upgrade chinese-calendar when a new schedule is out).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging

import chinese_calendar

from api.database import SHANGHAI

ACCEPT_WORKING_DAYS = 5
REPLY_DAYS = 60
MAX_EXTENSION_DAYS = 30

log = logging.getLogger(__name__)


def is_working_day(day: dt.date) -> bool:
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        _warn_no_schedule(day.year)
        return day.weekday() < 5


@functools.cache
def _warn_no_schedule(year: int) -> None:
    log.warning("no holiday schedule for %s in chinese-calendar; counting weekends only", year)


def add_working_days(day: dt.date, count: int) -> dt.date:
    """The `count`-th working day after `day` (the day itself never counts)."""
    while count > 0:
        day += dt.timedelta(days=1)
        if is_working_day(day):
            count -= 1
    return day


def next_working_day_on_or_after(day: dt.date) -> dt.date:
    while not is_working_day(day):
        day += dt.timedelta(days=1)
    return day


def end_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.max, tzinfo=SHANGHAI).astimezone(dt.UTC)


def local_date(moment: dt.datetime) -> dt.date:
    return moment.astimezone(SHANGHAI).date()


def accept_due(submitted_at: dt.datetime) -> dt.datetime:
    return end_of(add_working_days(local_date(submitted_at), ACCEPT_WORKING_DAYS))


def days_later(start: dt.datetime, days: int) -> dt.datetime:
    """End of the period of `days` calendar days counted from the day after `start`."""
    return end_of(next_working_day_on_or_after(local_date(start) + dt.timedelta(days=days)))


def reply_due(accepted_at: dt.datetime) -> dt.datetime:
    return days_later(accepted_at, REPLY_DAYS)


def extended(reply_due_at: dt.datetime, days: int) -> dt.datetime:
    return days_later(reply_due_at, days)

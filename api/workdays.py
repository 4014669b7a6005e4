"""Working days on the official calendar (chinese-calendar), and deadlines in Beijing time.

chinese-calendar knows the State Council's holiday schedule only for the years it ships; beyond those,
weekends alone are rest days (a warning is logged once: upgrade chinese-calendar when a new schedule
is out). A deadline is the end (23:59:59.999999) of its last day in Asia/Shanghai, stored in UTC.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging

import chinese_calendar

from api.database import SHANGHAI

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=4096)
def is_working_day(day: dt.date) -> bool:
    # Cached: chinese-calendar checks the date against its whole table on every call, and every
    # submission counts five working days ahead.
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

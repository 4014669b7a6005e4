"""Working days on the official calendar, and deadlines in Beijing time.

The State Council publishes each year's holiday schedule (国务院办公厅关于部分节假日安排的通知) in
November or December; chinese-calendar ships it some time later. Until it does, an operator can supply
that year from the published notice (`ONECODE_HOLIDAY_SCHEDULE`, a JSON file; docs/decisions.md).
A year neither knows counts weekends alone as rest days, and a warning is logged once per year.
A deadline is the end (23:59:59.999999) of its last day in Asia/Shanghai, stored in UTC.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
from dataclasses import dataclass

import chinese_calendar
from flask import current_app, has_app_context

from api.config import ConfigError
from api.database import SHANGHAI

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class YearSchedule:
    """One year as the notice gives it: the weekdays off (放假) and the weekend days worked (调休上班)."""

    rest_days: frozenset[dt.date]
    working_days: frozenset[dt.date]

    def is_working_day(self, day: dt.date) -> bool:
        if day in self.working_days:
            return True
        return day.weekday() < 5 and day not in self.rest_days


class WorkCalendar:
    """chinese-calendar's schedules, with the years an operator supplied taking precedence."""

    def __init__(self, supplied: dict[int, YearSchedule] | None = None) -> None:
        self.supplied = dict(supplied or {})
        # Every submission counts five working days ahead: chinese-calendar checks a date against its
        # whole table on each call.
        self._known: dict[dt.date, bool] = {}

    def is_working_day(self, day: dt.date) -> bool:
        known = self._known.get(day)
        if known is None:
            known = self._known[day] = self._look_up(day)
        return known

    def _look_up(self, day: dt.date) -> bool:
        schedule = self.supplied.get(day.year)
        if schedule is not None:
            return schedule.is_working_day(day)
        try:
            return chinese_calendar.is_workday(day)
        except NotImplementedError:
            _warn_no_schedule(day.year)
            return day.weekday() < 5


LIBRARY_CALENDAR = WorkCalendar()


@functools.cache
def _warn_no_schedule(year: int) -> None:
    log.warning("no holiday schedule for %s (chinese-calendar has none, ONECODE_HOLIDAY_SCHEDULE "
                "supplies none): counting weekends only", year)


def current_calendar() -> WorkCalendar:
    """The app's calendar (with its supplied years) inside a request or command, else the library's."""
    if has_app_context():
        return current_app.extensions.get("work_calendar", LIBRARY_CALENDAR)
    return LIBRARY_CALENDAR


def is_working_day(day: dt.date) -> bool:
    return current_calendar().is_working_day(day)


def add_working_days(day: dt.date, count: int) -> dt.date:
    """The `count`-th working day after `day` (the day itself never counts)."""
    calendar = current_calendar()
    while count > 0:
        day += dt.timedelta(days=1)
        if calendar.is_working_day(day):
            count -= 1
    return day


def next_working_day_on_or_after(day: dt.date) -> dt.date:
    calendar = current_calendar()
    while not calendar.is_working_day(day):
        day += dt.timedelta(days=1)
    return day


def end_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.max, tzinfo=SHANGHAI).astimezone(dt.UTC)


def local_date(moment: dt.datetime) -> dt.date:
    return moment.astimezone(SHANGHAI).date()


# ---- supplied schedules (ONECODE_HOLIDAY_SCHEDULE) ---------------------------------------------

def load_schedule(path: str) -> dict[int, YearSchedule]:
    """Read and check a schedule file; anything doubtful stops the app (a wrong holiday moves every
    deadline of the year). The format, with ISO dates or `start/end` ranges (both days included):

        {"2027": {"rest_days": ["2027-01-01", "2027-02-06/2027-02-12"], "working_days": ["2027-02-14"]}}
    """
    def fail(problem: str) -> ConfigError:
        return ConfigError(f"ONECODE_HOLIDAY_SCHEDULE ({path}): {problem}")

    try:
        with open(path, encoding="utf-8") as file:
            document = json.load(file)
    except OSError as error:
        raise fail(f"cannot be read: {error.strerror}") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise fail(f"is not JSON: {error}") from None
    if not isinstance(document, dict) or not document:
        raise fail('must be an object of years, e.g. {"2027": {"rest_days": [...], "working_days": [...]}}')

    schedules: dict[int, YearSchedule] = {}
    for key, entry in document.items():
        if not (isinstance(key, str) and key.isdigit() and len(key) == 4):
            raise fail(f"{key!r} is not a year")
        year = int(key)
        if not isinstance(entry, dict) or set(entry) - {"rest_days", "working_days"}:
            raise fail(f"{key} must have only rest_days and working_days")
        rest = _days(entry.get("rest_days", []), year, f"{key}.rest_days", fail)
        worked = _days(entry.get("working_days", []), year, f"{key}.working_days", fail)
        if not rest:
            raise fail(f"{key}.rest_days is empty: every year has public holidays")
        if both := sorted(rest & worked):
            raise fail(f"{both[0]} is both a rest day and a working day")
        if weekdays := sorted(day for day in worked if day.weekday() < 5):
            raise fail(f"working day {weekdays[0]} is a weekday already; list only the weekend days worked (调休上班)")
        schedules[year] = YearSchedule(frozenset(rest), frozenset(worked))
    return schedules


def _days(items: object, year: int, where: str, fail) -> set[dt.date]:
    if not isinstance(items, list):
        raise fail(f"{where} must be a list of dates")
    days: set[dt.date] = set()
    for item in items:
        if not isinstance(item, str):
            raise fail(f"{where}: {item!r} is not a date")
        start_text, _, end_text = item.partition("/")
        try:
            start = dt.date.fromisoformat(start_text)
            end = dt.date.fromisoformat(end_text) if end_text else start
        except ValueError:
            raise fail(f"{where}: {item!r} is not a date (YYYY-MM-DD) or range (YYYY-MM-DD/YYYY-MM-DD)") from None
        if end < start or (end - start).days > 31:
            raise fail(f"{where}: {item!r} is not a range of at most a month, start first")
        if start.year != year or end.year != year:
            raise fail(f"{where}: {item!r} is not in {year}")
        days.update(start + dt.timedelta(days=n) for n in range((end - start).days + 1))
    return days

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
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import chinese_calendar
from flask import current_app, has_app_context

from api.config import ConfigError
from api.database import SHANGHAI

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SuppliedSchedule:
    """What the operator's file says: the years it covers, and the days it names in them.

    A notice may reach into the neighbouring year (the 2019 one gave 2018-12-30 off and made Saturday
    2018-12-29 a working day), so a named day decides for itself whatever its year; any other day of a
    covered year is a working day from Monday to Friday."""

    years: frozenset[int] = frozenset()
    named_days: dict[dt.date, bool] = field(default_factory=dict)  # day -> is a working day


class WorkCalendar:
    """chinese-calendar's schedules, with what an operator supplied taking precedence."""

    def __init__(self, supplied: SuppliedSchedule | None = None) -> None:
        self.supplied = supplied or SuppliedSchedule()
        # Every submission counts five working days ahead: chinese-calendar checks a date against its
        # whole table on each call.
        self._known: dict[dt.date, bool] = {}

    def is_working_day(self, day: dt.date) -> bool:
        known = self._known.get(day)
        if known is None:
            known = self._known[day] = self._look_up(day)
        return known

    def _look_up(self, day: dt.date) -> bool:
        named = self.supplied.named_days.get(day)
        if named is not None:
            return named
        if day.year in self.supplied.years:
            return day.weekday() < 5
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

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_LONGEST_BREAK = 15  # days in one range; the longest official break is 9 (Spring Festival 2026)


def load_schedule(path: str) -> SuppliedSchedule:
    """Read and check a schedule file; anything doubtful stops the app (a wrong holiday moves every
    deadline of the year). The format, with ISO dates or `start/end` ranges (both days included):

        {"2027": {"rest_days": ["2027-01-01", "2027-02-06/2027-02-12"], "working_days": ["2027-02-14"]}}

    A year's days are in that year, or in the last days of December before it or the first of
    January after it (a notice's New Year arrangement may reach across)."""
    def refusal(problem: str) -> ConfigError:
        return ConfigError(f"ONECODE_HOLIDAY_SCHEDULE ({path}): {problem}")

    try:
        with open(path, encoding="utf-8") as file:
            document = json.load(file, object_pairs_hook=_refuse_duplicate_keys)
    except OSError as error:
        raise refusal(f"cannot be read: {error.strerror}") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise refusal(f"is not JSON: {error}") from None
    if not isinstance(document, dict) or not document:
        raise refusal('must be an object of years, e.g. {"2027": {"rest_days": [...], "working_days": [...]}}')

    named_days: dict[dt.date, bool] = {}
    for key, entry in document.items():
        if not re.fullmatch(r"[0-9]{4}", key):
            raise refusal(f"{key!r} is not a year")
        year = int(key)
        if not isinstance(entry, dict) or set(entry) - {"rest_days", "working_days"}:
            raise refusal(f"{key} must have only rest_days and working_days")
        rest = _days(entry.get("rest_days", []), year, f"{key}.rest_days", refusal)
        worked = _days(entry.get("working_days", []), year, f"{key}.working_days", refusal)
        if not rest:
            raise refusal(f"{key}.rest_days is empty: every year has public holidays")
        if weekdays := sorted(day for day in worked if day.weekday() < 5):
            raise refusal(f"working day {weekdays[0]} is a weekday already; list only the weekend days worked (调休上班)")
        for day, working in [*((day, False) for day in rest), *((day, True) for day in worked)]:
            if named_days.setdefault(day, working) != working:
                raise refusal(f"{day} is both a rest day and a working day")
    return SuppliedSchedule(frozenset(int(key) for key in document), named_days)


def _refuse_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    # json keeps the last of two equal keys: a second "rest_days" would silently drop the first.
    keys = [key for key, _ in pairs]
    if duplicates := sorted({key for key in keys if keys.count(key) > 1}):
        raise ValueError(f"{duplicates[0]!r} appears twice in one object")
    return dict(pairs)


def _days(items: object, year: int, where: str, refusal: Callable[[str], ConfigError]) -> set[dt.date]:
    if not isinstance(items, list):
        raise refusal(f"{where} must be a list of dates")
    first, last = dt.date(year - 1, 12, 25), dt.date(year + 1, 1, 7)
    days: set[dt.date] = set()
    for item in items:
        if not isinstance(item, str):
            raise refusal(f"{where}: {item!r} is not a date")
        start_text, slash, end_text = item.partition("/")
        start = _iso_date(start_text)
        end = _iso_date(end_text) if slash else start
        if start is None or end is None:
            raise refusal(f"{where}: {item!r} is not a date (YYYY-MM-DD) or range (YYYY-MM-DD/YYYY-MM-DD)")
        if end < start or (end - start).days >= _LONGEST_BREAK:
            raise refusal(f"{where}: {item!r} is not a range of at most {_LONGEST_BREAK} days, start first")
        if start < first or end > last:
            raise refusal(f"{where}: {item!r} is not in {year} (or the week around its New Year)")
        days.update(start + dt.timedelta(days=n) for n in range((end - start).days + 1))
    return days


def _iso_date(text: str) -> dt.date | None:
    # fromisoformat alone would also take 20270101 and week dates (2027-W06-1).
    if not _ISO_DATE.fullmatch(text):
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:  # 2027-02-30
        return None

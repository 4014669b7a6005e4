"""A holiday schedule the operator supplies (ONECODE_HOLIDAY_SCHEDULE) for a year chinese-calendar does
not ship yet: its rest days and make-up working days move deadlines, and a doubtful file stops the app.

2099 stands in for such a year (chinese-calendar has no schedule for it); 2099-01-01 is a Thursday.
"""

from __future__ import annotations

import datetime as dt
import json
import logging

import chinese_calendar
import pytest

from api.config import ConfigError
from api.database import SHANGHAI
from api.workdays import LIBRARY_CALENDAR, WorkCalendar, load_schedule
from complaints import deadlines
from onecode import create_app
from tests.complaints.helpers import submitted

NEW_YEAR_2099 = {"2099": {"rest_days": ["2099-01-01/2099-01-02"], "working_days": ["2099-01-04"]}}


@pytest.fixture
def schedule_file(tmp_path):
    def write(document, name="holidays.json") -> str:
        path = tmp_path / name
        path.write_text(document if isinstance(document, str) else json.dumps(document), encoding="utf-8")
        return str(path)

    return write


def test_the_premise_chinese_calendar_has_no_schedule_for_2099():
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(dt.date(2099, 1, 1))


def test_a_supplied_year_rests_on_its_holidays_and_works_its_make_up_sunday(schedule_file):
    calendar = WorkCalendar(load_schedule(schedule_file(NEW_YEAR_2099)))

    assert not calendar.is_working_day(dt.date(2099, 1, 1))  # New Year's Day, a Thursday
    assert not calendar.is_working_day(dt.date(2099, 1, 2))  # the Friday after it
    assert not calendar.is_working_day(dt.date(2099, 1, 3))  # an ordinary Saturday
    assert calendar.is_working_day(dt.date(2099, 1, 4))  # the Sunday worked in exchange
    assert calendar.is_working_day(dt.date(2099, 1, 5))  # an ordinary Monday
    # Without the schedule the same days are a plain week.
    assert LIBRARY_CALENDAR.is_working_day(dt.date(2099, 1, 1))
    assert not LIBRARY_CALENDAR.is_working_day(dt.date(2099, 1, 4))


def test_years_the_file_does_not_name_keep_chinese_calendars_schedule(schedule_file):
    calendar = WorkCalendar(load_schedule(schedule_file(NEW_YEAR_2099)))

    for day in (dt.date(2026, 10, 1), dt.date(2026, 10, 8), dt.date(2026, 10, 10), dt.date(2026, 10, 12)):
        assert calendar.is_working_day(day) == chinese_calendar.is_workday(day)


def test_a_notice_reaching_into_the_december_before_decides_those_days(schedule_file):
    """As the 2019 notice did: Saturday 2098-12-27 worked, Wednesday 12-31 off; the rest of 2098 (a
    year the file does not cover) stays as it was."""
    document = {"2099": {"rest_days": ["2098-12-31/2099-01-01"], "working_days": ["2098-12-27"]}}
    calendar = WorkCalendar(load_schedule(schedule_file(document)))

    assert calendar.is_working_day(dt.date(2098, 12, 27))
    assert not calendar.is_working_day(dt.date(2098, 12, 31))
    assert calendar.is_working_day(dt.date(2098, 12, 30))  # an ordinary Tuesday
    assert not calendar.is_working_day(dt.date(2098, 12, 28))  # an ordinary Sunday


def test_a_reply_deadline_on_a_supplied_holiday_moves_to_the_next_working_day(make_app, schedule_file):
    """Accepted on Thursday 2099-01-01: 60 days later is Monday 03-02, made a rest day with Tuesday."""
    accepted = dt.datetime(2099, 1, 1, 10, 0, tzinfo=SHANGHAI)
    app = make_app(HOLIDAY_SCHEDULE=schedule_file({"2099": {"rest_days": ["2099-03-02/2099-03-03"]}}))

    with app.app_context():
        due = deadlines.reply_due(accepted)

    assert deadlines.local_date(due) == dt.date(2099, 3, 4)
    assert deadlines.local_date(deadlines.reply_due(accepted)) == dt.date(2099, 3, 2)  # no app: the library


def test_a_regulator_gets_the_supplied_holidays_in_the_acceptance_deadline(make_app, schedule_file):
    """A complaint filed on New Year's Eve 2098 (a Wednesday): the five working days are Sunday 4,
    Monday 5 … Thursday 8 with the supplied schedule; Thursday 1 … Wednesday 7 without it."""
    filed = dt.datetime(2098, 12, 31, 10, 0, tzinfo=SHANGHAI)
    with_schedule = make_app(HOLIDAY_SCHEDULE=schedule_file(NEW_YEAR_2099))
    without = make_app()

    with with_schedule.app_context():
        supplied_due = deadlines.accept_due(filed)
    with without.app_context():
        plain_due = deadlines.accept_due(filed)

    assert deadlines.local_date(supplied_due) == dt.date(2099, 1, 8)
    assert deadlines.local_date(plain_due) == dt.date(2099, 1, 7)


def test_a_supplied_year_corrects_the_library_for_a_complaint_filed_today(make_app, schedule_file):
    """The operator's file wins over chinese-calendar for a year both know: with the next seven days
    made rest days, today's complaint is due on the fifth weekday after them (the years named in the
    file have no other holidays)."""
    today = dt.datetime.now(SHANGHAI).date()
    rest = [today + dt.timedelta(days=n) for n in range(1, 8)]
    document = {str(year): {"rest_days": [d.isoformat() for d in rest if d.year == year] or [f"{year}-06-01"]}
                for year in {today.year, rest[-1].year + 1, *(d.year for d in rest)}}
    expected, counted = rest[-1], 0
    while counted < 5:
        expected += dt.timedelta(days=1)
        counted += expected.weekday() < 5
    client = make_app(HOLIDAY_SCHEDULE=schedule_file(document)).test_client()

    receipt = submitted(client)

    due = dt.datetime.fromisoformat(receipt["accept_due_at"])
    assert due.astimezone(SHANGHAI).date() == expected


def test_the_setting_is_read_from_the_environment(monkeypatch, make_app, schedule_file):
    monkeypatch.setenv("ONECODE_HOLIDAY_SCHEDULE", schedule_file(NEW_YEAR_2099))
    app = make_app()

    with app.app_context():
        assert not deadlines.is_working_day(dt.date(2099, 1, 1))


def test_a_supplied_year_is_not_warned_about(make_app, schedule_file, caplog):
    # The warning is logged once per year and process; 2096 is used by no other test.
    app = make_app(HOLIDAY_SCHEDULE=schedule_file({"2096": {"rest_days": ["2096-01-01"]}}))

    with app.app_context(), caplog.at_level(logging.WARNING):
        deadlines.accept_due(dt.datetime(2096, 3, 4, 10, tzinfo=SHANGHAI))

    assert not [r for r in caplog.records if "2096" in r.getMessage()]


@pytest.mark.parametrize(("document", "problem"), [
    ("{not json", "is not JSON"),
    ([], "must be an object of years"),
    ({}, "must be an object of years"),
    ({"27": {"rest_days": ["2027-01-01"]}}, "is not a year"),
    ({"2027": ["2027-01-01"]}, "only rest_days and working_days"),
    ({"2027": {"rest_days": ["2027-01-01"], "holidays": []}}, "only rest_days and working_days"),
    ({"2027": {"rest_days": "2027-01-01"}}, "must be a list of dates"),
    ({"2027": {"rest_days": [20270101]}}, "is not a date"),
    ({"2027": {"rest_days": ["2027-02-30"]}}, "is not a date"),
    ({"2027": {"rest_days": ["20270101"]}}, "is not a date"),
    ({"2027": {"rest_days": ["2027-01-01/"]}}, "is not a date"),
    ({"２０２７": {"rest_days": ["2027-01-01"]}}, "is not a year"),
    ({"2027": {"rest_days": ["2027-01-01", "2028-01-08"]}}, "is not in 2027"),
    ({"2027": {"rest_days": ["2026-12-24"]}}, "is not in 2027"),
    ({"2027": {"rest_days": ["2027-02-12/2027-02-06"]}}, "at most 15 days, start first"),
    ({"2027": {"rest_days": ["2027-01-01/2027-01-31"]}}, "at most 15 days, start first"),
    ('{"2027": {"rest_days": ["2027-01-01"], "rest_days": ["2027-02-06/2027-02-12"]}}',
     "'rest_days' appears twice"),
    ({"2027": {"working_days": ["2027-02-14"]}}, "rest_days is empty"),
    ({"2027": {"rest_days": ["2027-02-06/2027-02-12"], "working_days": ["2027-02-07"]}},
     "2027-02-07 is both a rest day and a working day"),
    ({"2027": {"rest_days": ["2027-01-01"], "working_days": ["2027-02-15"]}}, "2027-02-15 is a weekday already"),
])
def test_a_doubtful_schedule_stops_the_app_and_says_what_is_wrong(schedule_file, document, problem):
    path = schedule_file(document)

    with pytest.raises(ConfigError, match="ONECODE_HOLIDAY_SCHEDULE") as refused:
        create_app({"ENV": "testing", "DATABASE_URL": "sqlite://", "HOLIDAY_SCHEDULE": path})

    assert problem in str(refused.value)
    assert path in str(refused.value)


def test_a_missing_schedule_file_stops_the_app(tmp_path):
    with pytest.raises(ConfigError, match="cannot be read"):
        create_app({"ENV": "testing", "DATABASE_URL": "sqlite://", "HOLIDAY_SCHEDULE": str(tmp_path / "nope.json")})

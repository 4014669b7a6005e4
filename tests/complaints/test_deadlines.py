"""Deadlines of the handling workflow, on the official calendar (service level, no HTTP).

Accept or reject by the end (Beijing time) of the 5th working day after submission; reply within 60
calendar days of acceptance, moved to the next working day when that day is a rest day; one
extension of up to 30 days. The expected dates below were read off chinese-calendar's 2026 schedule.
"""

from __future__ import annotations

import datetime as dt
import logging

import chinese_calendar
import pytest

from api import policy
from api.database import SHANGHAI
from complaints import deadlines

UTC = dt.UTC


def beijing(year, month, day, hour=10, minute=0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def end_of_beijing_day(year, month, day) -> dt.datetime:
    """23:59:59.999999 in Beijing, which is 15:59:59.999999 UTC the same day."""
    return dt.datetime(year, month, day, 15, 59, 59, 999999, tzinfo=UTC)


# ---- the calendar the expectations rely on ------------------------------------------------------

def test_the_2026_calendar_has_the_national_day_holiday_and_make_up_saturdays():
    """The facts of chinese-calendar that the dates below are derived from."""
    national_day = [dt.date(2026, 10, d) for d in range(1, 8)]
    assert not any(chinese_calendar.is_workday(day) for day in national_day)
    assert chinese_calendar.is_workday(dt.date(2026, 10, 8))  # Thursday after the week off
    assert chinese_calendar.is_workday(dt.date(2026, 10, 10))  # a Saturday made a working day
    make_up = [d for d in chinese_calendar.get_workdays(dt.date(2026, 1, 1), dt.date(2026, 12, 31))
               if d.weekday() >= 5]
    assert {dt.date(2026, 2, 14), dt.date(2026, 5, 9), dt.date(2026, 10, 10)} <= set(make_up)


# ---- accepting: 5 working days ----------------------------------------------------------------

def test_accept_due_is_the_end_of_the_fifth_working_day_in_an_ordinary_week():
    # Monday 2026-06-01: Tue 2, Wed 3, Thu 4, Fri 5, Mon 8.
    assert deadlines.accept_due(beijing(2026, 6, 1)) == end_of_beijing_day(2026, 6, 8)


def test_accept_due_skips_the_weekend():
    # Friday 2026-06-05: Mon 8 .. Fri 12.
    assert deadlines.accept_due(beijing(2026, 6, 5)) == end_of_beijing_day(2026, 6, 12)


def test_accept_due_is_the_last_microsecond_of_the_day_in_beijing():
    due = deadlines.accept_due(beijing(2026, 6, 1))

    local = due.astimezone(SHANGHAI)
    assert (local.date(), local.time()) == (dt.date(2026, 6, 8), dt.time.max)
    assert due.utcoffset() == dt.timedelta(0)  # stored in UTC


def test_accept_due_skips_the_national_day_holiday():
    # Wednesday 2026-09-30; 10-01..10-07 are off; working: Thu 10-08, Fri 10-09, Sat 10-10 (make-up),
    # Mon 10-12, Tue 10-13.
    assert deadlines.accept_due(beijing(2026, 9, 30)) == end_of_beijing_day(2026, 10, 13)


def test_accept_due_for_a_complaint_filed_during_the_holiday_starts_counting_after_it():
    assert deadlines.accept_due(beijing(2026, 10, 3)) == end_of_beijing_day(2026, 10, 13)


def test_a_make_up_working_saturday_counts_as_a_working_day():
    # Friday 2026-05-08; Saturday 05-09 is a working day after the Labour Day holiday:
    # Sat 9, Mon 11, Tue 12, Wed 13, Thu 14 (weekends alone would give Fri 15).
    assert deadlines.is_working_day(dt.date(2026, 5, 9))
    assert deadlines.accept_due(beijing(2026, 5, 8)) == end_of_beijing_day(2026, 5, 14)


def test_accept_due_across_the_spring_festival_counts_the_make_up_saturday_and_skips_the_holiday():
    # Friday 2026-02-13: Sat 02-14 is worked, 02-15..02-23 are off, then Tue 24, Wed 25, Thu 26, Fri 27.
    assert deadlines.accept_due(beijing(2026, 2, 13)) == end_of_beijing_day(2026, 2, 27)


def test_accept_due_counts_from_the_beijing_date_not_the_utc_date():
    # 2026-06-04 17:00 UTC is Friday 06-05 01:00 in Beijing: counted from Friday, not Thursday.
    submitted = dt.datetime(2026, 6, 4, 17, 0, tzinfo=UTC)
    assert deadlines.accept_due(submitted) == end_of_beijing_day(2026, 6, 12)


def test_the_submission_day_itself_never_counts():
    # Submitted on a working Monday just after midnight: still 5 more working days.
    assert deadlines.accept_due(beijing(2026, 6, 1, 0, 1)) == end_of_beijing_day(2026, 6, 8)


# ---- replying: 60 calendar days ---------------------------------------------------------------

def test_reply_due_is_sixty_calendar_days_after_acceptance():
    # 2026-06-01 + 60 days = Friday 2026-07-31, a working day.
    assert deadlines.reply_due(beijing(2026, 6, 1)) == end_of_beijing_day(2026, 7, 31)


def test_reply_due_landing_on_a_saturday_moves_to_monday():
    # 2026-06-02 + 60 days = Saturday 2026-08-01 -> Monday 08-03.
    assert deadlines.reply_due(beijing(2026, 6, 2)) == end_of_beijing_day(2026, 8, 3)


def test_reply_due_landing_in_the_national_day_holiday_moves_to_the_first_working_day_after_it():
    # 2026-08-02 + 60 days = 2026-10-01 (holiday until 10-07) -> 10-08.
    assert deadlines.reply_due(beijing(2026, 8, 2)) == end_of_beijing_day(2026, 10, 8)


def test_reply_due_landing_on_a_make_up_saturday_stays_there():
    # 2026-08-11 + 60 days = Saturday 2026-10-10, a working day.
    assert deadlines.reply_due(beijing(2026, 8, 11)) == end_of_beijing_day(2026, 10, 10)


def test_reply_due_counts_from_the_beijing_date_of_acceptance():
    # 2026-06-01 16:30 UTC is 06-02 00:30 in Beijing: + 60 days = Sat 08-01 -> Mon 08-03.
    accepted = dt.datetime(2026, 6, 1, 16, 30, tzinfo=UTC)
    assert deadlines.reply_due(accepted) == end_of_beijing_day(2026, 8, 3)


# ---- the one extension ------------------------------------------------------------------------

MAX_EXTENSION_DAYS = policy.packaged().in_force(dt.date(2026, 6, 1)).max_extension_days


def test_the_packaged_policy_allows_an_extension_of_at_most_thirty_days():
    assert MAX_EXTENSION_DAYS == 30


def test_an_extension_adds_calendar_days_to_the_reply_deadline():
    due = deadlines.reply_due(beijing(2026, 6, 1))  # end of Friday 07-31

    # + 10 days = Monday 08-10, a working day.
    assert deadlines.extended(due, 10) == end_of_beijing_day(2026, 8, 10)


def test_an_extension_landing_on_a_sunday_moves_to_monday():
    due = deadlines.reply_due(beijing(2026, 6, 1))  # end of Friday 07-31

    # + 30 days = Sunday 08-30 -> Monday 08-31.
    assert deadlines.extended(due, 30) == end_of_beijing_day(2026, 8, 31)


def test_an_extension_landing_in_a_holiday_moves_past_it():
    due = end_of_beijing_day(2026, 9, 14)  # a Monday

    # + 20 days = Sunday 10-04, in the National Day holiday -> 10-08.
    assert deadlines.extended(due, 20) == end_of_beijing_day(2026, 10, 8)


def test_a_longer_extension_never_gives_an_earlier_deadline():
    due = deadlines.reply_due(beijing(2026, 6, 1))
    moved = [deadlines.extended(due, days) for days in range(1, MAX_EXTENSION_DAYS + 1)]

    assert all(due < m for m in moved)
    assert moved == sorted(moved)
    assert moved[-1] - due <= dt.timedelta(days=MAX_EXTENSION_DAYS + 10)


# ---- a year chinese-calendar has no schedule for ---------------------------------------------

def test_a_year_without_a_holiday_schedule_counts_weekends_only():
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(dt.date(2099, 1, 1))  # the premise: no schedule for 2099

    assert deadlines.is_working_day(dt.date(2099, 1, 1))  # New Year's Day, unknown: a Thursday
    assert not deadlines.is_working_day(dt.date(2099, 1, 3))  # Saturday
    assert not deadlines.is_working_day(dt.date(2099, 1, 4))  # Sunday


def test_accept_due_in_a_year_without_a_schedule_skips_weekends_only():
    # Thursday 2099-01-01: Fri 2, Mon 5, Tue 6, Wed 7, Thu 8.
    assert deadlines.accept_due(beijing(2099, 1, 1)) == end_of_beijing_day(2099, 1, 8)


def test_reply_due_in_a_year_without_a_schedule_moves_off_the_weekend():
    # 2099-01-06 + 60 days = Saturday 2099-03-07 -> Monday 03-09.
    assert deadlines.reply_due(beijing(2099, 1, 6)) == end_of_beijing_day(2099, 3, 9)
    assert deadlines.extended(end_of_beijing_day(2099, 3, 9), 5) == end_of_beijing_day(2099, 3, 16)  # Sat 14 -> Mon 16


def test_a_year_without_a_schedule_logs_a_warning(caplog):
    # The warning is logged once per year and process; 2097 is used by no other test.
    with caplog.at_level(logging.WARNING):
        deadlines.accept_due(beijing(2097, 6, 3))

    assert any(r.levelno == logging.WARNING and "2097" in r.getMessage() for r in caplog.records)

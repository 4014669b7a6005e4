"""Self-inspection periods: `2026-Q4` (routine, at least quarterly) and `2026` (full, at least yearly).

A period is due by the end of the month after it ends (Q3 by 31 October; the year by 31 January).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from api.errors import ValidationFailed

_PERIOD = re.compile(r"^(\d{4})(?:-Q([1-4]))?$")


@dataclass(frozen=True)
class Period:
    label: str
    year: int
    quarter: int | None
    start: dt.date
    end: dt.date

    @property
    def kind(self) -> str:
        return "quarter" if self.quarter else "year"

    @property
    def due(self) -> dt.date:
        """Last day of the month after the period."""
        first_of_next = self.end + dt.timedelta(days=1)
        month_after = (first_of_next.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        return month_after - dt.timedelta(days=1)


def parse(label: str) -> Period:
    match = _PERIOD.match(label or "")
    if not match or not 2000 <= int(match.group(1)) <= 2100:
        raise ValidationFailed(fields={"period": ["自查周期格式应为 2026-Q4（季度）或 2026（年度）"]})
    year, quarter = int(match.group(1)), int(match.group(2)) if match.group(2) else None
    if quarter:
        start = dt.date(year, 3 * quarter - 2, 1)
        end = (dt.date(year + (quarter == 4), (3 * quarter) % 12 + 1, 1)) - dt.timedelta(days=1)
    else:
        start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    return Period(label, year, quarter, start, end)


def for_filing(label: str, today: dt.date) -> Period:
    """A period an institution may file for now: begun already (the current one or an earlier one)."""
    period = parse(label)
    if period.start > today:
        raise ValidationFailed(fields={"period": [f"{label} 尚未开始，不能提前自查"]})
    return period


def quarter_of(day: dt.date) -> Period:
    return parse(f"{day.year}-Q{(day.month - 1) // 3 + 1}")


def last_quarter_past_due(today: dt.date) -> Period:
    """The latest quarter whose filing deadline has passed by `today`."""
    period = quarter_of(today)
    while period.due >= today:
        previous_end = period.start - dt.timedelta(days=1)
        period = quarter_of(previous_end)
    return period

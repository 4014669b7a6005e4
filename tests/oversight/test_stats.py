"""The leaders' numbers (oversight.stats.compute) over the hand-built district of conftest.py: each
expected number is worked out from that data next to its assertion."""

from __future__ import annotations

import datetime as dt

import pytest

from api.errors import Forbidden, ValidationFailed
from oversight import stats
from registry.models import Institution
from tests.oversight.conftest import HONGJIALOU, SHANDA


def numbers(session, account, district, *, group_by=None, department=None, street=None, **period):
    return stats.compute(session=session, account=account, date_from=period.get("date_from", district.date_from),
                         date_to=period.get("date_to", district.date_to), department=department, street=street,
                         group_by=group_by)


def by_key(result) -> dict:
    return {group["key"]: group for group in result["groups"]}


def test_the_total_counts_the_years_complaints_by_what_happened_to_them(session, admin, district):
    result = numbers(session, admin.account, district)
    assert result["from"] == district.date_from and result["to"] == district.date_to
    assert result["groups"] == []
    # Received 1, 2, 3, 4, 5, 7 (6 is 1 January next year in Beijing); accepted 1, 2, 3, 7; closed 1;
    # overdue 2 (reply) and 4 (acceptance); answered: 1 on time, 3 late, 2 past due unanswered.
    assert result["total"]["complaints"] == {"received": 6, "accepted": 4, "closed": 1, "overdue": 2,
                                             "on_time_rate": 0.3333, "avg_rating": 3.5}


def test_complaints_are_grouped_by_the_department_holding_them(session, admin, district):
    groups = by_key(numbers(session, admin.account, district, group_by="department"))
    assert list(groups) == ["health", "market", "medical_insurance", "ecology", "public_security", "approval"]
    assert groups["health"]["complaints"] == {"received": 4, "accepted": 3, "closed": 1, "overdue": 1,
                                              "on_time_rate": 0.5, "avg_rating": 5.0}
    assert groups["market"]["complaints"] == {"received": 1, "accepted": 1, "closed": 0, "overdue": 0,
                                              "on_time_rate": 0.0, "avg_rating": 2.0}
    assert groups["medical_insurance"]["complaints"]["overdue"] == 1
    assert groups["medical_insurance"]["complaints"]["on_time_rate"] is None  # nothing answered or due
    assert groups["ecology"]["complaints"]["received"] == 0


def test_complaints_by_street_put_the_unlicensed_place_under_no_street(session, admin, district):
    groups = by_key(numbers(session, admin.account, district, group_by="street"))
    assert list(groups) == [*sorted([SHANDA, HONGJIALOU]), None]  # named streets in order, none last
    assert groups[SHANDA]["complaints"]["received"] == 2
    assert groups[HONGJIALOU]["complaints"]["received"] == 3
    assert groups[None]["complaints"]["received"] == 1


def test_months_are_beijing_months_and_every_month_of_the_period_is_shown(session, admin, district):
    result = numbers(session, admin.account, district, group_by="month")
    groups = by_key(result)
    year = district.year
    assert list(groups) == [f"{year}-{month:02d}" for month in range(1, 13)]
    assert {key: group["complaints"]["received"] for key, group in groups.items() if group["complaints"]["received"]} \
        == {f"{year}-03": 2, f"{year}-06": 2, f"{year}-09": 1, f"{year}-12": 1}


def test_self_checks_count_quarters_due_in_the_period_and_filings_made_by_their_deadline(session, admin, district):
    total = numbers(session, admin.account, district)["total"]["selfchecks"]
    # Due: last year's Q4 and this year's Q1-Q3 for A, B, C (4 x 3), Q3 alone for D (registered in May).
    # On time: A's Q1 and its full year filed in Q3, C's Q4, D's Q3 (A's Q2 and B's Q1 were late; B's
    # first Q1 filing was returned). Items: A's two, B's corrected one, D's one (not B's returned one);
    # put right: A's first and D's.
    assert total == {"due": 13, "filed": 4, "filing_rate": 0.3077, "non_compliant_items": 4, "rectified_rate": 0.5}


def test_self_checks_by_street_and_by_the_month_of_their_deadline(session, admin, district):
    streets = by_key(numbers(session, admin.account, district, group_by="street"))
    assert streets[SHANDA]["selfchecks"] == {"due": 5, "filed": 3, "filing_rate": 0.6, "non_compliant_items": 3,
                                             "rectified_rate": 0.6667}
    assert streets[HONGJIALOU]["selfchecks"] == {"due": 8, "filed": 1, "filing_rate": 0.125,
                                                 "non_compliant_items": 1, "rectified_rate": 0.0}
    months = by_key(numbers(session, admin.account, district, group_by="month"))
    year = district.year
    assert {key: (g["selfchecks"]["due"], g["selfchecks"]["filed"]) for key, g in months.items()
            if g["selfchecks"]["due"]} == {f"{year}-01": (3, 1), f"{year}-04": (3, 1), f"{year}-07": (3, 0),
                                           f"{year}-10": (4, 2)}
    assert months[f"{year}-04"]["selfchecks"]["non_compliant_items"] == 2
    assert months[f"{year}-05"]["selfchecks"]["non_compliant_items"] == 1


def test_institution_numbers_belong_to_the_lead_department(session, admin, district):
    groups = by_key(numbers(session, admin.account, district, group_by="department"))
    assert groups["health"]["selfchecks"]["due"] == 13
    assert groups["health"]["credit"] == {"A": 1, "B": 1, "C": 1, "D": 1}
    assert groups["health"]["lists"] == {"red": 1, "black": 1, "key": 0}
    assert groups["health"]["leads"] == {"opened": 2, "closed": 2}
    assert groups["market"]["selfchecks"] == {"due": 0, "filed": 0, "filing_rate": None, "non_compliant_items": 0,
                                              "rectified_rate": None}
    assert groups["market"]["credit"] == {"A": 0, "B": 0, "C": 0, "D": 0}


def test_leads_count_those_opened_and_those_closed_in_the_period(session, admin, district):
    result = numbers(session, admin.account, district, group_by="street")
    assert result["total"]["leads"] == {"opened": 2, "closed": 2}  # the place's lead was opened the year before
    groups = by_key(result)
    assert groups[SHANDA]["leads"] == {"opened": 1, "closed": 1}
    assert groups[HONGJIALOU]["leads"] == {"opened": 1, "closed": 0}
    assert groups[None]["leads"] == {"opened": 0, "closed": 1}


def test_a_joint_inspection_counts_in_each_department_and_once_in_the_total(session, admin, district):
    result = numbers(session, admin.account, district, group_by="department")
    # The year's visits: A (health and market, market's penalty approved), B (health), C (market), A again
    # (health).
    assert result["total"]["inspections"] == {"done": 4, "penalties": 1, "plan_completion_rate": 0.5}
    groups = by_key(result)
    # The plan (health and market) covers the four active institutions; A and B were inspected under it.
    # The joint visit is a penalty of market's only: health's finding there was a pass.
    assert groups["health"]["inspections"] == {"done": 3, "penalties": 0, "plan_completion_rate": 0.5}
    assert groups["market"]["inspections"] == {"done": 2, "penalties": 1, "plan_completion_rate": 0.5}
    assert groups["ecology"]["inspections"] == {"done": 0, "penalties": 0, "plan_completion_rate": None}


def test_plan_completion_by_month_is_as_at_the_end_of_each_month(session, admin, district):
    groups = by_key(numbers(session, admin.account, district, group_by="month"))
    year = district.year
    rates = [groups[f"{year}-{month:02d}"]["inspections"]["plan_completion_rate"] for month in range(1, 13)]
    assert rates == [0.0] * 4 + [0.25] + [0.5] * 7
    assert groups[f"{year}-05"]["inspections"]["done"] == 1


def test_plan_completion_and_inspections_by_street(session, admin, district):
    groups = by_key(numbers(session, admin.account, district, group_by="street"))
    assert groups[SHANDA]["inspections"] == {"done": 2, "penalties": 1, "plan_completion_rate": 0.5}
    assert groups[HONGJIALOU]["inspections"] == {"done": 2, "penalties": 0, "plan_completion_rate": 0.5}


def test_credit_and_lists_are_the_current_state_and_have_no_months(session, admin, district):
    result = numbers(session, admin.account, district, group_by="month")
    assert result["total"]["credit"] == {"A": 1, "B": 1, "C": 1, "D": 1}
    assert result["total"]["lists"] == {"red": 1, "black": 1, "key": 0}  # B's key listing ended
    assert result["groups"][0]["credit"] == {"A": None, "B": None, "C": None, "D": None}
    categories = by_key(numbers(session, admin.account, district, group_by="category"))
    assert categories["clinic"]["credit"] == {"A": 1, "B": 1, "C": 0, "D": 0}
    assert categories["hospital"]["lists"] == {"red": 0, "black": 1, "key": 0}
    assert categories["cosmetic"]["credit"] == {"A": 0, "B": 0, "C": 0, "D": 0}


def test_a_closed_institution_leaves_the_grades_and_the_lists_alike(session, admin, district):
    session.get(Institution, district.ids["C"]).status = "closed"  # the hospital on the black list, grade D
    session.commit()

    total = numbers(session, admin.account, district)["total"]

    assert total["credit"] == {"A": 1, "B": 1, "C": 1, "D": 0}
    assert total["lists"] == {"red": 1, "black": 0, "key": 0}


def test_a_street_filter_keeps_every_domain_to_that_street(session, admin, district):
    total = numbers(session, admin.account, district, street=SHANDA)["total"]
    assert total["complaints"]["received"] == 2
    assert total["selfchecks"]["due"] == 5
    assert total["inspections"]["done"] == 2
    assert total["credit"] == {"A": 1, "B": 1, "C": 0, "D": 0}
    assert total["leads"] == {"opened": 1, "closed": 1}


def test_an_officer_gets_its_own_departments_numbers(session, market_officer, district):
    result = numbers(session, market_officer.account, district, group_by="department")
    assert [group["key"] for group in result["groups"]] == ["market"]
    assert result["total"]["complaints"]["received"] == 1
    assert result["total"]["inspections"] == {"done": 2, "penalties": 1, "plan_completion_rate": 0.5}
    assert result["total"]["selfchecks"]["due"] == 0  # the lead department's


@pytest.mark.parametrize("asked", ["health", "all"])
def test_an_officer_may_not_ask_for_another_department_or_all(session, market_officer, district, asked):
    with pytest.raises(Forbidden):
        numbers(session, market_officer.account, district, department=asked)


def test_a_health_supervisor_may_ask_for_any_department(session, health_supervisor, district):
    result = numbers(session, health_supervisor.account, district, department="market")
    assert result["total"]["complaints"]["received"] == 1
    assert numbers(session, health_supervisor.account, district)["total"]["complaints"]["received"] == 6


def test_a_period_shorter_than_the_year_counts_only_its_days(session, admin, district):
    year = district.year
    total = numbers(session, admin.account, district, date_from=dt.date(year, 6, 1),
                    date_to=dt.date(year, 6, 30))["total"]
    assert total["complaints"]["received"] == 2
    assert total["inspections"]["done"] == 1
    assert total["selfchecks"]["due"] == 0  # no deadline in June


@pytest.mark.parametrize(("date_from", "date_to", "field"), [
    (dt.date(2026, 2, 1), dt.date(2026, 1, 31), "to"),
    (dt.date(2020, 1, 1), dt.date(2025, 1, 1), "from"),
])
def test_a_bad_period_is_refused_naming_the_field(session, admin, date_from, date_to, field):
    with pytest.raises(ValidationFailed) as raised:
        stats.compute(session=session, account=admin.account, date_from=date_from, date_to=date_to,
                      department=None, street=None, group_by=None)
    assert field in raised.value.fields


def test_five_years_to_the_day_are_allowed(session, admin):
    result = stats.compute(session=session, account=admin.account, date_from=dt.date(2020, 1, 1),
                           date_to=dt.date(2024, 12, 31), department=None, street=None, group_by="month")
    assert len(result["groups"]) == 60

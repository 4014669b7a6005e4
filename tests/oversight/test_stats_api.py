"""`GET /api/v1/stats`: who may ask for what, bad queries, defaults, and the monthly report workbook."""

from __future__ import annotations

import datetime as dt
import io
from urllib.parse import unquote

import openpyxl
import pytest

from api.database import today_shanghai
from tests.api.helpers import assert_error
from tests.oversight.conftest import HONGJIALOU, SHANDA

STATS = "/api/v1/stats"


def period(district, **extra) -> dict:
    return {"from": str(district.date_from), "to": str(district.date_to), **extra}


def test_an_admin_gets_every_departments_numbers(admin, district):
    response = admin.get(STATS, query_string=period(district, group_by="department"))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["from"] == str(district.date_from) and body["to"] == str(district.date_to)
    assert [group["key"] for group in body["groups"]][:2] == ["health", "market"]
    assert body["total"]["complaints"]["received"] == 6
    assert body["total"]["inspections"] == {"done": 4, "penalties": 1, "plan_completion_rate": 0.5}
    assert set(body["total"]) == {"complaints", "selfchecks", "leads", "inspections", "credit", "lists"}


def test_a_health_supervisor_may_ask_for_all_departments_or_another_one(health_supervisor, district):
    everything = health_supervisor.get(STATS, query_string=period(district, department="all"))
    assert everything.status_code == 200
    assert everything.get_json()["total"]["complaints"]["received"] == 6
    market = health_supervisor.get(STATS, query_string=period(district, department="market"))
    assert market.get_json()["total"]["complaints"]["received"] == 1


def test_an_officer_gets_its_own_department_by_default(market_officer, district):
    response = market_officer.get(STATS, query_string=period(district, group_by="department"))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert [group["key"] for group in body["groups"]] == ["market"]
    assert body["total"]["complaints"]["received"] == 1


def test_a_health_officer_asking_for_its_own_department_gets_it(health_officer, district):
    response = health_officer.get(STATS, query_string=period(district, department="health"))
    assert response.status_code == 200
    assert response.get_json()["total"]["complaints"]["received"] == 4


@pytest.mark.parametrize("department", ["health", "all"])
def test_an_officer_asking_for_another_department_or_all_is_forbidden(market_officer, district, department):
    response = market_officer.get(STATS, query_string=period(district, department=department))
    assert_error(response, 403, "FORBIDDEN")


def test_a_supervisor_of_another_department_may_not_ask_for_all(login, district):
    market_supervisor = login("supervisor", department="market")
    assert_error(market_supervisor.get(STATS, query_string=period(district, department="all")), 403, "FORBIDDEN")


def test_institutions_and_citizens_are_forbidden_and_no_token_is_unauthorised(client, citizen, clinic_account):
    assert_error(citizen.get(STATS), 403, "FORBIDDEN")
    assert_error(clinic_account.get(STATS), 403, "FORBIDDEN")
    assert_error(client.get(STATS), 401, "UNAUTHORIZED")


@pytest.mark.parametrize(("query", "field"), [
    ({"from": "2026-03-01", "to": "2026-02-28"}, "to"),
    ({"from": "2020-01-01", "to": "2025-01-01"}, "from"),
    ({"group_by": "institution"}, "group_by"),
    ({"from": "2026-13-01"}, "from"),
    ({"from": "0001-01-01", "to": "0001-12-31"}, "from"),
    ({"to": "9999-12-31"}, "to"),
    ({"department": "tax"}, "department"),
    ({"format": "pdf"}, "format"),
])
def test_a_bad_query_is_422_naming_the_field(admin, query, field):
    response = admin.get(STATS, query_string=query)
    body = assert_error(response, 422, "VALIDATION_FAILED")
    assert field in body["fields"], body


def test_the_period_defaults_to_the_year_so_far(admin):
    today = today_shanghai()
    body = admin.get(STATS).get_json()
    assert body["from"] == str(today.replace(month=1, day=1)) and body["to"] == str(today)
    assert body["groups"] == []


def test_only_to_given_counts_from_the_first_of_january_of_its_year(admin):
    body = admin.get(STATS, query_string={"to": "2024-05-31"}).get_json()
    assert body["from"] == "2024-01-01"


def test_the_street_filter_over_http(admin, district):
    body = admin.get(STATS, query_string=period(district, street=SHANDA)).get_json()
    assert body["total"]["complaints"]["received"] == 2
    assert body["total"]["selfchecks"]["due"] == 5


# ---- the monthly report ---------------------------------------------------------------------------

def _report(persona, district, **extra):
    response = persona.get(STATS, query_string=period(district, format="xlsx", **extra))
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response, openpyxl.load_workbook(io.BytesIO(response.data))


def test_the_report_is_a_workbook_with_a_summary_and_a_sheet_per_grouping(admin, district):
    response, book = _report(admin, district, group_by="street")
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    encoded = disposition.split("filename*=UTF-8''")[1]
    assert unquote(encoded) == f"监管统计月报-{district.year}0101-{district.year}1231.xlsx"
    assert book.sheetnames == ["汇总", "按街道", "按部门", "按机构类别", "按月份"]  # the grouping asked for first
    summary = {row[0]: row[1] for row in book["汇总"].iter_rows(values_only=True) if row and row[0]}
    assert summary["统计期间"] == f"{district.date_from} 至 {district.date_to}"
    assert summary["部门"] == "全部部门"
    assert summary["收到投诉"] == 6
    assert summary["自查率"] == pytest.approx(0.3077)
    assert summary["A级（守信）"] == 1


def test_a_group_sheet_holds_every_number_of_each_group_with_zh_headers(admin, district):
    _, book = _report(admin, district)
    sheet = book["按部门"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("部门", "收到投诉", "已受理")
    health = next(row for row in rows if row[0] == "卫生健康委")
    headers = rows[0]
    values = dict(zip(headers, health, strict=True))
    assert values["收到投诉"] == 4 and values["按时答复率"] == 0.5 and values["检查次数"] == 3
    assert values["信用A级"] == 1 and values["黑名单"] == 1
    assert sheet.cell(rows.index(health) + 1, headers.index("按时答复率") + 1).number_format == "0.0%"
    streets = [row[0] for row in book["按街道"].iter_rows(min_row=2, values_only=True)]
    assert set(streets) == {SHANDA, HONGJIALOU, "无街道（无证场所）"}


def test_the_report_has_native_charts_on_the_right_data(admin, district):
    _, book = _report(admin, district)
    months = book["按月份"]
    assert len(months._charts) == 1
    chart = months._charts[0]
    assert chart.tagname == "barChart"
    # Complaints received (column B) of the twelve months (rows 2-13), the months as categories.
    assert chart.series[0].val.numRef.f == "'按月份'!$B$2:$B$13"
    assert chart.series[0].cat.numRef.f == "'按月份'!$A$2:$A$13" or chart.series[0].cat.strRef.f == "'按月份'!$A$2:$A$13"
    march = [row for row in months.iter_rows(min_row=2, values_only=True) if row[0] == f"{district.year}-03"][0]
    assert march[1] == 2

    streets = book["按街道"]
    (street_chart,) = streets._charts
    filing_rate_column = [cell.value for cell in streets[1]].index("自查率") + 1
    letter = openpyxl.utils.get_column_letter(filing_rate_column)
    assert street_chart.series[0].val.numRef.f == f"'按街道'!${letter}$2:${letter}$4"

    (pie,) = book["汇总"]._charts
    assert pie.tagname == "pieChart"
    reference = pie.series[0].val.numRef.f
    first, last = (int(part.split("$")[-1]) for part in reference.split("!")[1].split(":"))
    grades = [book["汇总"].cell(row, 1).value for row in range(first, last + 1)]
    assert grades == ["A级（守信）", "B级（基本守信）", "C级（失信）", "D级（严重失信）"]
    assert [book["汇总"].cell(row, 2).value for row in range(first, last + 1)] == [1, 1, 1, 1]


def test_an_officers_report_is_its_departments(market_officer, district):
    _, book = _report(market_officer, district)
    summary = {row[0]: row[1] for row in book["汇总"].iter_rows(values_only=True) if row and row[0]}
    assert summary["部门"] == "市场监管局"
    assert summary["收到投诉"] == 1
    assert [row[0] for row in book["按部门"].iter_rows(min_row=2, values_only=True)] == ["市场监管局"]


def test_a_street_named_like_a_formula_is_written_as_text(admin, session, district):
    from registry.models import Institution

    session.get(Institution, district.ids["A"]).street = "=HYPERLINK(\"http://x\")"
    session.commit()
    _, book = _report(admin, district)
    streets = [row[0] for row in book["按街道"].iter_rows(min_row=2, values_only=True)]
    assert "'=HYPERLINK(\"http://x\")" in streets


def test_the_report_refuses_what_the_numbers_refuse(market_officer, admin):
    assert_error(market_officer.get(STATS, query_string={"format": "xlsx", "department": "all"}), 403, "FORBIDDEN")
    assert_error(admin.get(STATS, query_string={"format": "xlsx", "group_by": "x"}), 422, "VALIDATION_FAILED")


def test_the_openapi_document_describes_the_endpoint(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/stats"]["get"]
    assert {"application/json",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"} <= set(operation["responses"]["200"]["content"])
    assert {parameter["name"] for parameter in operation["parameters"]} >= {"from", "to", "department", "street",
                                                                            "group_by", "format"}
    assert {"401", "403", "422"} <= set(operation["responses"])


def test_no_month_is_lost_over_five_years(admin):
    today = today_shanghai()
    start = dt.date(today.year - 4, 1, 1)
    body = admin.get(STATS, query_string={"from": str(start), "to": str(today), "group_by": "month"}).get_json()
    assert len(body["groups"]) == (today.year - start.year) * 12 + today.month

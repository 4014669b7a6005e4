"""The monthly report (监管统计月报): the leaders' numbers as a workbook that opens in WPS and Excel.

A summary sheet (the period's totals and the credit grade distribution, with a pie chart), then one
sheet per grouping (department, street, category, month; the one asked for first), each a table of
every number; native charts: complaints per month (a bar chart on the month sheet), self-check filing
rates by street (a bar chart on the street sheet). Rates are written as numbers in a percent format,
so they can be charted and summed in the sheet; a rate with nothing to divide by is an empty cell.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from urllib.parse import quote

from api.database import SHANGHAI, SessionLike
from api.models import DEPARTMENTS, Account
from api.spreadsheets import safe_cell
from oversight import stats
from oversight.stats import GROUPS
from registry.models import CATEGORIES

SHEET_NAMES = {"department": "按部门", "street": "按街道", "category": "按机构类别", "month": "按月份"}
KEY_HEADERS = {"department": "部门", "street": "街道", "category": "机构类别", "month": "月份"}
NO_KEY = {"street": "无街道（无证场所）", "category": "无（无证场所）"}
# (domain, field, header, is_rate) in the order of the columns.
COLUMNS: tuple[tuple[str, str, str, bool], ...] = (
    ("complaints", "received", "收到投诉", False),
    ("complaints", "accepted", "已受理", False),
    ("complaints", "closed", "已结案", False),
    ("complaints", "overdue", "逾期未办", False),
    ("complaints", "on_time_rate", "按时答复率", True),
    ("complaints", "avg_rating", "平均满意度评分", False),
    ("selfchecks", "due", "应自查（机构·季度）", False),
    ("selfchecks", "filed", "按期自查", False),
    ("selfchecks", "filing_rate", "自查率", True),
    ("selfchecks", "non_compliant_items", "不符合项", False),
    ("selfchecks", "rectified_rate", "整改率", True),
    ("leads", "opened", "新增线索", False),
    ("leads", "closed", "关闭线索", False),
    ("inspections", "done", "检查次数", False),
    ("inspections", "penalties", "行政处罚", False),
    ("inspections", "plan_completion_rate", "计划完成率", True),
    ("credit", "A", "信用A级", False),
    ("credit", "B", "信用B级", False),
    ("credit", "C", "信用C级", False),
    ("credit", "D", "信用D级", False),
    ("lists", "red", "红名单", False),
    ("lists", "black", "黑名单", False),
    ("lists", "key", "重点监管名单", False),
)
HEADERS = [header for _, _, header, _ in COLUMNS]
PERCENT = "0.0%"
GRADE_NAMES = {"A": "A级（守信）", "B": "B级（基本守信）", "C": "C级（失信）", "D": "D级（严重失信）"}


def column_of(domain: str, field: str) -> int:
    """The 1-based column of a number on a group sheet (the key is column 1)."""
    return 2 + next(index for index, (d, f, _, _) in enumerate(COLUMNS) if (d, f) == (domain, field))


def filename(date_from: dt.date, date_to: dt.date) -> str:
    return f"监管统计月报-{date_from:%Y%m%d}-{date_to:%Y%m%d}.xlsx"


def disposition(date_from: dt.date, date_to: dt.date) -> str:
    """Content-Disposition: the Chinese name (RFC 5987), an ASCII one for old clients."""
    fallback = f"stats-{date_from:%Y%m%d}-{date_to:%Y%m%d}.xlsx"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename(date_from, date_to))}"


def build(*, session: SessionLike, account: Account, date_from: dt.date, date_to: dt.date, department: str | None,
          street: str | None, group_by: str | None, now: dt.datetime) -> bytes:
    """The report of a period for `account` (the same access rules and checks as the numbers): every
    grouping computed, then the workbook. The caller commits (stale credit recomputed)."""
    stats.check_group_by(group_by)
    results = {grouping: stats.compute(session=session, account=account, date_from=date_from, date_to=date_to,
                                       department=department, street=street, group_by=grouping, now=now)
               for grouping in sheets(group_by)}
    return workbook(results=results, first=group_by, department=stats.department_for(account, department),
                    street=street, generated_at=now.astimezone(SHANGHAI))


def key_name(group_by: str, key: str | None) -> str:
    if key is None:
        return NO_KEY.get(group_by, "无")
    if group_by == "department":
        return DEPARTMENTS.get(key, key)
    if group_by == "category":
        return CATEGORIES.get(key, key)
    return str(safe_cell(key))  # a street is typed by people: never a formula


def workbook(*, results: dict[str, dict], first: str | None, department: str | None, street: str | None,
             generated_at: dt.datetime) -> bytes:
    """The workbook of `results` (oversight.stats.compute's answer for each grouping in GROUPS)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    book = Workbook()
    summary = book.active
    assert summary is not None
    summary.title = "汇总"
    total = results[GROUPS[0]]
    bold = Font(bold=True)
    summary.append(["监管统计月报"])
    summary["A1"].font = Font(bold=True, size=14)
    summary.append(["统计期间", f"{total['from']:%Y-%m-%d} 至 {total['to']:%Y-%m-%d}"])
    summary.append(["部门", DEPARTMENTS.get(department or "", "全部部门")])
    summary.append(["街道", key_name("street", street) if street else "全部街道"])
    summary.append(["生成时间", f"{generated_at:%Y-%m-%d %H:%M}"])
    summary.append([])
    summary.append(["指标", "数值"])
    for cell in summary[summary.max_row]:
        cell.font = bold
    for domain, field, header, is_rate in COLUMNS:
        if domain == "credit":
            continue
        summary.append([header, total["total"][domain][field]])
        if is_rate:
            summary.cell(summary.max_row, 2).number_format = PERCENT
    summary.append([])
    summary.append(["信用等级", "机构数"])
    for cell in summary[summary.max_row]:
        cell.font = bold
    first_grade = summary.max_row + 1
    for grade, name in GRADE_NAMES.items():
        summary.append([name, total["total"]["credit"][grade]])
    _grade_chart(summary, first_grade, first_grade + len(GRADE_NAMES) - 1)
    summary.column_dimensions["A"].width = 24
    summary.column_dimensions["B"].width = 26

    order = ([first] if first else []) + [group_by for group_by in GROUPS if group_by != first]
    for group_by in order:
        sheet = book.create_sheet(SHEET_NAMES[group_by])
        sheet.append([KEY_HEADERS[group_by], *HEADERS])
        for cell in sheet[1]:
            cell.font = bold
            cell.alignment = Alignment(wrap_text=True, vertical="center")
        for group in results[group_by]["groups"]:
            sheet.append([key_name(group_by, group["key"]),
                          *[group[domain][field] for domain, field, _, _ in COLUMNS]])
            for domain, field, _, is_rate in COLUMNS:
                if is_rate:
                    sheet.cell(sheet.max_row, column_of(domain, field)).number_format = PERCENT
        sheet.freeze_panes = "B2"
        sheet.column_dimensions["A"].width = 22
        rows = len(results[group_by]["groups"])
        if group_by == "month":
            _bar_chart(sheet, rows, column_of("complaints", "received"), "每月投诉数", "件", anchor="B" + str(rows + 4))
        if group_by == "street":
            _bar_chart(sheet, rows, column_of("selfchecks", "filing_rate"), "各街道自查率", "自查率",
                       anchor="B" + str(rows + 4), percent=True)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _bar_chart(sheet, rows: int, column: int, title: str, y_title: str, *, anchor: str, percent: bool = False):
    from openpyxl.chart import BarChart, Reference

    chart = BarChart()
    chart.type = "col"
    chart.title = title
    chart.y_axis.title = y_title
    chart.y_axis.delete = False
    chart.x_axis.delete = False
    if percent:
        chart.y_axis.number_format = "0%"
        chart.y_axis.scaling.min = 0
        chart.y_axis.scaling.max = 1
    chart.add_data(Reference(sheet, min_col=column, min_row=1, max_row=max(rows, 1) + 1), titles_from_data=True)
    chart.set_categories(Reference(sheet, min_col=1, min_row=2, max_row=max(rows, 1) + 1))
    chart.legend = None
    chart.width, chart.height = 24, 10
    sheet.add_chart(chart, anchor)


def _grade_chart(sheet, first_row: int, last_row: int) -> None:
    from openpyxl.chart import PieChart, Reference
    from openpyxl.chart.label import DataLabelList

    chart = PieChart()
    chart.title = "信用等级分布"
    chart.add_data(Reference(sheet, min_col=2, min_row=first_row - 1, max_row=last_row), titles_from_data=True)
    chart.set_categories(Reference(sheet, min_col=1, min_row=first_row, max_row=last_row))
    chart.dataLabels = DataLabelList()
    chart.dataLabels.showPercent = True
    sheet.add_chart(chart, "D7")


def sheets(group_by: str | None) -> Sequence[str]:
    """The groupings a report holds, the one asked for first."""
    return ([group_by] if group_by else []) + [g for g in GROUPS if g != group_by]

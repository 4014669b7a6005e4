"""What the dashboard shows: the form's choices, and the period's numbers shaped for the page (key
totals, three charts and their tables), from oversight.stats.compute."""

from __future__ import annotations

from sqlalchemy import select

from api.database import db, utcnow
from api.models import DEPARTMENTS, Account
from oversight import stats
from oversight.charts import GRADE_COLOURS, Item, columns, percent, rows
from registry.models import Institution


def options(account: Account, raw: dict[str, str]) -> dict:
    """The form's choices: every department and all of them for those who may see them, else their own;
    the streets of the directory (and one typed into the address, kept)."""
    if stats.sees_all_departments(account):
        departments = [(stats.ALL_DEPARTMENTS, "全部部门"), *DEPARTMENTS.items()]
        chosen = raw["department"] or stats.ALL_DEPARTMENTS
    else:  # department staff: their own (a regulator who is no admin always has one)
        own = account.department or ""
        departments = [(own, DEPARTMENTS.get(own, ""))]
        chosen = raw["department"] or own
    streets = list(db.session.scalars(select(Institution.street).where(Institution.street.is_not(None))
                                      .distinct().order_by(Institution.street)))
    if raw["street"] and raw["street"] not in streets:
        streets.append(raw["street"])
    return {"departments": departments, "department": chosen, "streets": streets}


def numbers(account: Account, filters: dict) -> dict:
    """The period's numbers by month (the totals and the complaints chart) and by street (filing
    rates), shaped for the template: key totals, three charts, their tables."""
    common = {"session": db.session, "account": account, "now": utcnow(), **filters}
    by_month = stats.compute(**common, group_by="month")
    by_street = stats.compute(**common, group_by="street")
    total = by_month["total"]
    department = stats.department_for(account, filters["department"])
    months = by_month["groups"]
    one_year = len({group["key"][:4] for group in months}) == 1
    month_items = [Item(f"{int(group['key'][5:])}月" if one_year else group["key"],
                        group["complaints"]["received"], str(group["complaints"]["received"])) for group in months]
    grade_items = [Item(f"{grade}级", total["credit"][grade], str(total["credit"][grade]), GRADE_COLOURS[grade])
                   for grade in stats.GRADES]
    streets = [group for group in by_street["groups"] if group["key"] is not None]
    street_items = [Item(group["key"], group["selfchecks"]["filing_rate"],
                         percent(group["selfchecks"]["filing_rate"], none="无应自查")) for group in streets]
    complaints, selfchecks, inspections = total["complaints"], total["selfchecks"], total["inspections"]
    return {
        "from": by_month["from"], "to": by_month["to"],
        "department": DEPARTMENTS.get(department, "") if department else "全部部门",
        "street": filters["street"] or "全部街道",
        "lead_only": department not in (None, stats.LEAD_DEPARTMENT),
        "totals": [
            ("received", "收到投诉", str(complaints["received"]), "件"),
            ("overdue", "逾期未办", str(complaints["overdue"]), "件"),
            ("on_time_rate", "按时答复率", percent(complaints["on_time_rate"]), ""),
            ("filing_rate", "自查率", percent(selfchecks["filing_rate"]), ""),
            ("inspections", "检查次数", str(inspections["done"]), "次"),
            ("penalties", "行政处罚", str(inspections["penalties"]), "件"),
            ("plan_completion_rate", "计划完成率", percent(inspections["plan_completion_rate"]), ""),
        ],
        "months": months, "streets": streets, "credit": total["credit"], "lists": total["lists"],
        "month_chart": columns("months", "每月收到投诉（件）", month_items, unit="件"),
        "grade_chart": columns("grades", "信用等级分布（家）", grade_items, unit="家", height=200),
        "street_chart": rows("streets", "各街道自查率", street_items),
        "percent": percent,
    }

"""双公示: approved public penalties in the national 行政处罚 disclosure fields, for the credit platform.

A penalty is on the feed when it is public on GET /api/v1/public/penalties: a public inspection
record whose settled result is an approved penalty (法制审核 passed), published, and within the
policy's `public_years` of its inspection day. Violations (credit points, 记分) are not 行政处罚
decisions and are not on it.

What the record does not hold (违法行为类型, 处罚依据, 处罚类别, 处罚内容, 罚款金额, 处罚有效期) the
deciding department fills in (`set_details`, PUT /api/v1/inspections/{id}/penalty-details); until it
does, the row is sent with what the record says (its public summary as 违法事实, as the public penalty
list shows it: never the findings' notes, which are internal; the plan items' text and basis) and `complete: false`. 处罚机关 and its code come from the PENALTY_AUTHORITIES
setting, the 数据来源单位 from DISCLOSURE_SOURCE.

Increments: a row's `updated_at` is the latest of its publication, its approval and its details'
last change; `since` returns the rows with `updated_at` strictly after it, oldest first (ties by id).
Those times are taken inside the writing transaction, before it commits: a slow transaction could
commit a row older than a `next_since` already handed out, and the reader would never see it. So the
feed only shows rows whose `updated_at` is at least SETTLE old (no write transaction lasts that long);
a newer row comes in a later increment.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from decimal import Decimal

from flask import current_app
from sqlalchemy import case, select, type_coerce

from api import policy, workdays
from api.access import ADMIN
from api.database import SessionLike, UTCDateTime, utcnow
from api.errors import Forbidden, InvalidTransition, NotFound, ValidationFailed
from api.models import DEPARTMENTS, Account
from exchange.models import PenaltyDetails
from registry.models import Institution
from supervision import grades
from supervision.models import Inspection, InspectionFinding, PlanItem
from supervision.plans import canonical

# 处罚类别 (行政处罚法 第九条, and the national data standard's list), by the codes the API takes.
KINDS = {
    "warning": "警告", "circulated_criticism": "通报批评", "fine": "罚款", "confiscate_income": "没收违法所得",
    "confiscate_property": "没收非法财物", "suspend_licence": "暂扣许可证件", "lower_qualification": "降低资质等级",
    "revoke_licence": "吊销许可证件", "restrict_operations": "限制开展生产经营活动", "suspend_business": "责令停产停业",
    "order_closure": "责令关闭", "restrict_practice": "限制从业", "detention": "行政拘留", "other": "其他",
}
SETTLE = dt.timedelta(minutes=5)  # rows changed more recently are held back (see the module's docstring)
LONG_TERM = dt.date(2099, 12, 31)  # the national standard's 处罚有效期 for a decision without an end ("长期")

# (English JSON key, the national field name): the feed's columns, in the standard's order.
FIELDS = (
    ("subject_name", "行政相对人名称"), ("uscc", "统一社会信用代码"), ("legal_representative", "法定代表人"),
    ("decision_no", "行政处罚决定书文号"), ("violation_type", "违法行为类型"), ("facts", "违法事实"),
    ("basis", "处罚依据"), ("penalty_category", "处罚类别"), ("penalty_content", "处罚内容"),
    ("fine_amount_wan", "罚款金额（万元）"), ("decided_on", "处罚决定日期"), ("valid_until", "处罚有效期"),
    ("publish_until", "公示截止期"), ("authority", "处罚机关"), ("authority_uscc", "处罚机关统一社会信用代码"),
    ("source", "数据来源单位"),
)
EXTRA = (("id", "检查记录编号"), ("institution_id", "机构编号"), ("complete", "信息完整"), ("updated_at", "更新时间"))
WIDTHS = [28, 22, 12, 26, 24, 40, 40, 16, 40, 14, 12, 12, 12, 26, 22, 26, 10, 10, 10, 22]

_disclosed = case((Inspection.published_at > Inspection.penalty_approved_at, Inspection.published_at),
                  else_=Inspection.penalty_approved_at)
UPDATED_AT = type_coerce(case((PenaltyDetails.updated_at > _disclosed, PenaltyDetails.updated_at), else_=_disclosed),
                         UTCDateTime)


def approved_public(today: dt.date):
    """The WHERE clause of a penalty on the feed (as on GET /api/v1/public/penalties)."""
    since = grades.years_before(today, policy.in_force(today).public_years)
    return (Inspection.public.is_(True), Inspection.settled_result == "penalty",
            Inspection.penalty_approved_at.is_not(None), Inspection.published_at.is_not(None),
            Inspection.inspected_on >= since)


def rows(*, session: SessionLike, today: dt.date, since: dt.datetime | None = None,
         now: dt.datetime | None = None) -> list[dict]:
    """The feed's rows (oldest change first) changed at least SETTLE before `now`, each with the national
    fields under English keys."""
    statement = (
        select(Inspection, Institution.name, Institution.uscc, Institution.legal_representative, PenaltyDetails,
               UPDATED_AT.label("feed_updated_at"))
        .join(Institution, Institution.id == Inspection.institution_id)
        .outerjoin(PenaltyDetails, PenaltyDetails.inspection_id == Inspection.id)
        .where(*approved_public(today), UPDATED_AT <= (now or utcnow()) - SETTLE)
        .order_by(UPDATED_AT, Inspection.id)
    )
    if since is not None:
        statement = statement.where(UPDATED_AT > since)
    found = session.execute(statement).all()
    findings = _approved_findings(session, [row[0].id for row in found])
    items = _plan_items(session, [row[0] for row in found])
    return [_item(row, findings.get(row[0].id, []), items, today) for row in found]


def _approved_findings(session: SessionLike, ids: list[int]) -> dict[int, list[InspectionFinding]]:
    grouped: dict[int, list[InspectionFinding]] = {}
    if ids:
        for finding in session.scalars(select(InspectionFinding).where(
                InspectionFinding.inspection_id.in_(ids), InspectionFinding.result == "penalty",
                InspectionFinding.review == "approved").order_by(InspectionFinding.id)):
            grouped.setdefault(finding.inspection_id, []).append(finding)
    return grouped


def _plan_items(session: SessionLike, inspections: list[Inspection]) -> dict[tuple[int, str, str], PlanItem]:
    plans = {inspection.plan_id for inspection in inspections if inspection.plan_id is not None}
    if not plans:
        return {}
    return {(item.plan_id, item.department, item.code): item
            for item in session.scalars(select(PlanItem).where(PlanItem.plan_id.in_(plans)))}


def _item(row, findings: list[InspectionFinding], plan_items: dict, today: dt.date) -> dict:
    inspection, name, uscc, legal_representative, details, updated_at = row
    items = [plan_items[key] for key in ((inspection.plan_id, f.department, f.item_code) for f in findings)
             if key in plan_items]
    department = details.department if details else _deciding_department(inspection, findings)
    authority = authorities().get(department, {})
    authority_name = authority.get("name") or DEPARTMENTS.get(department, department)
    decided_on = workdays.local_date(inspection.penalty_approved_at)
    public_years = policy.in_force(today).public_years
    shown = {
        "id": inspection.id, "institution_id": inspection.institution_id,
        "subject_name": name, "uscc": uscc, "legal_representative": legal_representative,
        "decision_no": inspection.decision_no or "",
        "violation_type": details.violation_type if details else "；".join(dict.fromkeys(i.text for i in items)),
        "facts": details.facts if details else inspection.summary,  # never the findings' internal notes
        "basis": details.basis if details else "；".join(dict.fromkeys(i.basis for i in items if i.basis)),
        "penalty_category": "；".join(KINDS[k] for k in details.kinds) if details else "",
        "penalty_content": details.content if details else "",
        "fine_amount_wan": _wan(details.fine_yuan) if details and details.fine_yuan is not None else "",
        "decided_on": decided_on,
        "valid_until": (details.valid_until if details and details.valid_until else LONG_TERM),
        "publish_until": grades.years_after(inspection.inspected_on, public_years),
        "authority": authority_name, "authority_uscc": authority.get("uscc", ""),
        "source": current_app.config["DISCLOSURE_SOURCE"] or authority_name,
        "complete": bool(details) and bool(inspection.decision_no) and bool(authority.get("uscc")),
        "updated_at": updated_at,
    }
    return shown


def _deciding_department(inspection: Inspection, findings: list[InspectionFinding]) -> str:
    """The department whose approved penalty it is (the first, in the public order, if several)."""
    departments = canonical(list(dict.fromkeys(f.department for f in findings)))
    return departments[0] if departments else inspection.department


def _wan(yuan: Decimal) -> str:
    """Yuan as 万元 with the standard's six decimals (exact: a cent is 0.000001 万元)."""
    return f"{(Decimal(yuan) / Decimal(10000)).quantize(Decimal('0.000001'))}"


@functools.cache
def _parse_authorities(setting: str | None) -> dict[str, dict[str, str]]:
    return json.loads(setting) if setting else {}


def authorities() -> dict[str, dict[str, str]]:
    """PENALTY_AUTHORITIES (checked at start by api.config): department → {name, uscc}."""
    return _parse_authorities(current_app.config["PENALTY_AUTHORITIES"])


def table_rows(items: list[dict]) -> list[list]:
    """The rows of the CSV and XLSX files: the national fields, then the feed's own."""
    return [[_cell(item[key]) for key, _ in (*FIELDS, *EXTRA)] for item in items]


def _cell(value):
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


HEADERS = [label for _, label in (*FIELDS, *EXTRA)]


# ---- the details a department fills in -------------------------------------------------------------

def set_details(*, session: SessionLike, account: Account, inspection_id: int, data: dict) -> PenaltyDetails:
    """Record (or correct) the decision's disclosure details: by an officer or supervisor of a department
    on the record (for its own department), or an admin (for any of them). Only for an approved penalty."""
    inspection = session.get(Inspection, inspection_id)
    if inspection is None:
        raise NotFound("未找到该检查记录")
    if inspection.penalty_approved_at is None or inspection.settled_result != "penalty":
        raise InvalidTransition("只有经法制审核批准的行政处罚可以填写公示信息")
    if account.role != ADMIN and account.department not in inspection.departments:
        raise Forbidden("只能填写本部门参加的检查的处罚信息")
    department = data.get("department") or account.department
    if department not in inspection.departments:
        raise ValidationFailed(fields={"department": ["处罚机关应为参加该检查的部门之一"]})
    if account.role != ADMIN and account.department != department:
        raise Forbidden("只能以本部门为处罚机关填写")
    kinds = list(dict.fromkeys(data["kinds"]))
    fine = data.get("fine_yuan")
    if "fine" in kinds and fine is None:
        raise ValidationFailed(fields={"fine_yuan": ["处罚类别含罚款时请填写罚款金额"]})
    if fine is not None and "fine" not in kinds:
        raise ValidationFailed(fields={"kinds": ["填写了罚款金额，处罚类别应含罚款（fine）"]})
    if data.get("valid_until") and data["valid_until"] < workdays.local_date(inspection.penalty_approved_at):
        raise ValidationFailed(fields={"valid_until": ["处罚有效期不能早于处罚决定日期"]})
    details = session.get(PenaltyDetails, inspection_id) or PenaltyDetails(inspection_id=inspection_id)
    details.violation_type, details.facts, details.basis = data["violation_type"], data["facts"], data["basis"]
    details.kinds, details.content, details.fine_yuan = kinds, data["content"], fine
    details.valid_until, details.department = data.get("valid_until"), department
    details.updated_at, details.updated_by_id = utcnow(), account.id
    session.add(details)
    session.flush()
    return details

"""Exports of supervision: inspection leads (one row per lead, its reasons in one cell) and the red
black and key supervision lists (who, why, since when and until when, with the credit behind it)."""

from __future__ import annotations

from sqlalchemy.orm import defaultload

from api import spreadsheets
from api.labels import LIST_NAMES
from leads.models import Lead
from leads.service import HIGH_PRIORITY, KIND_NAMES
from registry.models import Institution
from supervision.models import ListEntry

LEAD_STATUS_NAMES = {"open": "待处理", "inspected": "已检查", "dismissed": "已排除"}

LEAD_COLUMNS = (  # (header, width)
    ("线索编号", 10), ("机构编号", 10), ("机构/场所名称", 30), ("地址", 36), ("无证场所", 10), ("分值", 8),
    ("优先级", 8), ("状态", 10), ("线索来源数", 10), ("线索来源", 70), ("发现时间", 18), ("关闭时间", 18),
    ("关闭说明", 30),
)
lead_headers = [name for name, _ in LEAD_COLUMNS]
lead_widths = [width for _, width in LEAD_COLUMNS]
LEAD_TITLE = "监管线索"

LIST_COLUMNS = (
    ("机构编号", 10), ("机构名称", 30), ("统一社会信用代码", 22), ("登记号", 26), ("地址", 36), ("街道", 14),
    ("名单", 10), ("列入原因", 50), ("列入时间", 18), ("信用等级", 10), ("不良执业记分", 12), ("期限至", 18),
)
list_headers = [name for name, _ in LIST_COLUMNS]
list_widths = [width for _, width in LIST_COLUMNS]


def lead_rows(*, session, statement):
    """One row per lead of `statement` (leads.lead_query), a thousand fetched at a time."""
    statement = statement.options(defaultload(Lead.institution).lazyload(Institution.code))
    for lead in spreadsheets.streamed(session, statement, scalars=True):
        yield lead_row(lead)


def lead_row(lead: Lead) -> list:
    institution = lead.institution
    reasons = "；".join(f"{KIND_NAMES.get(r.kind, r.kind)}：{r.detail}" for r in lead.reasons)
    return [
        lead.id, lead.institution_id, institution.name if institution else lead.place_name,
        institution.address if institution else lead.place_address, institution is None, lead.score,
        "高" if lead.score >= HIGH_PRIORITY else "一般", LEAD_STATUS_NAMES.get(lead.status, lead.status),
        len(lead.reasons), reasons, lead.opened_at, lead.closed_at, lead.close_note,
    ]


def list_rows(*, session, statement):
    """One row per entry of a list (inspections.list_query)."""
    statement = statement.options(defaultload(ListEntry.institution).lazyload(Institution.code))
    for entry in spreadsheets.streamed(session, statement, scalars=True):
        yield list_row(entry)


def list_row(entry: ListEntry) -> list:
    institution = entry.institution
    return [
        entry.institution_id, institution.name, institution.uscc, institution.licence_no, institution.address,
        institution.street, LIST_NAMES.get(entry.list, entry.list), entry.reason, entry.listed_at,
        institution.credit_grade, institution.credit_points, entry.ends_at,
    ]

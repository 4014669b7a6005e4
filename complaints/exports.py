"""The complaints export: what a regulator's list shows, as a spreadsheet, streamed.

The rows are the list's (same visibility, same filters). The complainant's name and phone are filled
only for cases of the exporting officer's own department (the handling department, as on the case
page); for every other row, and for admins, they stay blank. Exporting any contact data is written
to the audit log once, when the body has ended (record_delivery), with the number of rows that
carried it. The last column lists the case's referrals to the police or the judiciary (移送), read a
batch of cases at a time.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select

from api import audit, spreadsheets
from api.database import utcnow
from api.labels import COMPLAINT_STATUS_NAMES
from api.models import DEPARTMENTS, Account
from complaints import service
from complaints.models import Complaint, ComplaintCategory, ComplaintEvent, ComplaintReferral
from registry.models import Institution, Staff

FINDING_NAMES = {"substantiated": "属实", "partly_substantiated": "部分属实", "unsubstantiated": "不属实"}
TARGET_NAMES = {"institution": "机构", "staff": "人员", "place": "无证场所"}
REFERRAL_NAMES = {"public_security": "公安机关", "procuratorate": "检察机关", "court": "人民法院", "other": "其他机关"}

COLUMNS = (  # (header, width)
    ("受理编号", 20), ("投诉类别", 16), ("状态", 12), ("承办部门", 14), ("对象类型", 10),
    ("被投诉机构/场所", 28), ("地址", 30), ("涉及人员", 12), ("投诉内容", 60), ("匿名", 8),
    ("投诉人", 12), ("联系电话", 16), ("提交时间", 18), ("受理期限", 18), ("受理时间", 18),
    ("答复期限", 18), ("是否超期", 10), ("核查结论", 12), ("答复内容", 40), ("答复时间", 18),
    ("评价（星）", 10), ("结案时间", 18), ("移送情况", 40),
)
headers = [name for name, _ in COLUMNS]
widths = [width for _, width in COLUMNS]
TITLE = "投诉举报"


_COMPLAINT_COLUMNS = (
    "id", "tracking_no", "category", "status", "department", "target_kind", "place_name", "place_address", "content",
    "anonymous", "contact_name", "contact_phone", "submitted_at", "accept_due_at", "accepted_at", "reply_due_at",
    "finding", "reply", "replied_at", "rating", "closed_at",
)


def statement_for(*, session, account: Account, **filters):
    """The list's query (its visibility, filters and order), reduced to the columns the export shows:
    plain rows, not ORM objects, so a hundred thousand of them stream quickly."""
    query = service.complaint_query(session=session, account=account, **filters)
    return (query.with_only_columns(*(getattr(Complaint, name) for name in _COMPLAINT_COLUMNS),
                                    ComplaintCategory.name.label("category_name"),
                                    Institution.name.label("institution_name"),
                                    Institution.address.label("institution_address"),
                                    Staff.name.label("staff_name"), maintain_column_froms=False)
            .select_from(Complaint)
            .outerjoin(ComplaintCategory, ComplaintCategory.code == Complaint.category)
            .outerjoin(Institution, Institution.id == Complaint.institution_id)
            .outerjoin(Staff, Staff.id == Complaint.staff_id))


@dataclass
class Export:
    """One export as its streamed body needs it: plain values taken from the request's account
    before the first row (the account itself is detached by then: see spreadsheets.download), and
    the number of rows that have carried a complainant's contact so far."""

    account_id: int
    handling_department: str | None  # whose named cases carry the contact (service.handles)
    filters: dict
    contacts: int = 0

    @classmethod
    def of(cls, account: Account, filters: dict) -> Export:
        return cls(account_id=account.id, handling_department=service.handling_department(account),
                   filters=dict(filters))

    def shows_contact(self, complaint) -> bool:
        return service.contact_shown(self.handling_department, complaint)


def rows(*, session, export: Export, statement, now: dt.datetime | None = None):
    """One list per case, in the list's order, fetched a thousand at a time; counts the rows that
    carry a contact in `export`."""
    now = now or utcnow()
    cases = spreadsheets.streamed(session, statement)
    while batch := list(itertools.islice(cases, spreadsheets.YIELD_PER)):
        referred = referrals(session=session, complaint_ids=[complaint.id for complaint in batch])
        for complaint in batch:
            contact = export.shows_contact(complaint)
            export.contacts += contact
            yield row(complaint, contact, now, referred.get(complaint.id, ()))


def referrals(*, session, complaint_ids: list[int]) -> dict[int, list[str]]:
    """The referrals of these cases, in the order they were recorded, as the export writes them."""
    found: dict[int, list[str]] = defaultdict(list)
    statement = (select(ComplaintReferral).join(ComplaintEvent, ComplaintEvent.id == ComplaintReferral.event_id)
                 .where(ComplaintReferral.complaint_id.in_(complaint_ids)).order_by(ComplaintEvent.id))
    for referral in session.scalars(statement):
        found[referral.complaint_id].append(referral_text(referral))
    return found


def referral_text(referral: ComplaintReferral) -> str:
    """E.g. 2026-12-01 移送公安机关（济南市公安局历城区分局），文号：历卫移〔2026〕3号."""
    name = referral.referred_to_name
    if referral.referred_to == "other":
        body = name or REFERRAL_NAMES["other"]
    else:
        body = REFERRAL_NAMES[referral.referred_to] + (f"（{name}）" if name else "")
    number = f"，文号：{referral.reference_no}" if referral.reference_no else ""
    return f"{referral.referred_on.isoformat()} 移送{body}{number}"


def record_delivery(*, session, export: Export, complete: bool) -> None:
    """The audit entry of an export whose rows carried contacts, once its body has ended with some of
    them handed out: delivered whole (detail: the number of such rows), or cut short (the number
    produced until then, marked as such; some may have reached the reader)."""
    entry = delivery_entry(export)
    if entry is None:
        return
    detail = str(entry["count"]) if complete else f"{entry['count']}（传输中断）"
    audit.record(session=session, account_id=export.account_id, action=entry["action"],
                 object_type=entry["object_type"], object_id=entry["object_id"], detail=detail)


def delivery_entry(export: Export) -> dict | None:
    """The audit entry a delivery of this export writes (None when no row carried a contact): the
    streamed answer writes it when its body ends, an export job's file at each download of it."""
    if not export.contacts:
        return None
    described = "&".join(f"{k}={v}" for k, v in sorted(export.filters.items()) if v is not None) or "all"
    return {"action": audit.EXPORT_CONTACTS, "object_type": "complaint_export", "object_id": described[:64],
            "count": export.contacts}


def row(complaint, contact: bool, now: dt.datetime, referred=()) -> list:
    """One case (a row of statement_for(): the complaint's columns by name, plus the names joined in),
    with the complainant's name and phone if `contact`, and the texts of its referrals."""
    return [
        complaint.tracking_no,
        complaint.category_name or complaint.category,
        COMPLAINT_STATUS_NAMES.get(complaint.status, complaint.status),
        DEPARTMENTS.get(complaint.department, complaint.department),
        TARGET_NAMES.get(complaint.target_kind, complaint.target_kind),
        complaint.institution_name or complaint.place_name,
        complaint.institution_address or complaint.place_address,
        complaint.staff_name,
        complaint.content,
        complaint.anonymous,
        complaint.contact_name if contact else None,
        complaint.contact_phone if contact else None,
        complaint.submitted_at,
        complaint.accept_due_at,
        complaint.accepted_at,
        complaint.reply_due_at,
        service.is_overdue(complaint, now),
        FINDING_NAMES.get(complaint.finding) if complaint.finding else None,
        complaint.reply,
        complaint.replied_at,
        complaint.rating,
        complaint.closed_at,
        "；".join(referred) or None,
    ]

"""Open311 GeoReport v2 over the complaint intake: categories as services, public request status,
and posting through an API client's key, so that complaint apps built for Open311 work unchanged.

A request is shown without its description, contact, target or anything else that could identify
who complained or about whom: its number, category, status (open or closed), the department
responsible and two times. A POST goes through complaints.intake.submit_once(), so validation,
tracking numbers, query codes, idempotency and leads are those of POST /api/v1/complaints.
"""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select

from api.database import SessionLike, utcnow
from api.errors import ValidationFailed
from api.models import DEPARTMENTS
from complaints.models import Complaint, ComplaintCategory, ComplaintEvent

CLOSED = ("rejected", "closed")  # Open311's `closed`; every other status is `open`
DEFAULT_DAYS = 90  # GeoReport v2: without dates, the last 90 days
MAX_RESULTS = 1000  # GeoReport v2: at most 1000 requests per answer
_ATTRIBUTE = re.compile(r"attribute\[([A-Za-z0-9_]{1,50})\]")
TARGET_ATTRIBUTES = ("institution_id", "code_token", "staff_id", "place_name")
UNNAMED_PLACE = "（未注明名称的场所）"


def service(category: ComplaintCategory) -> dict:
    department = DEPARTMENTS.get(category.department, category.department)
    return {"service_code": category.code, "service_name": category.name,
            "description": f"{category.name}（{department}受理）", "metadata": bool(category.fields),
            "type": "realtime", "keywords": "", "group": department}


def definition(category: ComplaintCategory) -> dict:
    """GET services/{code}.json: the category's own fields as Open311 attributes."""
    kinds = {"string": "string", "number": "number", "boolean": "singlevaluelist", "date": "datetime",
             "choice": "singlevaluelist"}
    attributes = []
    for order, field in enumerate(category.fields or (), start=1):
        values = ([{"key": o["value"], "name": o.get("label", o["value"])} for o in field.get("options", ())]
                  if field["type"] == "choice" else
                  [{"key": "true", "name": "是"}, {"key": "false", "name": "否"}] if field["type"] == "boolean" else [])
        attributes.append({"variable": True, "code": field["name"], "datatype": kinds.get(field["type"], "string"),
                           "required": bool(field.get("required")), "datatype_description": None, "order": order,
                           "description": field["label"], "values": values})
    return {"service_code": category.code, "attributes": attributes}


def status(complaint_status: str) -> str:
    return "closed" if complaint_status in CLOSED else "open"


def public_request(row, status_changed_at: dt.datetime | None = None) -> dict:
    """A request as anyone may see it: nothing from the complaint's text, contact or target. Its
    `updated_datetime` is when its status last changed (not a rating, a note or an assignment)."""
    return {"service_request_id": row.tracking_no, "status": status(row.status), "service_code": row.category,
            "service_name": row.name, "agency_responsible": DEPARTMENTS.get(row.department, row.department),
            "requested_datetime": row.submitted_at, "updated_datetime": status_changed_at or row.submitted_at}


def public_requests(*, session: SessionLike, **filters) -> list[dict]:
    """The requests of requests_query(**filters), each with the time of its last status change."""
    found = session.execute(requests_query(**filters)).all()
    changed = status_changed_at(session=session, complaint_ids=[row.id for row in found])
    return [public_request(row, changed.get(row.id)) for row in found]


def status_changed_at(*, session: SessionLike, complaint_ids: list[int]) -> dict[int, dt.datetime]:
    """Complaint id → the time of the timeline entry that set its current status (its submission if none
    changed it since): Complaint.updated_at also moves on ratings, notes and assignments to the same status."""
    changed: dict[int, dt.datetime] = {}
    previous: dict[int, str] = {}
    for start in range(0, len(complaint_ids), 500):
        for event in session.execute(
                select(ComplaintEvent.complaint_id, ComplaintEvent.status, ComplaintEvent.at)
                .where(ComplaintEvent.complaint_id.in_(complaint_ids[start:start + 500]))
                .order_by(ComplaintEvent.complaint_id, ComplaintEvent.id)):
            if previous.get(event.complaint_id) != event.status:
                changed[event.complaint_id] = event.at
            previous[event.complaint_id] = event.status
    return changed


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def requests_query(*, service_request_id: str | None = None, service_code: str | None = None,
                   start_date: dt.datetime | None = None, end_date: dt.datetime | None = None,
                   status: str | None = None, now: dt.datetime | None = None):
    """GeoReport v2's GET requests: by ids (then the other filters are ignored, as the spec says), else
    by codes, status and a date range (the last 90 days by default), newest first, at most 1000."""
    statement = (select(Complaint.id, Complaint.tracking_no, Complaint.status, Complaint.category,
                        Complaint.department, Complaint.submitted_at, ComplaintCategory.name)
                 .join(ComplaintCategory, ComplaintCategory.code == Complaint.category)
                 .order_by(Complaint.submitted_at.desc(), Complaint.id.desc()).limit(MAX_RESULTS))
    ids = _split(service_request_id)
    if ids:
        if len(ids) > MAX_RESULTS:
            raise ValidationFailed(fields={"service_request_id": [f"最多 {MAX_RESULTS} 个"]})
        return statement.where(Complaint.tracking_no.in_(ids))
    codes = _split(service_code)
    if codes:
        statement = statement.where(Complaint.category.in_(codes))
    statuses = _split(status)
    if any(s not in ("open", "closed") for s in statuses):
        raise ValidationFailed(fields={"status": ["应为 open 或 closed（可用逗号分隔）"]})
    if statuses == ["open"]:
        statement = statement.where(Complaint.status.not_in(CLOSED))
    elif statuses == ["closed"]:
        statement = statement.where(Complaint.status.in_(CLOSED))
    end = end_date or now or utcnow()
    start = start_date or end - dt.timedelta(days=DEFAULT_DAYS)
    if start > end:
        raise ValidationFailed(fields={"end_date": ["end_date 不能早于 start_date"]})
    return statement.where(Complaint.submitted_at >= start, Complaint.submitted_at <= end)


def one_request(*, session: SessionLike, tracking_no: str) -> dict | None:
    found = public_requests(session=session, service_request_id=tracking_no)
    return found[0] if found else None


def complaint_data(form: dict[str, str], field_types: dict[str, str]) -> dict:
    """A GeoReport v2 POST as the body of POST /api/v1/complaints (then checked by its schema).
    `field_types`: the category's own fields (name → type), to read their form text as their type."""
    attributes = {match.group(1): value for name, value in form.items() if (match := _ATTRIBUTE.fullmatch(name))}
    targets = {key: attributes.pop(key) for key in ("institution_id", "code_token", "staff_id") if key in attributes}
    place_name = attributes.pop("place_name", None)
    if len(targets) > 1 or (targets and form.get("address_string")):
        raise ValidationFailed("请只指定一个投诉对象", fields={"attribute": [
            "attribute[institution_id]、attribute[code_token]、attribute[staff_id] 与 address_string 只能填一个"]})
    if targets:
        key, value = next(iter(targets.items()))
        # isascii(): "²".isdigit() is true but int() refuses it; such text goes on to the schema, which refuses it
        number = key != "code_token" and value.isascii() and value.isdigit() and len(value) <= 10
        target: dict = {key: int(value) if number else value}
    elif form.get("address_string"):
        target = {"name": place_name or UNNAMED_PLACE, "address": form["address_string"]}
    else:
        raise ValidationFailed("请指定投诉对象", fields={"attribute": [
            "请填写 attribute[institution_id]、attribute[code_token]、attribute[staff_id] 或 address_string"]})
    name = "".join(part for part in (form.get("last_name"), form.get("first_name")) if part)
    phone = form.get("phone") or None
    data = {"category": form.get("service_code", ""), "content": form.get("description", ""), "target": target,
            "anonymous": not (name or phone), "details": {k: _detail(v, field_types.get(k)) for k, v in attributes.items()}}
    if name:
        data["contact_name"] = name
    if phone:
        data["contact_phone"] = phone
    return data


def _detail(value: str, kind: str | None):
    """Form values are text; the category's boolean and number fields take them as such (anything else
    is left as text, for intake to refuse with its own message)."""
    if kind == "boolean" and value in ("true", "false"):
        return value == "true"
    if kind == "number" and re.fullmatch(r"-?\d{1,9}(\.\d{1,6})?", value):
        return float(value) if "." in value else int(value)
    return value

"""The public profile shown when a code is scanned: public facts only, in a constant number of queries.

`public.ready` builds it here and stores it ready to send (registry.ready_profiles), with the moment the
date alone would change it (`_valid_until`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import aliased, lazyload

from api import policy
from api.database import SHANGHAI, utcnow
from api.errors import CodeRevoked, NotFound
from api.labels import COLOUR_NAMES, LIST_NAMES, SUPERVISION_MODE_NAMES
from api.models import DEPARTMENTS
from api.text import plain
from codes import service as codes
from codes.models import Code
from registry import licence
from registry.models import CATEGORIES, STAFF_ROLES, Institution, Staff
from selfcheck import commitments
from selfcheck.models import Commitment
from supervision import grades, inspections
from supervision import service as supervision

STAFF_LIMIT = 200  # a large hospital lists its first 200 staff; `staff_count` says how many there are
ROLE_ORDER = case({role: rank for rank, role in enumerate(STAFF_ROLES)}, value=Staff.role, else_=len(STAFF_ROLES))


def scan(*, session, token: str, today, base_url: str) -> dict:
    """Profile for a scanned token: 404 for an unknown token, 410 for a revoked one.

    Three queries for an institution (the code with its subject and commitment; the staff with their
    codes; public inspections with their departments, and penalties), one for a staff member, whatever
    the number of staff, inspections or departments. Besides the contract's fields: `_code_id` and
    `_valid_until` (see valid_until()).
    """
    if not codes.plausible(token):
        raise NotFound("未找到此码，请确认是否为本平台发放的二维码")
    institution_code = aliased(Code)
    row = session.execute(
        select(Code, Institution, Staff, institution_code.token, Commitment)
        .outerjoin(Staff, Staff.id == Code.staff_id)
        .join(Institution, Institution.id == func.coalesce(Code.institution_id, Staff.institution_id))
        .outerjoin(institution_code, and_(institution_code.institution_id == Institution.id,
                                          institution_code.status == "active"))
        .outerjoin(Commitment, and_(Commitment.institution_id == Institution.id, Commitment.status == "active",
                                    Code.staff_id.is_(None)))
        .where(Code.token == token)
        .options(lazyload(Institution.code), lazyload(Staff.code), lazyload(Staff.institution))
    ).first()
    if row is None:
        raise NotFound("未找到此码，请确认是否为本平台发放的二维码")
    code, institution, staff, institution_token, commitment = row
    if code.status != "active":
        raise CodeRevoked()
    status = licence.of(institution, today)
    if staff is not None:
        shown = _staff_profile(code, staff, institution, institution_token, status, base_url, today)
        shown["_valid_until"] = valid_until(institution=institution, commitment=None, today=today)
        return shown
    shown = _institution_profile(session, code, institution, status, base_url, today, commitment)
    dated = [item["date"] for item in (*shown["institution"]["inspections"], *shown["institution"]["penalties"])]
    shown["_valid_until"] = valid_until(institution=institution, commitment=commitment, today=today, dated=dated)
    return shown


def valid_until(*, institution: Institution, commitment: Commitment | None, today: dt.date,
                dated: Sequence[dt.date] = ()) -> dt.datetime | None:
    """The first moment after which the date alone changes what a profile built `today` shows:

    - the licence turns `expiring` (30 days before its last day) or `expired` (the day after it);
    - the commitment takes effect or lapses, on the profile and in the grade (A needs one in force);
    - the institution's credit snapshot goes stale by itself (`credit_stale_after`: a pending violation
      becoming final, hence a public penalty appearing; a black-list term ending; a violation leaving
      the look-back window; the next policy version, the next cycle);
    - the oldest inspection or penalty shown (`dated`) leaves the public window (policy `public_years`);
    - the next policy version takes effect, and the new year (a new scoring cycle).

    None never happens here: 1 January always comes. Beijing midnights, as aware UTC-comparable times."""
    days = [dt.date(today.year + 1, 1, 1)]
    if licence.of(institution, today) in ("valid", "expiring", "expired"):  # the dates decide it
        days += [institution.licence_valid_to - dt.timedelta(days=licence.EXPIRING_WITHIN_DAYS),
                 institution.licence_valid_to + dt.timedelta(days=1)]
    if institution.commitment_valid_to is not None:
        days.append(institution.commitment_valid_to + dt.timedelta(days=1))
    if commitment is not None:
        days += [commitment.valid_from, commitment.valid_to + dt.timedelta(days=1)]
    next_policy = policy.book().next_change(today)
    if next_policy is not None:
        days.append(next_policy)
    if dated:
        days.append(_leaves_public_window(min(dated), policy.in_force(today).public_years))
    moments = [dt.datetime.combine(day, dt.time.min, tzinfo=SHANGHAI) for day in days if day > today]
    if institution.credit_stale_after is not None:
        moments.append(institution.credit_stale_after)
    return min(moments)


def _leaves_public_window(day: dt.date, years: int) -> dt.date:
    """The first date on which an item of `day` is older than the public window (supervision.inspections
    shows items on or after years_before(today, years))."""
    leaves = grades.years_after(day, years) + dt.timedelta(days=1)
    while grades.years_before(leaves, years) <= day:  # 29 February
        leaves += dt.timedelta(days=1)
    return leaves


def _institution_profile(session, code, institution, status, base_url, today, commitment) -> dict:
    credit = supervision.institution_credit(institution, status, today)
    shown_inspections, penalties = inspections.public_record(session=session, institution_id=institution.id,
                                                             today=today, now=utcnow())
    rows = session.execute(
        select(Staff, Code.token, func.count().over().label("total"))
        .outerjoin(Code, and_(Code.staff_id == Staff.id, Code.status == "active"))
        .where(Staff.institution_id == institution.id, Staff.status == "active")
        .order_by(ROLE_ORDER, Staff.id)
        .limit(STAFF_LIMIT)
        .options(lazyload(Staff.code), lazyload(Staff.institution))
    ).all()
    staff_list = [
        {"name": plain(s.name), "role": s.role, "title": plain(s.title or "") or None, "practice_category": s.practice_category,
         "practice_scope": s.practice_scope, "code_url": codes.urls(t, base_url)["url"] if t else None}
        for s, t, _ in rows
    ]
    updated_at = max([institution.updated_at, code.issued_at, *(s.updated_at for s, _, _ in rows),
                      *([commitment.ended_at or commitment.signed_at] if commitment else [])])
    return {
        "_code_id": code.id,
        "type": "institution",
        "token": code.token,
        "colour": credit.colour,
        "updated_at": updated_at,
        "institution": {
            "name": plain(institution.name),
            "category": institution.category,
            "licence_no": institution.licence_no,
            "licence_valid_to": institution.licence_valid_to,
            "licence_status": status,
            "scope": list(institution.scope or []),
            "address": plain(institution.address),
            "credit": credit.public_of_institution(),
            "commitment": commitments.public_view(commitment, today, base_url),
            "inspections": shown_inspections,
            "penalties": penalties,
            "staff": staff_list,
            "staff_count": rows[0].total if rows else 0,
        },
        "complaint_url": f"{base_url}/c/{code.token}/complain",
    }


def _staff_profile(code, staff, institution, institution_token, status, base_url, today) -> dict:
    credit = supervision.staff_credit(staff, status)
    return {
        "_code_id": code.id,
        "type": "staff",
        "token": code.token,
        "colour": credit.colour,
        "updated_at": max(staff.updated_at, institution.updated_at, code.issued_at),
        "staff": {
            "name": plain(staff.name),
            "role": staff.role,
            "title": plain(staff.title or "") or None,
            "practice_category": staff.practice_category,
            "practice_scope": staff.practice_scope,
            "practice_cert_no": staff.practice_cert_no,
            "status": staff.status,
            "institution": {
                "name": plain(institution.name),
                "licence_no": institution.licence_no,
                "licence_status": status,
                "code_url": codes.urls(institution_token, base_url)["url"] if institution_token else None,
            },
            "credit": credit.public(),
        },
        "complaint_url": f"{base_url}/c/{code.token}/complain",
    }


# zh-CN names for the H5 page.
LABELS = {
    "category": CATEGORIES,
    "role": STAFF_ROLES,
    "licence_status": licence.LICENCE_STATUS_NAMES,
    "colour": COLOUR_NAMES,
    "supervision_mode": SUPERVISION_MODE_NAMES,
    "lists": LIST_NAMES,
    "staff_status": {"active": "在岗", "left": "已离职"},
    "inspection_result": {"pass": "合格", "rectify": "责令整改", "penalty": "行政处罚"},
    "department": DEPARTMENTS,
}

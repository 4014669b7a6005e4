"""Licence status, derived from the dates and the institution's status (never stored)."""

from __future__ import annotations

import datetime as dt

EXPIRING_WITHIN_DAYS = 30
LICENCE_STATUS_NAMES = {
    "valid": "有效",
    "expiring": "即将到期",
    "expired": "已过期",
    "suspended": "已暂停执业",
    "revoked": "已吊销/注销",
}


def licence_status(*, institution_status: str, valid_to: dt.date, today: dt.date) -> str:
    """suspended/revoked follow the institution's status (a closed institution's licence is cancelled,
    shown as revoked); otherwise expired after valid_to, expiring within 30 days of it, else valid."""
    if institution_status == "suspended":
        return "suspended"
    if institution_status in ("revoked", "closed"):
        return "revoked"
    if today > valid_to:
        return "expired"
    if (valid_to - today).days <= EXPIRING_WITHIN_DAYS:
        return "expiring"
    return "valid"


def of(institution, today: dt.date) -> str:
    return licence_status(institution_status=institution.status, valid_to=institution.licence_valid_to,
                          today=today)

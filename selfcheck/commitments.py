"""Credit commitments (信用承诺): the standard text, signing, breach, and the printable document.

The text is a versioned data file (selfcheck/commitments/v<N>.json). The institution's principal or
legal representative signs the exact text of the current version: the commitment keeps that text and
its SHA-256, so what was signed can be shown and verified whatever later versions say.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from pathlib import Path

from sqlalchemy import select

from api.access import CITIZEN, check_own_institution, scope_to_account
from api.database import SessionLike, lock_row, today_shanghai, utcnow
from api.errors import (
    Conflict,
    Forbidden,
    InvalidTransition,
    NotFound,
    ValidationFailed,
)
from api.models import Account
from registry.credit_snapshot import mark_credit_stale
from registry.models import Institution
from selfcheck.models import Commitment
from selfcheck.service import signer_role

TEXT_DIR = Path(__file__).parent / "commitments"
VALID_DAYS = 365
RENEW_WITHIN_DAYS = 30  # a new commitment may replace one that ends within this many days


@functools.cache
def texts() -> dict[int, dict]:
    """Every version of the standard text, by version number."""
    found = {}
    for path in TEXT_DIR.glob("v*.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        found[int(data["version"])] = {"version": int(data["version"]), "title": data["title"], "text": data["text"]}
    return found


def current_text() -> dict:
    latest = max(texts())
    text = texts()[latest]
    return text | {"sha256": sha256(text["text"])}


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def in_force(commitment: Commitment | None, today: dt.date) -> bool:
    return commitment is not None and commitment.status == "active" and commitment.valid_from <= today <= commitment.valid_to


def active_for(*, session: SessionLike, institution_id: int) -> Commitment | None:
    return session.scalar(select(Commitment).where(Commitment.institution_id == institution_id,
                                                   Commitment.status == "active"))


def sign(*, session: SessionLike, account: Account, version: int, signer_name: str, signer_title: str, agree: bool,
         today: dt.date | None = None) -> Commitment:
    """Sign the current text for the account's institution; valid one year from today."""
    today = today or today_shanghai()
    if agree is not True:
        raise ValidationFailed(fields={"agree": ["请阅读并同意承诺内容"]})
    text = current_text()
    if version != text["version"]:
        raise ValidationFailed(fields={"version": [f"承诺书已更新为第 {text['version']} 版，请阅读后重新签署"]})
    institution = session.get_one(Institution, account.institution_id)
    signer_role(institution, signer_name)
    # Lock the institution: two signatures at once cannot both replace the same commitment.
    lock_row(session, Institution, institution.id)
    previous = active_for(session=session, institution_id=institution.id)
    if previous is not None:
        if in_force(previous, today) and previous.valid_to > today + dt.timedelta(days=RENEW_WITHIN_DAYS):
            raise Conflict(f"已有有效的信用承诺（至 {previous.valid_to}），到期前 {RENEW_WITHIN_DAYS} 天内可续签")
        previous.status, previous.ended_at = "superseded", utcnow()
        session.flush()
    commitment = Commitment(
        institution_id=institution.id, version=text["version"], text=text["text"], text_sha256=text["sha256"],
        signer_name=signer_name, signer_title=signer_title, signed_by_id=account.id, signed_at=utcnow(),
        valid_from=today, valid_to=today + dt.timedelta(days=VALID_DAYS - 1), status="active",
    )
    session.add(commitment)
    session.flush()
    mark_credit_stale(session=session, institution_id=institution.id)  # grade A needs one in force
    return commitment


def end_for_breach(*, session: SessionLike, commitment: Commitment, account: Account, reason: str) -> dt.datetime:
    """The commitment's side of a breach (recorded by supervision.violations.record_breach, which adds the
    points and the lead reason): it ends at once, and the institution loses grade A for this year.
    The institution is locked and the commitment read again first: a second click on the button, or a
    renewal at the same moment, waits and then finds the commitment ended. Returns when it ended."""
    lock_row(session, Institution, commitment.institution_id)
    session.refresh(commitment)
    if not in_force(commitment, today_shanghai()):
        raise InvalidTransition("该承诺已失效，不能再记录违诺")
    now = utcnow()
    commitment.status, commitment.ended_at = "breached", now
    commitment.breached_at, commitment.breach_reason, commitment.breached_by_id = now, reason, account.id
    session.flush()
    return now


def get(*, session: SessionLike, commitment_id: int) -> Commitment:
    commitment = session.get(Commitment, commitment_id)
    if commitment is None:
        raise NotFound("未找到该信用承诺")
    return commitment


def check_may_read(commitment: Commitment, account: Account | None, today: dt.date) -> None:
    """A commitment in force is public (the scan shows it); others only to the institution and regulators."""
    if in_force(commitment, today):
        return
    if account is None:
        raise NotFound("未找到有效的信用承诺")
    if account.role == CITIZEN:
        raise Forbidden()
    check_own_institution(account, commitment.institution_id, "未找到该信用承诺")


def query(*, account: Account, institution_id: int | None = None, status: str | None = None):
    statement = select(Commitment).order_by(Commitment.signed_at.desc(), Commitment.id.desc())
    statement = scope_to_account(statement, account, Commitment.institution_id, institution_id=institution_id)
    if status:
        statement = statement.where(Commitment.status == status)
    return statement


def view(commitment: Commitment, today: dt.date) -> dict:
    return {
        "id": commitment.id, "institution_id": commitment.institution_id,
        "institution_name": commitment.institution.name, "version": commitment.version,
        "status": commitment.status, "in_force": in_force(commitment, today),
        "signer_name": commitment.signer_name, "signer_title": commitment.signer_title,
        "signed_at": commitment.signed_at, "valid_from": commitment.valid_from, "valid_to": commitment.valid_to,
        "text_sha256": commitment.text_sha256, "breached_at": commitment.breached_at,
        "breach_reason": commitment.breach_reason,
    }


def public_view(commitment: Commitment | None, today: dt.date, base_url: str) -> dict | None:
    """What the scan shows: only a commitment in force."""
    if commitment is None or not in_force(commitment, today):
        return None
    return {"version": commitment.version, "signer_name": commitment.signer_name,
            "signer_title": commitment.signer_title, "signed_at": commitment.signed_at,
            "valid_from": commitment.valid_from, "valid_to": commitment.valid_to,
            "text_sha256": commitment.text_sha256,
            "document_url": f"{base_url}/api/v1/commitments/{commitment.id}/document"}

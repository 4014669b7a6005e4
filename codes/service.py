"""Codes: issue, revoke, colour, QR rendering, and the public profile a scan shows."""

from __future__ import annotations

import functools
import hashlib
import io
import re
import secrets
from typing import Any, cast

import segno
from sqlalchemy import insert, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError

from api import changes, wechat
from api.database import SessionLike, utcnow
from api.errors import CodeRevoked, Conflict, NotFound
from codes.models import Code, MiniProgramCode
from registry.models import Institution, Staff
from registry.ready_profiles import ReadyProfile, mark_stale

TOKEN_BYTES = 15  # 120 bits -> 20 URL-safe characters (a WeChat scene allows 32)
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,32}")
# The ink of each credit colour (the colour itself is credit: supervision.grades.colour_for).
COLOUR_HEX = {"green": "#1a7f37", "yellow": "#9a6700", "red": "#cf222e"}
RENDER_VERSION = "1"  # bump when the rendering changes, so cached images and ETags move on


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def issue(*, session: SessionLike, institution: Institution | None = None, staff: Staff | None = None,
          flush: bool = True) -> Code:
    """Give a subject a new active code (callers revoke the previous one first), with its ready profile
    (unbuilt: its first scan builds it). flush=False: the code is written with the caller's next flush
    (many codes in one INSERT), and the caller then adds their ready profiles (`add_ready_profiles`)."""
    code = Code(
        token=new_token(),
        institution_id=institution.id if institution is not None else None,
        staff_id=staff.id if staff is not None else None,
        status="active",
        issued_at=utcnow(),
    )
    session.add(code)
    if flush:
        session.flush()
        institution_id = institution.id if institution is not None else staff.institution_id  # type: ignore[union-attr]
        add_ready_profiles(session, [(code, institution_id)])
    return code


def add_ready_profiles(session: SessionLike, issued: list[tuple[Code, int]]) -> None:
    """The ready profiles of codes just issued (and flushed), with the institution each shows, in one
    INSERT. The institution's other profiles show the new code (the staff list's links, a staff member's
    link to the institution), so they are marked stale."""
    if not issued:
        return
    session.execute(insert(ReadyProfile), [{"code_id": code.id, "institution_id": institution_id, "version": 1}
                                           for code, institution_id in issued])
    mark_stale(session, [institution_id for _, institution_id in issued])


def find(*, session: SessionLike, token: str) -> Code:
    code = session.scalar(select(Code).where(Code.token == token)) if plausible(token) else None
    if code is None:
        raise NotFound("未找到此码，请确认是否为本平台发放的二维码")
    return code


def plausible(token: str) -> bool:
    """Tokens are URL-safe base64; anything else is not worth a database query."""
    return _TOKEN_SHAPE.fullmatch(token) is not None


def revoke(*, session: SessionLike, token: str, reason: str, by_account_id: int) -> Code:
    """Retire a code (poster stolen, forgeries seen) and issue its subject a new one."""
    code = find(session=session, token=token)
    retired = cast(CursorResult[Any], session.execute(  # an UPDATE: its result has a rowcount
        update(Code)
        .where(Code.id == code.id, Code.status == "active")
        .values(status="revoked", revoked_at=utcnow(), revoked_reason=reason, revoked_by=by_account_id)
        .execution_options(synchronize_session=False)
    ))
    if retired.rowcount != 1:
        raise Conflict("此码已作废，不能重复作废")
    changes.record(session, "code", [code.id], ref=lambda _: token)  # a Core UPDATE: the feed is told here
    session.expire(code)
    institution = session.get(Institution, code.institution_id) if code.institution_id else None
    staff = session.get(Staff, code.staff_id) if code.staff_id else None
    new_code = issue(session=session, institution=institution, staff=staff)
    subject = institution or staff
    session.expire(subject, ["code"])
    return new_code


def urls(token: str, base_url: str) -> dict:
    return {"url": f"{base_url}/c/{token}", "image_url": f"{base_url}/api/v1/codes/{token}/image?format=png"}


def code_view(code: Code | None, *, colour: str, base_url: str) -> dict | None:
    """The contract's `code` object."""
    if code is None:
        return None
    return {"token": code.token, "status": code.status, "issued_at": code.issued_at, "colour": colour,
            **urls(code.token, base_url)}


# --- QR images ---------------------------------------------------------------------------------

def image_etag(token: str, colour: str, fmt: str, scale: int) -> str:
    key = f"{RENDER_VERSION}:{token}:{colour}:{fmt}:{scale}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


@functools.lru_cache(maxsize=1024)
def render(url: str, colour: str, fmt: str, scale: int) -> bytes:
    """The QR image of `url`: never a Micro QR, error level M or better, a 4-module quiet zone, dark
    modules in the credit colour on white. Cached per (url, colour, format, scale)."""
    qr = segno.make(url, error="m", boost_error=True, micro=False)
    out = io.BytesIO()
    qr.save(out, kind=fmt, scale=scale, border=4, dark=COLOUR_HEX[colour], light="#ffffff")
    return out.getvalue()


def mini_program_code(*, session: SessionLike, token: str):
    """The mini-program code of an active code: stored after the first request, so WeChat is asked
    once per code (a revoked code's new token gets its own)."""
    code = find(session=session, token=token)
    if code.status != "active":
        raise CodeRevoked()
    stored = session.get(MiniProgramCode, code.id)
    if stored is None:
        image, content_type = wechat.unlimited_code(session=session, scene=code.token)
        stored = MiniProgramCode(code_id=code.id, image=image, content_type=content_type,
                                 sha256=hashlib.sha256(image).hexdigest())
        try:
            with session.begin_nested():
                session.add(stored)
        except IntegrityError:  # another request stored it first (the savepoint dropped ours): serve that one
            stored = session.get(MiniProgramCode, code.id, populate_existing=True)
    return stored

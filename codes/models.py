"""Codes (一码) and their daily scan counters."""

from __future__ import annotations

import datetime as dt
from operator import attrgetter

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from api.changes import track
from api.database import Model, UTCDateTime, utcnow


class Code(Model):
    """A printed code. Exactly one subject (institution or staff); at most one active code per subject,
    so a revoked poster can never be confused with the current one."""

    __tablename__ = "codes"
    __table_args__ = (
        CheckConstraint("(institution_id IS NULL) != (staff_id IS NULL)", name="one_subject"),
        CheckConstraint("status IN ('active', 'revoked')", name="status"),
        Index("uq_codes_active_institution", "institution_id", unique=True,
              sqlite_where=text("status = 'active'"), postgresql_where=text("status = 'active'")),
        Index("uq_codes_active_staff", "staff_id", unique=True,
              sqlite_where=text("status = 'active'"), postgresql_where=text("status = 'active'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32), unique=True)
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id", ondelete="CASCADE"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="active")
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(Text)
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))


class ScanCount(Model):
    """How often a code was scanned on a (Beijing) day. Nothing about who scanned is kept."""

    __tablename__ = "code_scan_counts"

    code_id: Mapped[int] = mapped_column(ForeignKey("codes.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class MiniProgramCode(Model):
    """The WeChat mini-program code (小程序码) of a code, fetched from WeChat once and kept."""

    __tablename__ = "mini_program_codes"

    code_id: Mapped[int] = mapped_column(ForeignKey("codes.id", ondelete="CASCADE"), primary_key=True)
    image: Mapped[bytes] = mapped_column(LargeBinary)
    content_type: Mapped[str] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


# The changes feed (api.changes): a code issued or revoked, and its subject's record, which shows it.
track(Code, "code", ref=attrgetter("token"))
track(Code, "institution", key=attrgetter("institution_id"), part=True)
track(Code, "staff", key=attrgetter("staff_id"), part=True)

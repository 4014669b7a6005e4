"""Supervision records: inspection leads (线索) so far; violations, inspections and draws join here."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.database import UTCDateTime, db, utcnow
from api.models import _in

LEAD_STATUSES = ("open", "inspected", "dismissed")


class Lead(db.Model):
    """A reason to inspect an institution (or an unlicensed place), scored from its reasons.

    One open lead per institution (a partial unique index): new reasons join the open lead. It ends
    when an inspection is recorded (`inspected`) or a regulator dismisses it with a note (`dismissed`).
    """

    __tablename__ = "leads"
    __table_args__ = (
        CheckConstraint(_in("status", LEAD_STATUSES), name="status"),
        CheckConstraint("institution_id IS NOT NULL OR place_name IS NOT NULL", name="subject"),
        CheckConstraint("status = 'open' OR closed_at IS NOT NULL", name="closed_at"),
        Index("uq_leads_open_institution", "institution_id", unique=True,
              sqlite_where=text("status = 'open'"), postgresql_where=text("status = 'open'")),
        Index("ix_leads_status_score", "status", "score"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id", ondelete="CASCADE"))
    place_name: Mapped[str | None] = mapped_column(String(100))
    place_address: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="open")
    score: Mapped[int] = mapped_column(default=0)
    reasons: Mapped[list[dict]] = mapped_column(JSON, default=list)
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    close_note: Mapped[str | None] = mapped_column(Text)

    institution = relationship("Institution", lazy="joined", viewonly=True)

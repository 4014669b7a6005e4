"""Inspection leads (线索) as stored: one open lead per institution, its reasons as rows.

Complaints and self-checks write them (leads.service); supervision lists, scores and closes them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.database import Model, UTCDateTime, one_of, utcnow

LEAD_STATUSES = ("open", "inspected", "dismissed")
# Why a lead exists; leads.service.WEIGHTS gives each its points.
LEAD_REASON_KINDS = ("complaint", "serious_complaint", "veto_item", "rectification_overdue", "missed_selfcheck",
                     "commitment_breach", "expired_licence_scanned")


class Lead(Model):
    """A reason to inspect an institution (or an unlicensed place), scored from its reasons.

    One open lead per institution (a partial unique index): new reasons join the open lead. It ends
    when an inspection is recorded (`inspected`) or a regulator dismisses it with a note (`dismissed`).
    `score` is kept with the lead (sorted and filtered on); its reasons are rows of their own, so a
    lead that gathers thousands of complaints costs one small insert per complaint.
    """

    __tablename__ = "leads"
    __table_args__ = (
        CheckConstraint(one_of("status", LEAD_STATUSES), name="status"),
        CheckConstraint("institution_id IS NOT NULL OR place_name IS NOT NULL", name="subject"),
        CheckConstraint("status = 'open' OR closed_at IS NOT NULL", name="closed_at"),
        Index("uq_leads_open_institution", "institution_id", unique=True,
              sqlite_where=text("status = 'open'"), postgresql_where=text("status = 'open'")),
        Index("ix_leads_status_score", "status", "score"),
        Index("ix_leads_opened_at", "opened_at"),  # leads opened, closed in a period (oversight.stats)
        Index("ix_leads_closed_at", "closed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id", ondelete="CASCADE"))
    place_name: Mapped[str | None] = mapped_column(String(100))
    place_address: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="open")
    score: Mapped[int] = mapped_column(default=0)
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    close_note: Mapped[str | None] = mapped_column(Text)

    institution = relationship("Institution", lazy="joined", viewonly=True)
    reasons: Mapped[list[LeadReason]] = relationship(
        back_populates="lead", lazy="selectin", order_by="(LeadReason.at, LeadReason.id)",
        cascade="all, delete-orphan", passive_deletes=True)


class LeadReason(Model):
    """One reason of a lead. `ref` names its source (a tracking number, `veto:2026Q3:A01`...): a source
    counts once per lead (unique with the lead; reasons without a ref are never merged)."""

    __tablename__ = "lead_reasons"
    __table_args__ = (
        CheckConstraint(one_of("kind", LEAD_REASON_KINDS), name="kind"),
        UniqueConstraint("lead_id", "ref"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))  # indexed by the unique
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ref: Mapped[str | None] = mapped_column(String(64))

    lead: Mapped[Lead] = relationship(back_populates="reasons")

"""Complaints (投诉举报): categories, cases, their timeline, attachments and the daily numbering."""

from __future__ import annotations

import datetime as dt
from operator import attrgetter

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.changes import track
from api.database import Model, UTCDateTime, one_of, utcnow
from api.models import DEPARTMENTS
from api.policy import policy_version_now

STATUSES = ("submitted", "accepted", "rejected", "assigned", "investigating", "resolved", "replied", "closed")
TARGET_KINDS = ("institution", "staff", "place")  # a scanned code resolves to institution or staff
FINDINGS = ("substantiated", "partly_substantiated", "unsubstantiated")
# Whom a case is referred to (移送, the `refer` action): the police, the procuratorate, a court, or
# another body named in full (referred_to_name).
REFERRAL_RECIPIENTS = ("public_security", "procuratorate", "court", "other")


class ComplaintCategory(Model):
    """Reference table, seeded by a migration: what a complaint is about decides who handles it.

    `also_departments` see the cases too (joint work, e.g. the police, market and ecology on illegal
    practice, which health leads) without handling them; `fields` is the category's extra form
    (Open311-style attribute definitions). A `retired` category is no longer offered nor taken, but
    the cases filed under it keep it (and its name) for good.
    """

    __tablename__ = "complaint_categories"
    __table_args__ = (
        CheckConstraint(one_of("department", DEPARTMENTS), name="department"),
        {"info": {"reference": True}},  # seeded data: tests keep it between cases
    )

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    department: Mapped[str] = mapped_column(String(32))
    also_departments: Mapped[list[str]] = mapped_column(JSON, default=list)
    serious: Mapped[bool] = mapped_column(default=False)
    fields: Mapped[list[dict]] = mapped_column(JSON, default=list)
    position: Mapped[int] = mapped_column(default=0)
    retired: Mapped[bool] = mapped_column(default=False)


class Complaint(Model):
    __tablename__ = "complaints"
    __table_args__ = (
        CheckConstraint(one_of("status", STATUSES), name="status"),
        CheckConstraint(one_of("department", DEPARTMENTS), name="department"),
        CheckConstraint(one_of("target_kind", TARGET_KINDS), name="target_kind"),
        CheckConstraint(f"finding IS NULL OR {one_of('finding', FINDINGS)}", name="finding"),
        CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="rating"),
        CheckConstraint("target_kind != 'place' OR (place_name IS NOT NULL AND place_address IS NOT NULL)",
                        name="place_target"),
        CheckConstraint("target_kind = 'place' OR institution_id IS NOT NULL", name="institution_target"),
        CheckConstraint("NOT anonymous OR (contact_name IS NULL AND contact_phone IS NULL)", name="anonymous"),
        Index("ix_complaints_institution_submitted", "institution_id", "submitted_at"),
        Index("ix_complaints_department_status", "department", "status"),
        # The leaders' numbers (oversight.stats) count the complaints received in a period from this index
        # alone, without reading the rows (their text makes them wide): it holds every column they read.
        Index("ix_complaints_stats", "submitted_at", "department", "status", "institution_id", "accepted_at",
              "accept_due_at", "reply_due_at", "replied_at", "rating"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tracking_no: Mapped[str] = mapped_column(String(24), unique=True)
    query_code_hash: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(ForeignKey("complaint_categories.code", ondelete="RESTRICT"), index=True)
    department: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="submitted")
    content: Mapped[str] = mapped_column(Text)
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    target_kind: Mapped[str] = mapped_column(String(16))
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id", ondelete="RESTRICT"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="RESTRICT"), index=True)
    code_id: Mapped[int | None] = mapped_column(ForeignKey("codes.id", ondelete="SET NULL"))
    place_name: Mapped[str | None] = mapped_column(String(100))
    place_address: Mapped[str | None] = mapped_column(String(200))
    occurred_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    anonymous: Mapped[bool] = mapped_column(default=False)
    contact_name: Mapped[str | None] = mapped_column(String(50))
    contact_phone: Mapped[str | None] = mapped_column(String(20))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), index=True)
    handler_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    idempotency_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    request_fingerprint: Mapped[str | None] = mapped_column(String(64))
    submitted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    accept_due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    policy_version: Mapped[int] = mapped_column(default=policy_version_now)  # the api.policy version its deadlines follow
    accepted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reply_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    extended_days: Mapped[int | None] = mapped_column()
    finding: Mapped[str | None] = mapped_column(String(32))
    reply: Mapped[str | None] = mapped_column(Text)
    replied_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    rating: Mapped[int | None] = mapped_column()
    rating_comment: Mapped[str | None] = mapped_column(String(500))
    rated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    events: Mapped[list[ComplaintEvent]] = relationship(
        back_populates="complaint", order_by="ComplaintEvent.id", cascade="all, delete-orphan"
    )
    category_ref: Mapped[ComplaintCategory] = relationship(lazy="joined", viewonly=True)
    institution = relationship("Institution", lazy="joined", viewonly=True)
    staff = relationship("Staff", lazy="joined", viewonly=True)


class ComplaintEvent(Model):
    """One row of a case's timeline: who did what, when. `note` is public (the complainant sees it when
    tracking); `internal_note` is for regulators only."""

    __tablename__ = "complaint_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))  # the status after the action
    department: Mapped[str] = mapped_column(String(32))  # the department holding the case after it
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    note: Mapped[str | None] = mapped_column(Text)
    internal_note: Mapped[str | None] = mapped_column(Text)

    complaint: Mapped[Complaint] = relationship(back_populates="events")
    referral: Mapped[ComplaintReferral | None] = relationship(back_populates="event", lazy="selectin")


class ComplaintReferral(Model):
    """A referral (移送) of a case to the police or the judiciary, recorded with the `refer` entry of
    the timeline it belongs to. The case stays with its department: a referral is a record, not a
    transfer. A case may be referred more than once (to the police, with a copy to the
    procuratorate); the same document to the same body is recorded once."""

    __tablename__ = "complaint_referrals"
    __table_args__ = (
        CheckConstraint(one_of("referred_to", REFERRAL_RECIPIENTS), name="referred_to"),
        CheckConstraint("referred_to != 'other' OR referred_to_name IS NOT NULL", name="referred_to_named"),
        UniqueConstraint("complaint_id", "referred_to", "reference_no"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id", ondelete="CASCADE"))  # unique key's lead
    event_id: Mapped[int] = mapped_column(ForeignKey("complaint_events.id", ondelete="CASCADE"), unique=True)
    referred_to: Mapped[str] = mapped_column(String(32))
    referred_to_name: Mapped[str | None] = mapped_column(String(100))  # e.g. 济南市公安局历城区分局
    referred_on: Mapped[dt.date] = mapped_column(Date)
    reference_no: Mapped[str | None] = mapped_column(String(64))  # the referral letter's number (移送书文号)

    event: Mapped[ComplaintEvent] = relationship(back_populates="referral")


class Attachment(Model):
    """A file sent with a complaint, stored once by content hash under UPLOAD_DIR (never served publicly)."""

    __tablename__ = "complaint_attachments"
    __table_args__ = (
        UniqueConstraint("complaint_id", "sha256"),
        CheckConstraint("content_type IN ('image/jpeg', 'image/png', 'application/pdf')", name="content_type"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id", ondelete="CASCADE"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column()
    filename: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class TrackingCounter(Model):
    """The last tracking number taken per Beijing day, by one atomic upsert: one number per complaint
    on SQLite, a block of numbers per process on PostgreSQL (see complaints.intake.next_tracking_no)."""

    __tablename__ = "complaint_counters"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    last: Mapped[int] = mapped_column(default=0)


# The changes feed (api.changes): a case's status only (submitted, then each transition), never what
# it says; the intake's INSERT records its own (complaints.intake).
track(Complaint, "complaint", columns=("status",), ref=attrgetter("tracking_no"))

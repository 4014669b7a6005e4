"""Self-inspection (依法执业自查) templates and filings; credit commitments (信用承诺)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.database import Model, UTCDateTime, one_of, utcnow
from registry.ready_profiles import shown_on_profiles

AREAS = {
    "licences": "执业许可与登记",
    "staff": "人员资质",
    "quality": "医疗质量与安全",
    "infection": "感染防控与消毒",
    "waste": "医疗废物",
    "radiation": "放射诊疗",
    "drugs": "药品与医疗器械",
    "advertising": "医疗广告",
    "pricing": "价格与收费",
    "records": "病历与信息",
}
TIERS = {"veto": "一票否决", "key": "关键", "major": "重点", "general": "一般"}
RESULTS = ("compliant", "non_compliant", "not_applicable")
FILING_STATUSES = ("submitted", "accepted", "returned")
COMMITMENT_STATUSES = ("active", "superseded", "breached")


class ChecklistTemplate(Model):
    """One published version of a checklist. Items are frozen with the version: filings point at it."""

    __tablename__ = "checklist_templates"
    __table_args__ = (UniqueConstraint("key", "version"), CheckConstraint("version >= 1", name="version"))

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column()
    name: Mapped[str] = mapped_column(String(100))
    categories: Mapped[list[str]] = mapped_column(JSON)
    basis: Mapped[str | None] = mapped_column(String(200))
    items: Mapped[list[dict]] = mapped_column(JSON)
    published_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))


class SelfCheck(Model):
    """A filing for one period. Immutable once submitted; a returned filing is corrected by a new
    revision (the returned one stays, as history). At most one live (submitted or accepted) filing per
    institution and period, enforced by a partial unique index."""

    __tablename__ = "selfchecks"
    __table_args__ = (
        CheckConstraint(one_of("status", FILING_STATUSES), name="status"),
        CheckConstraint("signer_role IN ('legal_representative', 'principal')", name="signer_role"),
        UniqueConstraint("institution_id", "period", "revision"),
        Index("uq_selfchecks_live_period", "institution_id", "period", unique=True,
              sqlite_where=text("status != 'returned'"), postgresql_where=text("status != 'returned'")),
        Index("ix_selfchecks_period_status", "period", "status"),
        Index("ix_selfchecks_submitted_at", "submitted_at"),  # filings of a period (oversight.stats)
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id", ondelete="RESTRICT"))
    template_id: Mapped[int] = mapped_column(ForeignKey("checklist_templates.id", ondelete="RESTRICT"))
    period: Mapped[str] = mapped_column(String(7))
    revision: Mapped[int] = mapped_column(default=1)
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("selfchecks.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="submitted")
    signer_name: Mapped[str] = mapped_column(String(50))
    signer_role: Mapped[str] = mapped_column(String(32))
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    submitted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    non_compliant_count: Mapped[int] = mapped_column(default=0)
    veto_count: Mapped[int] = mapped_column(default=0)
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    review_note: Mapped[str | None] = mapped_column(Text)

    answers: Mapped[list[SelfCheckAnswer]] = relationship(
        back_populates="selfcheck", order_by="SelfCheckAnswer.id", cascade="all, delete-orphan"
    )
    template: Mapped[ChecklistTemplate] = relationship(lazy="joined", viewonly=True)
    institution = relationship("Institution", lazy="joined", viewonly=True)


class SelfCheckAnswer(Model):
    """One item's answer, with the item's text and tier copied from the template version answered."""

    __tablename__ = "selfcheck_answers"
    __table_args__ = (
        UniqueConstraint("selfcheck_id", "item_code"),
        CheckConstraint(one_of("result", RESULTS), name="result"),
        CheckConstraint(one_of("tier", TIERS), name="tier"),
        CheckConstraint(
            "result != 'non_compliant' OR (rectification_plan IS NOT NULL AND rectification_owner IS NOT NULL"
            " AND rectification_due IS NOT NULL)", name="rectification_plan"),
        Index("ix_selfcheck_answers_due", "result", "rectification_due"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    selfcheck_id: Mapped[int] = mapped_column(ForeignKey("selfchecks.id", ondelete="CASCADE"), index=True)
    item_code: Mapped[str] = mapped_column(String(32))
    area: Mapped[str] = mapped_column(String(16))
    tier: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(String(500))
    result: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(String(1000))
    rectification_plan: Mapped[str | None] = mapped_column(String(1000))
    rectification_owner: Mapped[str | None] = mapped_column(String(50))
    rectification_due: Mapped[dt.date | None] = mapped_column(Date)

    selfcheck: Mapped[SelfCheck] = relationship(back_populates="answers")


class Rectification(Model):
    """An item put right: recorded after the filing, which itself never changes."""

    __tablename__ = "selfcheck_rectifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    answer_id: Mapped[int] = mapped_column(ForeignKey("selfcheck_answers.id", ondelete="CASCADE"), unique=True)
    done_on: Mapped[dt.date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(1000))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))


class Commitment(Model):
    """A signed credit commitment: the exact text, its SHA-256, who signed and when; valid one year.
    One active at a time (partial unique index); a breach or a renewal ends it."""

    __tablename__ = "commitments"
    __table_args__ = (
        CheckConstraint(one_of("status", COMMITMENT_STATUSES), name="status"),
        CheckConstraint("valid_from <= valid_to", name="validity"),
        CheckConstraint("status != 'breached' OR (breached_at IS NOT NULL AND breach_reason IS NOT NULL)",
                        name="breach"),
        Index("uq_commitments_active_institution", "institution_id", unique=True,
              sqlite_where=text("status = 'active'"), postgresql_where=text("status = 'active'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id", ondelete="RESTRICT"), index=True)
    version: Mapped[int] = mapped_column()
    text: Mapped[str] = mapped_column(Text)
    text_sha256: Mapped[str] = mapped_column(String(64))
    signer_name: Mapped[str] = mapped_column(String(50))
    signer_title: Mapped[str] = mapped_column(String(50))
    signed_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    signed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="active")
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    breached_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    breach_reason: Mapped[str | None] = mapped_column(Text)
    breached_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))

    institution = relationship("Institution", lazy="joined", viewonly=True)


shown_on_profiles(Commitment)  # the profile shows the commitment in force

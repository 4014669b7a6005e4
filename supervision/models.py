"""Supervision records: violations and points, credit history, lists, inspections, inspectors and draws."""

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
from api.policy import policy_version_now

VIOLATION_STATUSES = ("pending", "objected", "upheld", "cancelled")
SUBJECT_TYPES = ("institution", "staff")
INSPECTION_RESULTS = ("pass", "rectify", "penalty")


class Violation(Model):
    """A violation recorded against an institution or a staff member (不良记分), with the rule's points.

    Stored status is what people did (pending, objected, upheld, cancelled); whether a pending one is
    final is derived from its objection window, so no job has to run for the points to count.
    """

    __tablename__ = "violations"
    __table_args__ = (
        CheckConstraint(one_of("status", VIOLATION_STATUSES), name="status"),
        CheckConstraint(one_of("subject_type", SUBJECT_TYPES), name="subject_type"),
        CheckConstraint("points IN (1, 2, 4, 6, 10)", name="points"),
        CheckConstraint("subject_type = 'institution' OR staff_id IS NOT NULL", name="staff_subject"),
        CheckConstraint("status != 'objected' OR objection_reason IS NOT NULL", name="objection"),
        Index("ix_violations_institution_cycle", "institution_id", "occurred_on"),
        Index("ix_violations_staff_cycle", "staff_id", "occurred_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_type: Mapped[str] = mapped_column(String(16))
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id", ondelete="RESTRICT"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="RESTRICT"))
    rule_code: Mapped[str] = mapped_column(String(16))
    rule_description: Mapped[str] = mapped_column(String(300))
    points: Mapped[int] = mapped_column()
    occurred_on: Mapped[dt.date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    decision_no: Mapped[str | None] = mapped_column(String(64))
    public: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    objection_due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    objection_reason: Mapped[str | None] = mapped_column(Text)
    objected_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    objected_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    decision_note: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    commitment_id: Mapped[int | None] = mapped_column(ForeignKey("commitments.id", ondelete="SET NULL"))
    policy_version: Mapped[int] = mapped_column(default=policy_version_now)  # the api.policy version it was decided under

    institution = relationship("Institution", lazy="joined", viewonly=True)


class CreditRecord(Model):
    """A credit snapshot, kept whenever an institution's computed credit changes: the history."""

    __tablename__ = "credit_history"
    __table_args__ = (Index("ix_credit_history_institution", "institution_id", "computed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id", ondelete="CASCADE"))
    computed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    cycle: Mapped[int] = mapped_column()
    policy_version: Mapped[int] = mapped_column(default=policy_version_now)  # the api.policy version it was decided under
    points: Mapped[int] = mapped_column()
    grade: Mapped[str] = mapped_column(String(1))
    band: Mapped[str | None] = mapped_column(String(32))
    risk: Mapped[str] = mapped_column(String(8))
    lists: Mapped[list[str]] = mapped_column(JSON, default=list)
    reason: Mapped[str] = mapped_column(String(100))


class ListDecision(Model):
    """A supervisor's decision to put an institution on the black list (with a reason), or to lift it.
    It is in force until lifted or until `ends_at` (its term, policy `credit.black_list_term_days` of the
    version in force on the day it was decided)."""

    __tablename__ = "list_decisions"
    __table_args__ = (Index("ix_list_decisions_institution", "institution_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id", ondelete="CASCADE"))
    list: Mapped[str] = mapped_column(String(8), default="black")
    reason: Mapped[str] = mapped_column(Text)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    decided_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    lifted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    lift_reason: Mapped[str | None] = mapped_column(Text)


class ListEntry(Model):
    """Membership of the red, black or key supervision list, opened and closed by credit recomputation:
    what the public list shows (reason and date of listing). A black listing lasts its term (`ends_at`)
    unless its grounds go first (a decision lifted, points cancelled); red and key entries have no term:
    they last as long as their grounds."""

    __tablename__ = "list_entries"
    __table_args__ = (
        CheckConstraint("list IN ('red', 'black', 'key')", name="list"),
        Index("uq_list_entries_current", "institution_id", "list", unique=True,
              sqlite_where=text("removed_at IS NULL"), postgresql_where=text("removed_at IS NULL")),
        Index("ix_list_entries_list_current", "list", "removed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id", ondelete="CASCADE"))
    list: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(String(300))
    listed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    ends_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # a black listing's term
    removed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    institution = relationship("Institution", lazy="joined", viewonly=True)


class Inspection(Model):
    __tablename__ = "inspections"
    __table_args__ = (
        CheckConstraint(one_of("result", INSPECTION_RESULTS), name="result"),
        Index("ix_inspections_institution_date", "institution_id", "inspected_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id", ondelete="RESTRICT"))
    inspected_on: Mapped[dt.date] = mapped_column(Date)
    result: Mapped[str] = mapped_column(String(16))
    summary: Mapped[str] = mapped_column(Text)
    public: Mapped[bool] = mapped_column(default=True)
    department: Mapped[str] = mapped_column(String(32))
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    draw_id: Mapped[int | None] = mapped_column(ForeignKey("inspection_draws.id", ondelete="SET NULL"))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class InspectorConflict(Model):
    """An inspector declared they may not inspect an institution, or any institution in a street."""

    __tablename__ = "inspector_conflicts"
    __table_args__ = (
        CheckConstraint("(institution_id IS NULL) != (street IS NULL)", name="one_kind"),
        UniqueConstraint("account_id", "institution_id", "street"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id", ondelete="CASCADE"))
    street: Mapped[str | None] = mapped_column(String(64))
    declared_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    declared_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))


class InspectionDraw(Model):
    """A random draw (双随机) with everything needed to re-run it: seed, inputs, and the result."""

    __tablename__ = "inspection_draws"

    id: Mapped[int] = mapped_column(primary_key=True)
    department: Mapped[str] = mapped_column(String(32))
    algorithm: Mapped[str] = mapped_column(String(32))
    seed: Mapped[str] = mapped_column(String(64))
    inputs: Mapped[dict] = mapped_column(JSON)
    targets: Mapped[list[dict]] = mapped_column(JSON)
    drawn_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    drawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    policy_version: Mapped[int] = mapped_column(default=policy_version_now)  # the api.policy version it was decided under

"""Supervision records: violations and points, credit history, lists, inspections, inspectors and draws."""

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
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.changes import track
from api.database import Model, UTCDateTime, one_of, utcnow
from api.models import DEPARTMENTS
from api.policy import policy_version_now
from registry.ready_profiles import shown_on_profiles

VIOLATION_STATUSES = ("pending", "objected", "upheld", "cancelled")
SUBJECT_TYPES = ("institution", "staff")
INSPECTION_RESULTS = ("pass", "rectify", "penalty")  # in rising severity
INSPECTION_STATUSES = ("recorded", "pending_review", "returned")
REVIEW_STATES = ("pending", "approved", "returned")


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
    """One visit, one record (进一次门、查多件事): the departments on it, each one's findings, its
    inspectors, evidence and legal review. `result` is the most severe finding still standing; a penalty
    finding leaves the record `pending_review` until a supervisor who did not inspect approves it (法制
    审核), and only then is the penalty public and counted (`penalty_approved_at`, `settled_result`). `published_at` is when
    the result first became public (双随机一公开); `evidence_head` and `evidence_count` anchor the
    evidence chain, so that removing its last entry is detected too."""

    __tablename__ = "inspections"
    __table_args__ = (
        CheckConstraint(one_of("result", INSPECTION_RESULTS), name="result"),
        CheckConstraint(one_of("status", INSPECTION_STATUSES), name="status"),
        CheckConstraint(one_of("settled_result", INSPECTION_RESULTS), name="settled_result"),
        Index("ix_inspections_institution_date", "institution_id", "inspected_on"),
        Index("ix_inspections_inspected_on", "inspected_on"),
        Index("ix_inspections_published_at", "published_at"),
        Index("ix_inspections_plan", "plan_id", "institution_id"),
        Index("ix_inspections_draw", "draw_id", "institution_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id", ondelete="RESTRICT"))
    inspected_on: Mapped[dt.date] = mapped_column(Date)
    result: Mapped[str | None] = mapped_column(String(16))  # None while no finding stands (all returned)
    summary: Mapped[str] = mapped_column(Text)
    public: Mapped[bool] = mapped_column(default=True)
    department: Mapped[str] = mapped_column(String(32))  # the recording officer's: the lead department
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    draw_id: Mapped[int | None] = mapped_column(ForeignKey("inspection_draws.id", ondelete="SET NULL"))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="recorded")
    # The result as of the last time nothing awaited review or a returned department's answer: what is
    # public and counts toward credit (None until then). An approved penalty stays in it while a later
    # finding waits for review.
    settled_result: Mapped[str | None] = mapped_column(String(16))
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("inspection_plans.id", ondelete="RESTRICT"))
    decision_no: Mapped[str | None] = mapped_column(String(64))  # 行政处罚决定书文号 of an approved penalty
    penalty_approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    evidence_count: Mapped[int] = mapped_column(default=0)
    evidence_head: Mapped[str | None] = mapped_column(String(64))

    institution = relationship("Institution", lazy="joined", viewonly=True)
    department_rows: Mapped[list[InspectionDepartment]] = relationship(
        lazy="selectin", order_by="InspectionDepartment.department", cascade="all, delete-orphan")
    inspector_rows: Mapped[list[InspectionInspector]] = relationship(
        lazy="selectin", order_by="InspectionInspector.account_id", cascade="all, delete-orphan")
    findings: Mapped[list[InspectionFinding]] = relationship(
        lazy="selectin", order_by="InspectionFinding.id", cascade="all, delete-orphan")
    reviews: Mapped[list[LegalReview]] = relationship(
        lazy="selectin", order_by="LegalReview.id", cascade="all, delete-orphan")

    @property
    def departments(self) -> list[str]:
        return [row.department for row in self.department_rows]


class InspectionDepartment(Model):
    """A department on an inspection record (the leaders' counts and the public list filter by it)."""

    __tablename__ = "inspection_departments"
    __table_args__ = (
        CheckConstraint(one_of("department", DEPARTMENTS), name="department"),
        Index("ix_inspection_departments_department", "department", "inspection_id"),
    )

    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id", ondelete="CASCADE"), primary_key=True)
    department: Mapped[str] = mapped_column(String(32), primary_key=True)


class InspectionInspector(Model):
    """An inspector on the record: named when recorded (or the draw's team), or who added findings. Such
    an account may not review the record's penalty."""

    __tablename__ = "inspection_inspectors"

    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id", ondelete="CASCADE"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="RESTRICT"), primary_key=True,
                                            index=True)
    department: Mapped[str] = mapped_column(String(32))


class InspectionFinding(Model):
    """One department's finding on the record, against one of the plan's items or the visit as a whole.
    A penalty finding carries its legal review: pending, approved, or returned (then it no longer stands,
    and the inspectors record what they conclude instead)."""

    __tablename__ = "inspection_findings"
    __table_args__ = (
        CheckConstraint(one_of("result", INSPECTION_RESULTS), name="result"),
        CheckConstraint(one_of("department", DEPARTMENTS), name="department"),
        CheckConstraint(f"review IS NULL OR {one_of('review', REVIEW_STATES)}", name="review"),
        CheckConstraint("(result = 'penalty') = (review IS NOT NULL)", name="penalty_reviewed"),
        Index("ix_inspection_findings_inspection", "inspection_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id", ondelete="CASCADE"))
    department: Mapped[str] = mapped_column(String(32))
    item_code: Mapped[str | None] = mapped_column(String(32))
    result: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text)
    review: Mapped[str | None] = mapped_column(String(16))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class LegalReview(Model):
    """A legal review (重大执法决定法制审核) of a record's pending penalty findings: approved or returned
    to the inspectors with the note."""

    __tablename__ = "inspection_reviews"
    __table_args__ = (CheckConstraint(one_of("decision", ("approved", "returned")), name="decision"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id", ondelete="CASCADE"), index=True)
    decision: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    reviewed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Evidence(Model):
    """An entry of an inspection's evidence (执法全过程记录): a file stored byte for byte by its content
    hash, and the entry's own hash over its fields and the previous entry's hash (the chain)."""

    __tablename__ = "inspection_evidence"
    __table_args__ = (UniqueConstraint("inspection_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id", ondelete="RESTRICT"))
    seq: Mapped[int] = mapped_column()  # 1, 2, … within the inspection
    content_sha256: Mapped[str] = mapped_column(String(64))
    media_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column()
    filename: Mapped[str | None] = mapped_column(String(200))
    prev_sha256: Mapped[str | None] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64))  # the entry's hash, chained
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))


class InspectionPlan(Model):
    """A year's inspection plan with its check-item list (一单): which departments, which institutions
    (categories and streets; none named means all), and by when."""

    __tablename__ = "inspection_plans"
    __table_args__ = (
        CheckConstraint("year BETWEEN 2000 AND 2100", name="year"),
        UniqueConstraint("year", "name"),
        Index("ix_inspection_plans_year", "year"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column()
    name: Mapped[str] = mapped_column(String(200))
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    streets: Mapped[list[str]] = mapped_column(JSON, default=list)
    due_on: Mapped[dt.date] = mapped_column(Date)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class PlanDepartment(Model):
    __tablename__ = "inspection_plan_departments"
    __table_args__ = (
        CheckConstraint(one_of("department", DEPARTMENTS), name="department"),
        Index("ix_inspection_plan_departments_department", "department", "plan_id"),
    )

    plan_id: Mapped[int] = mapped_column(ForeignKey("inspection_plans.id", ondelete="CASCADE"), primary_key=True)
    department: Mapped[str] = mapped_column(String(32), primary_key=True)


class PlanItem(Model):
    """A check item a department brings to the plan (监管事项), with its legal basis."""

    __tablename__ = "inspection_plan_items"
    __table_args__ = (
        CheckConstraint(one_of("department", DEPARTMENTS), name="department"),
        UniqueConstraint("plan_id", "department", "code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("inspection_plans.id", ondelete="CASCADE"))
    department: Mapped[str] = mapped_column(String(32))
    code: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    basis: Mapped[str | None] = mapped_column(Text)


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
    departments: Mapped[list[str] | None] = mapped_column(JSON)  # a joint draw's; None: `department` alone
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("inspection_plans.id", ondelete="RESTRICT"))
    policy_version: Mapped[int] = mapped_column(default=policy_version_now)  # the api.policy version it was decided under


shown_on_profiles(Inspection, Violation)  # the profile shows public inspections and penalties


# The changes feed (api.changes): an inspection record and its parts; its approved penalty; listings
# (the credit recomputation writes them set-based and records them itself, supervision.credit).
track(Inspection, "inspection")
for _part in (InspectionDepartment, InspectionInspector, InspectionFinding, LegalReview, Evidence):
    track(_part, "inspection", key=attrgetter("inspection_id"), part=True)
track(Inspection, "penalty", columns=("penalty_approved_at", "decision_no", "settled_result", "public"),
      when=lambda inspection: inspection.penalty_approved_at is not None)
track(ListEntry, "list", op=lambda entry: "delete" if entry.removed_at is not None else "upsert")

"""The directory (监管对象名录库): institutions and their staff, which everything else points at."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.changes import track
from api.database import Model, UTCDateTime, one_of, utcnow

CATEGORIES = {
    "hospital": "医院",
    "clinic": "诊所",
    "tcm_clinic": "中医诊所",
    "dental": "口腔诊所",
    "cosmetic": "医疗美容机构",
    "village_clinic": "村卫生室",
    "individual_clinic": "个体诊所",
    "other": "其他医疗机构",
}
INSTITUTION_STATUSES = ("active", "suspended", "revoked", "closed")
STAFF_ROLES = {"physician": "医师", "nurse": "护士", "pharmacist": "药师", "technician": "技师", "other": "其他"}
STAFF_STATUSES = ("active", "left")


class Institution(Model):
    __tablename__ = "institutions"
    __table_args__ = (
        CheckConstraint(one_of("category", CATEGORIES), name="category"),
        CheckConstraint(one_of("status", INSTITUTION_STATUSES), name="status"),
        CheckConstraint("licence_valid_from <= licence_valid_to", name="licence_dates"),
        CheckConstraint("credit_grade IN ('A', 'B', 'C', 'D')", name="credit_grade"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    uscc: Mapped[str] = mapped_column(String(18), unique=True)
    licence_no: Mapped[str] = mapped_column(String(64), unique=True)
    category: Mapped[str] = mapped_column(String(32), index=True)
    scope: Mapped[list[str]] = mapped_column(JSON, default=list)
    address: Mapped[str] = mapped_column(String(200))
    street: Mapped[str] = mapped_column(String(64), index=True)
    legal_representative: Mapped[str] = mapped_column(String(50))
    principal: Mapped[str] = mapped_column(String(50))
    licence_valid_from: Mapped[dt.date] = mapped_column(Date)
    licence_valid_to: Mapped[dt.date] = mapped_column(Date)
    phone: Mapped[str | None] = mapped_column(String(32))
    remote_monitoring: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(16), default="active")
    # Current credit, kept here so lists filter by grade and the scan reads it without recomputing;
    # supervision.service decides the values.
    credit_grade: Mapped[str] = mapped_column(String(1), default="B", index=True)
    credit_points: Mapped[int] = mapped_column(default=0)
    commitment_valid_to: Mapped[dt.date | None] = mapped_column(Date)  # the credit commitment in force, if any
    credit_lists: Mapped[list[str]] = mapped_column(JSON, default=list)  # "red", "black"
    credit_risk: Mapped[str] = mapped_column(String(8), default="low")
    credit_band: Mapped[str | None] = mapped_column(String(32))  # consequence of 12+ points
    # The record over the policy's look-back window ("serious", "minor", None: clean), which the
    # supervision mode follows; and the quantified risk level of a cosmetic or dental institution.
    credit_record: Mapped[str | None] = mapped_column(String(8))
    credit_graded_risk: Mapped[str | None] = mapped_column(String(8))
    # When a stored input changes by itself (a pending violation's objection window ends, the commitment
    # lapses, a violation leaves the look-back window) or below supervision (registry.credit_snapshot):
    # the credit is recomputed on the next read after this moment.
    credit_stale_after: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    code = relationship(
        "Code",
        primaryjoin="and_(Code.institution_id == Institution.id, Code.status == 'active')",
        uselist=False,
        viewonly=True,
        lazy="selectin",
    )


class Staff(Model):
    __tablename__ = "staff"
    __table_args__ = (
        CheckConstraint(one_of("role", STAFF_ROLES), name="role"),
        CheckConstraint(one_of("status", STAFF_STATUSES), name="status"),
        # One person may practise at several institutions (多点执业), but once at each.
        UniqueConstraint("institution_id", "id_number", name="uq_staff_institution_person"),
        CheckConstraint("credit_grade IN ('A', 'B', 'C', 'D')", name="credit_grade"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(50))
    role: Mapped[str] = mapped_column(String(16))
    id_number: Mapped[str] = mapped_column(String(18))
    title: Mapped[str | None] = mapped_column(String(50))
    qualification_no: Mapped[str | None] = mapped_column(String(64))
    practice_cert_no: Mapped[str | None] = mapped_column(String(64))
    practice_category: Mapped[str | None] = mapped_column(String(50))
    practice_scope: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="active")
    credit_grade: Mapped[str] = mapped_column(String(1), default="B")
    credit_points: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    institution: Mapped[Institution] = relationship(lazy="joined", innerjoin=True)
    code = relationship(
        "Code",
        primaryjoin="and_(Code.staff_id == Staff.id, Code.status == 'active')",
        uselist=False,
        viewonly=True,
        lazy="selectin",
    )


# The changes feed (api.changes): an institution's record and its credit are two kinds of change (a
# mirror of credit follows `credit`); the moment its credit goes stale is bookkeeping, not a change.
CREDIT_COLUMNS = ("credit_grade", "credit_points", "commitment_valid_to", "credit_lists", "credit_risk", "credit_band",
                  "credit_record", "credit_graded_risk")
track(Institution, "institution", ignore=(*CREDIT_COLUMNS, "credit_stale_after", "updated_at"))
track(Institution, "credit", columns=CREDIT_COLUMNS)
track(Staff, "staff")  # its credit too: the staff view shows it

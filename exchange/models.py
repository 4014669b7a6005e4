"""What the 双公示 feed needs of a penalty decision that the inspection record does not hold."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from operator import attrgetter

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from api.changes import track
from api.database import Model, UTCDateTime, utcnow


class PenaltyDetails(Model):
    """The decision's 违法行为类型, 违法事实, 处罚依据, 处罚类别, 处罚内容, 罚款金额 and 处罚有效期, as the
    deciding department filled them in for the credit platform; one row per penalised inspection.
    `updated_at` moves the row into the next increment of the feed (`since`)."""

    __tablename__ = "penalty_details"
    __table_args__ = (CheckConstraint("fine_yuan IS NULL OR fine_yuan >= 0", name="fine_not_negative"),)

    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id", ondelete="CASCADE"), primary_key=True)
    violation_type: Mapped[str] = mapped_column(String(200))
    facts: Mapped[str] = mapped_column(Text)
    basis: Mapped[str] = mapped_column(Text)
    kinds: Mapped[list[str]] = mapped_column(JSON)
    content: Mapped[str] = mapped_column(Text)
    fine_yuan: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    valid_until: Mapped[dt.date | None] = mapped_column(Date)
    department: Mapped[str] = mapped_column(String(32))  # the 处罚机关: one of the record's departments
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))


# The changes feed (api.changes): the details are part of the approved penalty (supervision.models tracks
# the inspection's own penalty columns), so writing them is an upsert of that penalty.
track(PenaltyDetails, "penalty", key=attrgetter("inspection_id"), part=True)

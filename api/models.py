"""Accounts and the token records that make refresh rotation and logout work."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from api.database import Model, UTCDateTime, one_of, utcnow

ROLES = ("citizen", "institution", "officer", "supervisor", "admin")
DEPARTMENTS = {
    "health": "卫生健康委",
    "market": "市场监管局",
    "medical_insurance": "医疗保障局",
    "ecology": "生态环境局",
    "public_security": "公安局",
    "approval": "行政审批服务局",
}


class Account(Model):
    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint(one_of("role", ROLES), name="role"),
        CheckConstraint(f"department IS NULL OR {one_of('department', DEPARTMENTS)}", name="department"),
        CheckConstraint(
            "role NOT IN ('officer', 'supervisor') OR department IS NOT NULL", name="regulator_department"
        ),
        CheckConstraint("role != 'institution' OR institution_id IS NOT NULL", name="institution_binding"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(256))  # None for WeChat-only citizens
    role: Mapped[str] = mapped_column(String(16))
    department: Mapped[str | None] = mapped_column(String(32))
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id", ondelete="RESTRICT"))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    wechat_openid: Mapped[str | None] = mapped_column(String(64), unique=True)  # citizens from the mini-program
    wechat_unionid: Mapped[str | None] = mapped_column(String(64), unique=True)


class RefreshToken(Model):
    """One row per refresh token (stored hashed). A token works once; its `session_id` groups the chain
    of rotations of one login so that reuse of a spent token or a logout ends the whole session."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (Index("ix_refresh_tokens_session", "session_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    session_id: Mapped[str] = mapped_column(String(32))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class RevokedSession(Model):
    """A login session ended by logout or by refresh-token reuse: its access tokens are refused.

    Keyed by session rather than by each access token's jti, so one row ends every access token the
    session has handed out, including ones refreshed earlier and still unexpired.
    """

    __tablename__ = "revoked_sessions"

    session_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    revoked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

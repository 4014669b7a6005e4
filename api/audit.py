"""The audit log: who read personal data (a complainant's contact, an attachment), and when; and the
machine credentials: who created or revoked an API client, and when a client was given a token.

Rows are only ever added; admins list them (GET /api/v1/audit-log). The actions are declared once,
here: the callers of record() name them by these constants, the list's filter accepts exactly these,
and record() refuses any other, so what is written can always be filtered on.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, select
from sqlalchemy.orm import Mapped, mapped_column

from api.database import Model, SessionLike, UTCDateTime, utcnow

READ_CONTACT = "read_contact"
DOWNLOAD_ATTACHMENT = "download_attachment"
EXPORT_CONTACTS = "export_contacts"
DOWNLOAD_EVIDENCE = "download_evidence"
CREATE_API_CLIENT = "create_api_client"
REVOKE_API_CLIENT = "revoke_api_client"
ISSUE_CLIENT_TOKEN = "issue_client_token"
ACTIONS = {
    READ_CONTACT: "查看投诉人身份和联系方式",
    DOWNLOAD_ATTACHMENT: "下载投诉附件",
    EXPORT_CONTACTS: "导出含投诉人联系方式的投诉清单",
    DOWNLOAD_EVIDENCE: "下载执法全过程记录文件",
    CREATE_API_CLIENT: "创建 API 客户端",
    REVOKE_API_CLIENT: "停用 API 客户端",
    ISSUE_CLIENT_TOKEN: "API 客户端获取访问令牌",
}


class AuditEntry(Model):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(String(200))


def record(*, session: SessionLike, account_id: int | None, action: str, object_type: str, object_id: str,
           detail: str | None = None) -> AuditEntry:
    if action not in ACTIONS:
        raise ValueError(f"undeclared audit action {action!r}: add it to api.audit.ACTIONS")
    entry = AuditEntry(account_id=account_id, action=action, object_type=object_type, object_id=object_id,
                       detail=detail)
    session.add(entry)
    return entry


def query(*, action: str | None = None, object_type: str | None = None, object_id: str | None = None,
          account_id: int | None = None):
    statement = select(AuditEntry).order_by(AuditEntry.id.desc())
    if action:
        statement = statement.where(AuditEntry.action == action)
    if object_type:
        statement = statement.where(AuditEntry.object_type == object_type)
    if object_id:
        statement = statement.where(AuditEntry.object_id == object_id)
    if account_id:
        statement = statement.where(AuditEntry.account_id == account_id)
    return statement

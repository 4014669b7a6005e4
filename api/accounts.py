"""Accounts: who can log in, with which role, bound to which department or institution."""

from __future__ import annotations

from sqlalchemy import column, select, table

from api.access import INSTITUTION, REGULATORS, STAFF
from api.auth import hash_password
from api.errors import Conflict, ValidationFailed
from api.models import DEPARTMENTS, ROLES, Account

# The table an institution account points at (its foreign key), named rather than imported: the
# directory (registry) sits above the core.
_INSTITUTIONS = table("institutions", column("id"))


def create_account(*, session, username: str, password: str | None, role: str,
                   department: str | None = None, institution_id: int | None = None) -> Account:
    """Check the binding each role needs, then store the account with a hashed password."""
    problems: dict[str, list[str]] = {}
    if role not in ROLES:
        problems["role"] = [f"角色应为 {', '.join(ROLES)} 之一"]
    if role in STAFF and department is None:
        problems["department"] = ["监管人员必须归属一个部门"]
    if department is not None and department not in DEPARTMENTS:
        problems["department"] = [f"部门应为 {', '.join(DEPARTMENTS)} 之一"]
    if department is not None and role not in REGULATORS:
        problems["department"] = ["只有监管人员归属部门"]
    if role == INSTITUTION and institution_id is None:
        problems["institution_id"] = ["机构账号必须绑定一个机构"]
    if institution_id is not None and role != INSTITUTION:
        problems["institution_id"] = ["只有机构账号绑定机构"]
    elif institution_id is not None and session.scalar(select(_INSTITUTIONS.c.id).where(
            _INSTITUTIONS.c.id == institution_id)) is None:
        problems["institution_id"] = ["机构不存在"]
    if password is not None and not 10 <= len(password) <= 128:
        problems["password"] = ["密码长度应为 10 到 128 个字符"]
    if problems:
        raise ValidationFailed(fields=problems)
    if session.scalar(select(Account.id).where(Account.username == username)) is not None:
        raise Conflict("用户名已被使用", fields={"username": ["用户名已被使用"]})
    account = Account(username=username, password_hash=hash_password(password) if password else None,
                      role=role, department=department, institution_id=institution_id, active=True)
    session.add(account)
    session.flush()
    return account

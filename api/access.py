"""Who is who and who sees what: the role sets and the institution scope, in one place.

Every package asks here rather than spelling roles out: `login_required(*REGULATORS)`,
`scope_to_account(statement, account, Violation.institution_id)`. It sits in the core, below every
feature package, and knows nothing of them: callers pass their own columns.
"""

from __future__ import annotations

from api.errors import NotVisible
from api.models import ROLES, Account

CITIZEN, INSTITUTION, OFFICER, SUPERVISOR, ADMIN = ROLES
# Department staff: officers and their supervisors, each bound to a department (health, market...).
STAFF = (OFFICER, SUPERVISOR)
# Everyone on the regulators' side: department staff and the admins above them.
REGULATORS = (OFFICER, SUPERVISOR, ADMIN)
# Who decides (assign, uphold or cancel an objection, black-list, draw, dismiss a lead).
DECIDERS = (SUPERVISOR, ADMIN)
# An institution's own records, or any for a regulator.
INSTITUTION_OR_REGULATORS = (INSTITUTION, *REGULATORS)


def is_regulator(account: Account) -> bool:
    return account.role in REGULATORS


def is_staff(account: Account) -> bool:
    """An officer or a supervisor: someone working for one department."""
    return account.role in STAFF


def sees_institution(account: Account, institution_id: int) -> bool:
    """A regulator sees every institution; an institution account only its own."""
    return is_regulator(account) or (account.role == INSTITUTION and account.institution_id == institution_id)


def check_own_institution(account: Account, institution_id: int, message: str = "未找到该机构") -> None:
    """Refuse, as if it did not exist (404), what belongs to an institution this account may not see."""
    if not sees_institution(account, institution_id):
        raise NotVisible(message)


def institution_scope(account: Account, column):
    """The WHERE clause that keeps an institution account to its own rows (`column` holds the
    institution id); None for everyone else, who is not limited here."""
    if account.role == INSTITUTION:
        return column == account.institution_id
    return None


def scope_to_account(statement, account: Account, column, *, institution_id: int | None = None):
    """`statement` limited to what `account` may see by institution: an institution's own rows (whatever
    `institution_id` asks), else the rows of `institution_id` if given."""
    scope = institution_scope(account, column)
    if scope is not None:
        return statement.where(scope)
    if institution_id:
        statement = statement.where(column == institution_id)
    return statement

"""The directory's rules: who may see and change which institution or staff member, and what is valid.

Creating here writes the record only, with the initial grade its caller passes (credit rules are
supervision's); directory.service creates with the code and shows credit and the code."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError as StdnumError

from api.access import check_own_institution, is_regulator
from api.database import SessionLike
from api.errors import Conflict, Forbidden, NotVisible, ValidationFailed
from api.models import Account
from registry.credit_snapshot import mark_credit_stale
from registry.models import Institution, Staff

# What an institution account may change about itself; licence facts belong to the regulator.
INSTITUTION_SELF_EDITABLE = frozenset({"phone"})
# Directory facts the credit snapshot is computed from (the mode, the quantified risk level).
CREDIT_INPUTS = frozenset({"category", "remote_monitoring"})


def normalise_uscc(value: str) -> str:
    try:
        return uscc.validate(value)
    except StdnumError:
        raise ValidationFailed(fields={"uscc": ["统一社会信用代码无效（长度、字符或校验位错误）"]}) from None


def normalise_id_number(value: str) -> str:
    try:
        return ric.validate(value)
    except StdnumError:
        raise ValidationFailed(fields={"id_number": ["身份证号码无效（长度、出生日期或校验位错误）"]}) from None


def _check_dates(valid_from, valid_to) -> None:
    if valid_from > valid_to:
        raise ValidationFailed(fields={"licence_valid_to": ["有效期截止日期不能早于起始日期"]})


def get_institution(*, session: SessionLike, institution_id: int, account: Account) -> Institution:
    check_own_institution(account, institution_id)
    institution = session.get(Institution, institution_id)
    if institution is None:
        raise NotVisible("未找到该机构")
    return institution


def _check_unique(session: SessionLike, values: dict, *, exclude_id: int | None = None) -> None:
    """Name the clashing field for a friendly 409; the unique constraints still decide races."""
    clashes = {}
    for name in ("uscc", "licence_no"):
        if name in values:
            column = getattr(Institution, name)
            statement = select(Institution.id).where(column == values[name])
            if exclude_id is not None:
                statement = statement.where(Institution.id != exclude_id)
            if session.scalar(statement) is not None:
                clashes[name] = ["已有机构使用此号码"]
    if clashes:
        raise Conflict("统一社会信用代码或执业许可证号已存在", fields=clashes)


def create_institution(*, session: SessionLike, data: dict, credit: Mapping[str, object],
                       taken: UniqueNumbers | None = None) -> Institution:
    """A new active institution with no points and no record, and the credit snapshot its caller computed
    for that (supervision's rules): `credit` holds the `credit_*` columns (grade, quantified risk, when it
    goes stale).

    An import of many passes `taken` (every stored 统一社会信用代码 and licence number, read once): the
    check is then made against it, and the row is only added to the session, to be inserted with its
    batch at the next flush (its id comes then). The unique constraints still decide races."""
    data = dict(data)
    data["uscc"] = normalise_uscc(data["uscc"])
    _check_dates(data["licence_valid_from"], data["licence_valid_to"])
    if taken is None:
        _check_unique(session, data)
    else:
        taken.check_and_take(data)
    institution = Institution(**data, **credit, status="active", credit_points=0)
    session.add(institution)
    if taken is None:
        session.flush()
    return institution


class UniqueNumbers:
    """The 统一社会信用代码 and licence numbers in use, read once, kept up to date by an import: what
    _check_unique asks the database row by row, answered from memory (same message, same fields)."""

    def __init__(self, session: SessionLike):
        self.values = {name: set(session.scalars(select(getattr(Institution, name)))) for name in ("uscc", "licence_no")}

    def check_and_take(self, values: dict) -> None:
        clashes = {name: ["已有机构使用此号码"] for name, taken in self.values.items() if values.get(name) in taken}
        if clashes:
            raise Conflict("统一社会信用代码或执业许可证号已存在", fields=clashes)
        for name, taken in self.values.items():
            if values.get(name) is not None:
                taken.add(values[name])

    def renumbered(self, before: dict, after: dict) -> None:
        """An existing institution's numbers changed (an import's update row)."""
        for name, taken in self.values.items():
            if before.get(name) != after.get(name):
                taken.discard(before.get(name))
                taken.add(after.get(name))


def update_institution(*, session: SessionLike, institution: Institution, changes: dict, account: Account) -> Institution:
    if not is_regulator(account):
        refused = sorted(set(changes) - INSTITUTION_SELF_EDITABLE)
        if refused:
            raise Forbidden("机构账号只能修改联系电话；执业登记信息由监管部门维护",
                            fields={name: ["机构账号不可修改此项"] for name in refused})
    if "uscc" in changes:
        changes["uscc"] = normalise_uscc(changes["uscc"])
    _check_unique(session, changes, exclude_id=institution.id)
    _check_dates(changes.get("licence_valid_from", institution.licence_valid_from),
                 changes.get("licence_valid_to", institution.licence_valid_to))
    for name, value in changes.items():
        setattr(institution, name, value)
    session.flush()
    if CREDIT_INPUTS & set(changes):
        mark_credit_stale(session=session, institution_id=institution.id)
    return institution


# --- staff -------------------------------------------------------------------------------------

def create_staff(*, session: SessionLike, institution: Institution, data: dict, credit_grade: str) -> Staff:
    """A new active staff member with no points and `credit_grade` (the grade of zero points)."""
    data = dict(data)
    data["id_number"] = normalise_id_number(data["id_number"])
    staff = Staff(**data, institution_id=institution.id, status="active", credit_grade=credit_grade,
                  credit_points=0)
    session.add(staff)
    session.flush()
    return staff


def get_staff(*, session: SessionLike, staff_id: int, account: Account) -> Staff:
    staff = session.get(Staff, staff_id)
    if staff is None:
        raise NotVisible("未找到该人员")
    check_own_institution(account, staff.institution_id)
    return staff


def update_staff(*, session: SessionLike, staff: Staff, changes: dict) -> Staff:
    if "id_number" in changes:
        changes["id_number"] = normalise_id_number(changes["id_number"])
    for name, value in changes.items():
        setattr(staff, name, value)
    session.flush()
    return staff


def staff_query(*, institution_id: int, status: str | None = None):
    statement = select(Staff).where(Staff.institution_id == institution_id).order_by(Staff.id)
    if status:
        statement = statement.where(Staff.status == status)
    return statement


def mask_id_number(value: str) -> str:
    """Regulator screens show enough to tell people apart, never the whole number."""
    return value[:6] + "*" * (len(value) - 10) + value[-4:]

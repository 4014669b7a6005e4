"""The directory as its endpoints show it: institutions and staff with their credit and their code,
created with their code. The records' rules (validation, uniqueness, visibility) are registry.service's."""

from __future__ import annotations

from sqlalchemy import or_, select

from api.database import SessionLike
from codes import service as codes
from registry import licence
from registry import service as registry
from registry.models import Institution, Staff
from supervision import credit, grades
from supervision import service as supervision
from supervision.credit import clean_snapshot


def create_institution(*, session: SessionLike, data: dict) -> Institution:
    """Register an institution (registry's checks) with the credit of a clean record, and issue its code."""
    institution = registry.create_institution(session=session, data=data,
                                              credit=clean_snapshot(category=data["category"]))
    codes.issue(session=session, institution=institution)
    return institution


class Batch:
    """Institutions registered as create_institution() registers them, a batch at a time (an import):
    each row checked at once (registry's checks, uniqueness against `taken`), the rows inserted
    together at flush(), then their codes together, then the codes' ready profiles. Three INSERT
    statements per batch instead of round trips per row."""

    def __init__(self, session: SessionLike):
        self.session = session
        self.taken = registry.UniqueNumbers(session)
        self.pending: list[Institution] = []

    def create(self, data: dict) -> Institution:
        institution = registry.create_institution(session=self.session, data=data, taken=self.taken,
                                                  credit=clean_snapshot(category=data["category"]))
        self.pending.append(institution)
        return institution

    def flush(self) -> None:
        self.session.flush()  # the institutions, and their ids
        issued = [(codes.issue(session=self.session, institution=institution, flush=False), institution.id)
                  for institution in self.pending]
        self.session.flush()  # their codes
        codes.add_ready_profiles(self.session, issued)  # and the codes' ready profiles, in one INSERT
        self.pending.clear()


def institution_query(*, session: SessionLike, q=None, category=None, street=None, grade=None):
    """Institutions as the list filters them, after recomputing the credit that went stale (the grade
    filter reads the stored grade)."""
    credit.refresh_stale(session=session)
    statement = select(Institution).order_by(Institution.id)
    if q:
        columns = (Institution.name, Institution.licence_no, Institution.uscc, Institution.address)
        statement = statement.where(or_(*(column.icontains(q, autoescape=True) for column in columns)))
    if category:
        statement = statement.where(Institution.category == category)
    if street:
        statement = statement.where(Institution.street == street)
    if grade:
        statement = statement.where(Institution.credit_grade == grade)
    return statement


def institution_view(institution: Institution, *, today, base_url: str) -> dict:
    """The API representation: stored fields plus licence status, credit and the active code."""
    status = licence.of(institution, today)
    credit = supervision.institution_credit(institution, status, today)
    return {
        **{column.key: getattr(institution, column.key) for column in Institution.__table__.columns},
        "licence_status": status,
        "credit": {**credit.public_of_institution(), "points": credit.points},
        "code": codes.code_view(institution.code, colour=credit.colour, base_url=base_url),
    }


# --- staff -------------------------------------------------------------------------------------

def create_staff(*, session: SessionLike, institution: Institution, data: dict) -> Staff:
    """Register a staff member (registry's checks), at the grade of zero points, and issue their code."""
    staff = registry.create_staff(session=session, institution=institution, data=data,
                                  credit_grade=grades.grade_for(points=0))
    codes.issue(session=session, staff=staff)
    return staff


def staff_view(staff: Staff, *, today, base_url: str) -> dict:
    credit = supervision.staff_credit(staff, licence.of(staff.institution, today))
    view = {column.key: getattr(staff, column.key) for column in Staff.__table__.columns}
    view["id_number"] = registry.mask_id_number(staff.id_number)
    view["credit"] = {**credit.public(), "points": credit.points}
    view["code"] = codes.code_view(staff.code, colour=credit.colour, base_url=base_url)
    return view

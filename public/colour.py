"""The colour a code shows: its subject's credit (supervision) with today's licence status (registry).
Above both, so it is here with what shows it: the image endpoint, posters, the commitment document."""

from __future__ import annotations

from api.errors import CodeRevoked
from codes.models import Code
from codes.service import find
from registry import licence
from registry.models import Institution, Staff
from supervision import service as supervision


def colour_of(*, institution: Institution | None = None, staff: Staff | None = None, today) -> str:
    if staff is not None:
        return supervision.staff_credit(staff, licence.of(staff.institution, today)).colour
    return supervision.institution_credit(institution, licence.of(institution, today), today).colour


def subject_colour(*, session, code: Code, today) -> str:
    if code.staff_id is not None:
        return colour_of(staff=session.get(Staff, code.staff_id), today=today)
    return colour_of(institution=session.get(Institution, code.institution_id), today=today)


def active_for_image(*, session, token: str, today) -> tuple[Code, str]:
    """The code behind an image request and its colour; revoked codes have no image."""
    code = find(session=session, token=token)
    if code.status != "active":
        raise CodeRevoked()
    return code, subject_colour(session=session, code=code, today=today)

"""Hostile text posted through the H5 complaint form (issue 15, defects 3 and 5): the form comes back
with the field named, and nothing is filed."""

from __future__ import annotations

import pytest

from registry.models import Staff
from tests.complaints.helpers import stored_counts
from tests.conftest import staff_payload
from tests.public.h5_helpers import CONTENT, Page, complain


@pytest.mark.parametrize("character", ["\uffff", "\ufffe"])
def test_content_no_spreadsheet_can_hold_brings_the_form_back_naming_content(client, session, token, character):
    before = stored_counts()

    response = complain(client, token, content=CONTENT + character)

    assert response.status_code == 422
    assert f"U+{ord(character):04X}" in Page(response.get_data(as_text=True)).error_for("content")
    assert stored_counts() == before


def test_a_contact_name_with_a_bidi_override_brings_the_form_back_naming_it(client, session, token):
    before = stored_counts()

    response = complain(client, token, anonymous=None, contact_name="张\u202e三", contact_phone="13912345678")

    assert response.status_code == 422
    assert "U+202E" in Page(response.get_data(as_text=True)).error_for("contact_name")
    assert stored_counts() == before


def test_a_categorys_answer_no_spreadsheet_can_hold_is_refused(client, session, token):
    before = stored_counts()

    response = complain(client, token, **{"details.clinic_department": "内科\uffff"})

    assert response.status_code == 422
    assert "U+FFFF" in Page(response.get_data(as_text=True)).error_for("details.clinic_department")
    assert stored_counts() == before


def test_a_name_stored_with_a_bidi_override_is_shown_without_it(client, session, admin, clinic, token):
    """Names stored before bidi controls were refused: the scan shows them without the control, so
    `正规诊所\\u202e所诊黑` cannot read as something else on the profile or the H5 page."""
    import sqlalchemy as sa

    from api.database import db
    from registry.models import Institution

    staff = admin.post(f"/api/v1/institutions/{clinic['id']}/staff", json=staff_payload(1)).json
    with db.engine.begin() as connection:
        connection.execute(sa.update(Institution).where(Institution.id == clinic["id"])
                           .values(name="正规诊所\u202e所诊黑", address="测试路\u200b1 号"))
        connection.execute(sa.update(Staff).where(Staff.id == staff["id"]).values(name="张\u2066三"))

    profile = client.get(f"/api/v1/scan/{token}").json["institution"]
    staff_profile = client.get(f"/api/v1/scan/{staff['code']['token']}").json["staff"]
    page = client.get(f"/c/{token}").get_data(as_text=True)

    assert (profile["name"], profile["address"], profile["staff"][0]["name"]) == ("正规诊所所诊黑", "测试路1 号", "张三")
    assert (staff_profile["name"], staff_profile["institution"]["name"]) == ("张三", "正规诊所所诊黑")
    assert "正规诊所所诊黑" in page and "\u202e" not in page

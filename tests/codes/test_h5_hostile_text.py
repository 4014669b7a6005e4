"""Hostile text posted through the H5 complaint form (issue 15, defects 3 and 5): the form comes back
with the field named, and nothing is filed."""

from __future__ import annotations

import pytest

from tests.codes.h5_helpers import CONTENT, Page, complain
from tests.complaints.helpers import stored_counts


@pytest.fixture
def token(clinic):
    return clinic["code"]["token"]


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

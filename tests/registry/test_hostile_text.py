"""Hostile text in the directory (issue 15, defects 3-5): characters a spreadsheet or a database cannot
hold, lone surrogates, and names that lie (bidi overrides, invisible characters) are refused at the
edge with 422 naming the field; names are stored NFC-normalised and trimmed."""

from __future__ import annotations

import json
import unicodedata

import pytest

from tests.complaints.helpers import assert_validation_error, rows
from tests.conftest import institution_payload, staff_payload

INSTITUTIONS = "/api/v1/institutions"


def send(persona, method: str, path: str, body: dict):
    """JSON as a client would send it: json.dumps escapes a lone surrogate as \\ud800, which is valid JSON."""
    return getattr(persona, method)(path, data=json.dumps(body), content_type="application/json")


@pytest.mark.parametrize("character", ["\ud800", "\udfff", "\uffff", "\ufffe", "\x00", "\x01"])
def test_a_character_no_spreadsheet_or_database_can_hold_is_refused_on_create(admin, character):
    response = send(admin, "post", INSTITUTIONS, institution_payload(5, name=f"诊所{character}名"))

    body = assert_validation_error(response, "name")
    assert list(body["fields"]) == ["name"]
    assert rows("institutions") == 0


def test_a_lone_surrogate_in_a_list_item_names_its_position(admin):
    response = send(admin, "post", INSTITUTIONS, institution_payload(5, scope=["内科", "外\ud800科"]))

    body = assert_validation_error(response, "scope.1")
    assert list(body["fields"]) == ["scope.1"]


def test_a_lone_surrogate_in_an_unknown_field_is_still_a_422(admin):
    response = send(admin, "post", INSTITUTIONS, {**institution_payload(5), "x\ud800": "y\ud800"})

    assert response.status_code == 422


def test_a_character_xml_forbids_in_the_query_string_is_refused(admin, clinic):
    response = admin.get(INSTITUTIONS, query_string={"q": "诊所\uffff"})

    assert_validation_error(response, "q")


NAME_FIELDS = ("name", "address", "street", "legal_representative", "principal")
INVISIBLE = ("\u202e", "\u202a", "\u2066", "\u2069", "\u200e", "\u200f", "\u061c",  # bidi controls
             "\u200b", "\u200d", "\u2060", "\ufeff", "\u2028", "\u2029", "\u00ad")  # invisible, separators


@pytest.mark.parametrize(("field", "character"),
                         [(NAME_FIELDS[i % len(NAME_FIELDS)], c) for i, c in enumerate(INVISIBLE)])
def test_a_name_with_a_bidi_control_or_an_invisible_character_is_refused(admin, field, character):
    response = send(admin, "post", INSTITUTIONS, institution_payload(5, **{field: f"正规诊所{character}所诊黑"}))

    body = assert_validation_error(response, field)
    assert list(body["fields"]) == [field]
    assert any(f"U+{ord(character):04X}" in message for message in body["fields"][field])
    assert rows("institutions") == 0


@pytest.mark.parametrize("name", ["新名\udc00", "正规诊所\u202e所诊黑"], ids=["lone surrogate", "bidi override"])
def test_a_rename_with_hostile_text_is_refused_and_the_name_kept(admin, clinic, name):
    response = send(admin, "patch", f"{INSTITUTIONS}/{clinic['id']}", {"name": name})

    assert_validation_error(response, "name")
    assert admin.get(f"{INSTITUTIONS}/{clinic['id']}").get_json()["name"] == clinic["name"]


@pytest.mark.parametrize(("field", "value"), [("title", "主治\ud83d"), ("name", "张\u200b三")],
                         ids=["lone surrogate in the title", "zero-width space in the name"])
def test_a_staff_member_with_hostile_text_is_refused(admin, clinic, field, value):
    response = send(admin, "post", f"{INSTITUTIONS}/{clinic['id']}/staff", staff_payload(2, **{field: value}))

    assert_validation_error(response, field)
    assert rows("staff") == 0


def test_names_are_stored_nfc_normalised_and_trimmed(admin, clinic):
    decomposed = "Cafe\u0301 诊所"  # e + combining acute: NFC makes it one character
    created = send(admin, "post", INSTITUTIONS,
                   institution_payload(5, name=f"  {decomposed}\u3000", address=" 测试路\u00a01 号 ")).get_json()

    assert created["name"] == unicodedata.normalize("NFC", decomposed) == "Café 诊所"
    assert created["address"] == "测试路\u00a01 号"
    staff = send(admin, "post", f"{INSTITUTIONS}/{clinic['id']}/staff", staff_payload(2, name=" Jose\u0301 ")).get_json()
    assert staff["name"] == "José"


def test_a_street_filter_is_normalised_like_the_stored_street(admin):
    send(admin, "post", INSTITUTIONS, institution_payload(5, street="Rue\u0301 街道"))

    listed = admin.get(INSTITUTIONS, query_string={"street": "Rue\u0301 街道"}).get_json()

    assert [item["street"] for item in listed["items"]] == ["Rué 街道"]

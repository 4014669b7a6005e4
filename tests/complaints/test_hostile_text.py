"""Hostile text in complaints (issue 15, defects 3-5): a lone surrogate, a character no spreadsheet can
hold, or a bidi control in a name is a 422 naming the field, and nothing is filed."""

from __future__ import annotations

import json

import pytest

from tests.complaints.helpers import SUBMIT, assert_validation_error, complaint_body, named, stored_counts


def post_raw(client, body: dict, **kwargs):
    """json.dumps escapes a lone surrogate as \\ud800: valid JSON that no database can store."""
    return client.post(SUBMIT, data=json.dumps(body), content_type="application/json", **kwargs)


@pytest.mark.parametrize("character", ["\ud800", "\udbff\u4e00", "\uffff", "\ufffe", "\x00", "\x0b"])
def test_content_a_database_or_spreadsheet_cannot_hold_is_refused_naming_content(client, character):
    before = stored_counts()

    response = post_raw(client, complaint_body(content=f"输液后出现过敏反应{character}医生未做皮试。"))

    body = assert_validation_error(response, "content")
    assert list(body["fields"]) == ["content"]
    assert stored_counts() == before


def test_a_lone_surrogate_in_the_target_names_the_nested_field(client):
    response = post_raw(client, complaint_body(target={"name": "无名\ud800诊所", "address": "测试路 99 号"}))

    body = assert_validation_error(response, "target.name")
    assert list(body["fields"]) == ["target.name"]


@pytest.mark.parametrize("character", ["\udc00", "\uffff"])
def test_a_categorys_answer_a_spreadsheet_cannot_hold_is_refused(client, character):
    before = stored_counts()

    response = post_raw(client, complaint_body(details={"clinic_department": f"内{character}科"}))

    body = assert_validation_error(response, "details.clinic_department")
    assert list(body["fields"]) == ["details.clinic_department"]
    assert stored_counts() == before


def test_a_character_xml_forbids_in_a_query_string_is_refused(client):
    response = client.get("/api/v1/complaints/track", query_string={"tracking_no": "TS20260101000001",
                                                                   "query_code": "ABCD\uffff"})

    assert_validation_error(response, "query_code")


@pytest.mark.parametrize(("field", "value"), [
    ("target.name", "正规诊所\u202e所诊黑"), ("target.address", "测试路\u200b99 号"),
])
def test_an_unlicensed_places_name_or_address_may_not_lie(client, field, value):
    target = {"name": "无名诊所", "address": "测试路 99 号", field.split(".")[1]: value}
    before = stored_counts()

    response = client.post(SUBMIT, json=complaint_body(target=target))

    body = assert_validation_error(response, field)
    assert list(body["fields"]) == [field]
    assert stored_counts() == before


def test_a_contact_name_with_a_bom_is_refused(client):
    response = client.post(SUBMIT, json=named(contact_name="\ufeff张三丰"))

    assert_validation_error(response, "contact_name")


def test_an_unlicensed_places_name_is_filed_normalised(client, health_officer):
    receipt = client.post(SUBMIT, json=complaint_body(target={"name": " Cafe\u0301 诊所 ", "address": "测试路 99 号"}))
    assert receipt.status_code == 201, receipt.get_json()

    case = health_officer.get(f"{SUBMIT}/{receipt.get_json()['tracking_no']}").get_json()

    assert case["target"]["name"] == "Café 诊所"

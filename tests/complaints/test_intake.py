"""Filing a complaint (public): the four kinds of target, the receipt, routing by category, the
category's own fields, refusals in the error envelope (and nothing stored after one), and linking
to a logged-in citizen."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from api.database import SHANGHAI
from complaints.models import Complaint
from tests.complaints.helpers import (
    CATEGORIES,
    SUBMIT,
    assert_error,
    assert_validation_error,
    complaint_body,
    named,
    stored_counts,
    submit,
    submitted,
    track,
)

RECEIPT_KEYS = {"tracking_no", "query_code", "status", "department", "accept_due_at"}
QUERY_CODE = re.compile(r"^[23456789ABCDEFGHJKLMNPQRSTUVWXYZ]{8}$")

# Every category of the seeded table and the department it is routed to.
ROUTING = {
    "medical_quality": "health",
    "attitude_ethics": "health",
    "prices_charges": "market",
    "drugs_devices": "market",
    "advertising": "market",
    "insurance_fraud": "medical_insurance",
    "medical_waste_in_institution": "health",
    "medical_waste_transfer": "ecology",
    "radiation": "ecology",
    "illegal_practice": "health",
    "medical_violence": "public_security",
    "licences": "health",
}
# Extra fields a category requires, so that a submission in it is valid.
REQUIRED_DETAILS = {
    "insurance_fraud": {"fraud_type": "fake_admission"},
    "drugs_devices": {"product_name": "某品牌降压药"},
}


def _stored(session, tracking_no: str) -> Complaint:
    session.expire_all()
    complaint = session.scalar(select(Complaint).where(Complaint.tracking_no == tracking_no))
    assert complaint is not None, tracking_no
    return complaint


def _beijing_day() -> str:
    return dt.datetime.now(SHANGHAI).strftime("%Y%m%d")


# ---- the four kinds of target ------------------------------------------------------------------

def test_a_complaint_about_a_scanned_institution_code_is_filed_against_the_institution(client, session, clinic):
    receipt = submitted(client, complaint_body(target={"code_token": clinic["code"]["token"]}))

    complaint = _stored(session, receipt["tracking_no"])
    assert (complaint.target_kind, complaint.institution_id, complaint.staff_id) == ("institution", clinic["id"], None)
    assert complaint.code_id is not None


def test_a_complaint_about_a_scanned_staff_badge_is_filed_against_the_person_and_their_institution(
        client, session, clinic, doctor):
    receipt = submitted(client, complaint_body(target={"code_token": doctor["code"]["token"]}))

    complaint = _stored(session, receipt["tracking_no"])
    assert (complaint.target_kind, complaint.institution_id, complaint.staff_id) == ("staff", clinic["id"], doctor["id"])


def test_a_complaint_can_name_an_institution_by_id(client, session, clinic):
    receipt = submitted(client, complaint_body(target={"institution_id": clinic["id"]}))

    complaint = _stored(session, receipt["tracking_no"])
    assert (complaint.target_kind, complaint.institution_id, complaint.staff_id) == ("institution", clinic["id"], None)


def test_a_complaint_can_name_a_staff_member_by_id(client, session, clinic, doctor):
    receipt = submitted(client, complaint_body(target={"staff_id": doctor["id"]}))

    complaint = _stored(session, receipt["tracking_no"])
    assert (complaint.target_kind, complaint.institution_id, complaint.staff_id) == ("staff", clinic["id"], doctor["id"])


def test_a_complaint_about_an_unlicensed_place_keeps_its_name_and_address(client, session):
    body = complaint_body(category="illegal_practice", target={"name": "城中村无证牙所", "address": "北园大街 12 号后院"})

    receipt = submitted(client, body)

    complaint = _stored(session, receipt["tracking_no"])
    assert complaint.target_kind == "place"
    assert (complaint.place_name, complaint.place_address) == ("城中村无证牙所", "北园大街 12 号后院")
    assert complaint.institution_id is None and complaint.staff_id is None


# ---- the receipt -------------------------------------------------------------------------------

def test_the_receipt_has_exactly_the_contract_shape(client):
    day_before = _beijing_day()
    response = submit(client)
    day_after = _beijing_day()

    assert response.status_code == 201, response.get_data(as_text=True)
    receipt = response.get_json()
    assert set(receipt) == RECEIPT_KEYS
    match = re.fullmatch(r"TS(\d{8})(\d{6})", receipt["tracking_no"])
    assert match, receipt["tracking_no"]
    assert match.group(1) in {day_before, day_after}
    assert QUERY_CODE.match(receipt["query_code"]), receipt["query_code"]
    assert receipt["status"] == "submitted"
    assert receipt["department"] == "health"


def test_the_receipt_gives_an_acceptance_deadline_at_the_end_of_a_later_beijing_day(client):
    receipt = submitted(client)

    due = dt.datetime.fromisoformat(receipt["accept_due_at"])
    assert due.utcoffset() is not None
    local = due.astimezone(SHANGHAI)
    assert (local.hour, local.minute, local.second) == (23, 59, 59)
    days_ahead = (local.date() - dt.datetime.now(SHANGHAI).date()).days
    assert 5 <= days_ahead <= 20  # five working days, holidays included


def test_the_receipts_deadline_is_the_one_the_department_works_to(client, health_officer):
    receipt = submitted(client)

    case = health_officer.get(f"/api/v1/complaints/{receipt['tracking_no']}").get_json()

    assert dt.datetime.fromisoformat(case["accept_due_at"]) == dt.datetime.fromisoformat(receipt["accept_due_at"])
    assert case["status"] == "submitted" and case["department"] == receipt["department"]


def test_the_query_code_is_never_stored_in_the_clear(client, session):
    receipt = submitted(client)

    complaint = _stored(session, receipt["tracking_no"])
    values = [getattr(complaint, column.key) for column in Complaint.__table__.columns]
    assert not any(receipt["query_code"] in str(value) for value in values)
    assert not any(receipt["query_code"].lower() in str(value).lower() for value in values)


def test_the_receipt_works_for_tracking_at_once(client):
    receipt = submitted(client)

    response = track(client, receipt["tracking_no"], receipt["query_code"])

    assert response.status_code == 200
    assert response.get_json()["status"] == "submitted"


# ---- routing by category -----------------------------------------------------------------------

@pytest.mark.parametrize(("category", "department"), [
    ("prices_charges", "market"),
    ("insurance_fraud", "medical_insurance"),
    ("medical_waste_in_institution", "health"),
    ("medical_waste_transfer", "ecology"),
    ("illegal_practice", "health"),
    ("medical_violence", "public_security"),
    ("licences", "health"),
    ("medical_quality", "health"),
])
def test_each_category_is_routed_to_its_department(client, session, category, department):
    body = complaint_body(category=category, details=REQUIRED_DETAILS.get(category, {}))

    receipt = submitted(client, body)

    assert receipt["department"] == department
    complaint = _stored(session, receipt["tracking_no"])
    assert (complaint.category, complaint.department) == (category, department)


def test_the_categories_list_every_category_with_its_department_and_form(client):
    response = client.get(CATEGORIES)

    assert response.status_code == 200
    categories = response.get_json()
    assert {c["code"]: c["department"] for c in categories} == ROUTING
    for category in categories:
        assert {"code", "name", "department", "fields"} <= set(category), category
        assert re.search(r"[\u4e00-\u9fff]", category["name"]), category
        for field in category["fields"]:
            assert {"name", "label", "type"} <= set(field), field
    fraud = next(c for c in categories if c["code"] == "insurance_fraud")
    fraud_type = next(f for f in fraud["fields"] if f["name"] == "fraud_type")
    assert fraud_type["type"] == "choice" and fraud_type["required"] is True
    assert "fake_admission" in [option["value"] for option in fraud_type["options"]]


def test_the_categories_need_no_login(client):
    assert client.get(CATEGORIES).status_code == 200


# ---- the category's own fields -----------------------------------------------------------------

@pytest.mark.parametrize(("category", "details", "field"), [
    pytest.param("insurance_fraud", {}, "details.fraud_type", id="required-choice-missing"),
    pytest.param("drugs_devices", {"batch_no": "B2026"}, "details.product_name", id="required-text-missing"),
    pytest.param("drugs_devices", {"product_name": ""}, "details.product_name", id="required-text-empty"),
    pytest.param("prices_charges", {"amount": "很多"}, "details.amount", id="number-given-text"),
    pytest.param("prices_charges", {"amount": True}, "details.amount", id="number-given-boolean"),
    pytest.param("prices_charges", {"amount": -5}, "details.amount", id="number-below-minimum"),
    pytest.param("medical_quality", {"harm": "yes"}, "details.harm", id="boolean-given-text"),
    pytest.param("medical_quality", {"visit_date": "2026-02-30"}, "details.visit_date", id="impossible-date"),
    pytest.param("medical_quality", {"visit_date": "30/01/2026"}, "details.visit_date", id="date-wrong-format"),
    pytest.param("medical_quality", {"clinic_department": ["内科"]}, "details.clinic_department", id="text-given-list"),
    pytest.param("medical_waste_transfer", {"location": "院" * 201}, "details.location", id="text-too-long"),
    pytest.param("medical_quality", {"colour": "red"}, "details.colour", id="unknown-field"),
    pytest.param("licences", {"note": "x"}, "details.note", id="field-on-a-category-without-fields"),
    pytest.param("insurance_fraud", {"fraud_type": "bribery"}, "details.fraud_type", id="choice-not-an-option"),
])
def test_the_categorys_extra_fields_are_validated_and_a_refusal_stores_nothing(client, category, details, field):
    before = stored_counts()

    response = submit(client, complaint_body(category=category, details=details))

    assert_validation_error(response, field)
    assert stored_counts() == before


def test_valid_extra_fields_are_kept_with_the_case(client, login):
    officer = login("officer", department="medical_insurance")
    body = complaint_body(category="insurance_fraud", details={"fraud_type": "drug_swap", "amount": 1280.5})

    receipt = submitted(client, body)

    case = officer.get(f"/api/v1/complaints/{receipt['tracking_no']}").get_json()
    assert case["details"] == {"fraud_type": "drug_swap", "amount": 1280.5}


# ---- refusals ----------------------------------------------------------------------------------

def _without(key):
    body = complaint_body()
    del body[key]
    return body


def _future():
    return "2999-01-01T10:00:00+08:00"  # fixed: a parameter is built at collection, maybe hours before the test


@pytest.mark.parametrize(("body", "field"), [
    pytest.param(complaint_body(content="太短了太短了太短了"), "content", id="content-of-9-characters"),
    pytest.param(complaint_body(content="长" * 2001), "content", id="content-of-2001-characters"),
    pytest.param(complaint_body(content="   短   " + " " * 10), "content", id="content-short-once-trimmed"),
    pytest.param(complaint_body(content="输液后出现过敏反应\x00，医生未做皮试"), "content", id="content-with-nul"),
    pytest.param(_without("content"), "content", id="content-missing"),
    pytest.param(complaint_body(category="weather"), "category", id="unknown-category"),
    pytest.param(_without("category"), "category", id="category-missing"),
    pytest.param(named(contact_phone="12345"), "contact_phone", id="bad-phone"),
    pytest.param(named(contact_phone="139123456789"), "contact_phone", id="phone-with-twelve-digits"),
    pytest.param(complaint_body(contact_name="张三丰"), "contact_name", id="anonymous-with-a-name"),
    pytest.param(complaint_body(contact_phone="13912345678"), "contact_phone", id="anonymous-with-a-phone"),
    pytest.param(complaint_body(anonymous=False), "contact_name", id="named-without-contact"),
    pytest.param(complaint_body(anonymous=False, contact_name="张三丰"), "contact_phone", id="named-without-phone"),
    pytest.param(_without("anonymous"), "anonymous", id="anonymous-missing"),
    pytest.param(_without("target"), "target", id="target-missing"),
    pytest.param(complaint_body(target={}), "target", id="target-empty"),
    pytest.param(complaint_body(target={"institution_id": 1, "staff_id": 1}), "target", id="two-target-kinds"),
    pytest.param(complaint_body(target={"code_token": "abc", "name": "某诊所", "address": "某路"}), "target",
                 id="code-and-place"),
    pytest.param(complaint_body(target={"name": "无名诊所"}), "target", id="place-without-address"),
    pytest.param(complaint_body(target={"name": "无名诊所", "address": "某路", "phone": "1"}), "target",
                 id="unknown-target-field"),
    pytest.param(complaint_body(target={"institution_id": "1"}), "target", id="institution-id-as-text"),
    pytest.param(complaint_body(priority="urgent"), "priority", id="unknown-top-level-field"),
    pytest.param(complaint_body(details=["harm"]), "details", id="details-not-an-object"),
    pytest.param(complaint_body(occurred_at=_future()), "occurred_at", id="occurred-in-the-future"),
    pytest.param(complaint_body(occurred_at="yesterday"), "occurred_at", id="occurred-at-not-a-time"),
])
def test_a_bad_submission_is_refused_with_its_field_and_stores_nothing(client, body, field):
    before = stored_counts()

    response = submit(client, body)

    assert_validation_error(response, field)
    assert stored_counts() == before


@pytest.mark.parametrize(("target", "field"), [
    ({"code_token": "no-such-token-0123456789"}, "target.code_token"),
    ({"institution_id": 999_999}, "target.institution_id"),
    ({"staff_id": 999_999}, "target.staff_id"),
])
def test_a_target_that_does_not_exist_is_refused_and_stores_nothing(client, clinic, doctor, target, field):
    before = stored_counts()

    response = submit(client, complaint_body(target=target))

    assert_validation_error(response, field)
    assert stored_counts() == before


def test_malformed_json_is_refused_and_stores_nothing(client):
    before = stored_counts()

    response = client.post(SUBMIT, data='{"category": "medical_quality",', content_type="application/json")

    assert_error(response, 422, "VALIDATION_FAILED")
    assert stored_counts() == before


@pytest.mark.parametrize("content", ["十个字的投诉内容正文", "长" * 2000])
def test_content_of_ten_to_two_thousand_characters_is_accepted(client, content):
    assert submit(client, complaint_body(content=content)).status_code == 201


def test_a_named_complaint_with_a_landline_is_accepted(client):
    assert submit(client, named(contact_phone="0531-88123456")).status_code == 201


def test_a_past_occurrence_time_is_accepted(client, session):
    when = dt.datetime(2026, 1, 5, 9, 30, tzinfo=SHANGHAI)

    receipt = submitted(client, complaint_body(occurred_at=when.isoformat()))

    assert _stored(session, receipt["tracking_no"]).occurred_at == when


# ---- who filed it ------------------------------------------------------------------------------

def test_a_citizens_token_links_the_case_to_their_account(client, citizen):
    receipt = submitted(client, headers=citizen.headers)

    mine = citizen.get("/api/v1/me/complaints")

    assert mine.status_code == 200
    assert [item["tracking_no"] for item in mine.get_json()["items"]] == [receipt["tracking_no"]]
    assert mine.get_json()["total"] == 1


def test_another_citizen_does_not_see_the_case(client, citizen, login):
    submitted(client, headers=citizen.headers)
    stranger = login("citizen")

    mine = stranger.get("/api/v1/me/complaints")

    assert mine.status_code == 200
    assert mine.get_json()["items"] == [] and mine.get_json()["total"] == 0


def test_a_complaint_filed_without_a_token_is_linked_to_nobody(client, session, citizen):
    receipt = submitted(client)

    assert _stored(session, receipt["tracking_no"]).account_id is None
    assert citizen.get("/api/v1/me/complaints").get_json()["total"] == 0


def test_a_regulators_token_at_submission_does_not_link_the_case(client, session, health_officer):
    receipt = submitted(client, headers=health_officer.headers)

    assert _stored(session, receipt["tracking_no"]).account_id is None


def test_an_institutions_token_at_submission_does_not_link_the_case(client, session, clinic_account):
    receipt = submitted(client, headers=clinic_account.headers)

    assert _stored(session, receipt["tracking_no"]).account_id is None


def test_a_bad_token_at_submission_is_refused_rather_than_ignored(client):
    before = stored_counts()

    response = submit(client, headers={"Authorization": "Bearer not-a-real-token"})

    assert_error(response, 401, "UNAUTHORIZED")
    assert stored_counts() == before


def test_the_citizens_list_shows_no_contact_data(client, citizen):
    submitted(client, named(), headers=citizen.headers)

    text = citizen.get("/api/v1/me/complaints").get_data(as_text=True)

    assert "张三丰" not in text and "13912345678" not in text

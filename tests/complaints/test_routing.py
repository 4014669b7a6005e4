"""Routing after the seeds (issue 17, corrections 1 and 2), over HTTP: illegal practice is led by health
with the police, market and ecology alongside; licences are health's with approval alongside; waste
inside an institution is health's, its transfer and disposal ecology's; the old waste category is
retired but its cases stay readable (tests/test_migrations.py migrates real ones)."""

from __future__ import annotations

import pytest

from tests.api.helpers import assert_error
from tests.complaints.helpers import CATEGORIES, INTAKE_TABLES, rows
from tests.complaints.workflow_helpers import CONTACT, act, advance, case_url, ids, submit

LIST = "/api/v1/complaints"
PLACE = {"name": "城中村无证牙所", "address": "北园大街 12 号后院"}


def _categories(client, **query) -> dict[str, dict]:
    response = client.get(CATEGORIES, query_string=query)
    assert response.status_code == 200, response.get_json()
    return {category["code"]: category for category in response.get_json()}


# ---- the categories as the list shows them --------------------------------------------------------

def test_the_categories_say_who_leads_and_who_co_handles(client):
    categories = _categories(client)

    routing = {code: (c["department"], sorted(c["also_departments"])) for code, c in categories.items()}
    assert routing["illegal_practice"] == ("health", ["ecology", "market", "public_security"])
    assert routing["licences"] == ("health", ["approval"])
    assert routing["medical_waste_in_institution"] == ("health", [])
    assert routing["medical_waste_transfer"] == ("ecology", [])
    assert categories["medical_waste_in_institution"]["name"] == "医疗机构内医疗废物管理"
    assert categories["medical_waste_transfer"]["name"] == "医疗废物转运与处置"
    assert categories["illegal_practice"]["serious"] is True


def test_the_retired_waste_category_is_listed_only_on_request(client):
    offered = _categories(client)
    everything = _categories(client, include_retired="true")

    assert "medical_waste" not in offered
    assert not any(c["retired"] for c in offered.values())
    assert everything["medical_waste"]["retired"] is True
    assert everything["medical_waste"]["name"] == "医疗废物处置"
    assert set(everything) - set(offered) == {"medical_waste"}
    positions = list(offered)
    assert positions.index("medical_waste_in_institution") + 1 == positions.index("medical_waste_transfer")


def test_a_complaint_in_the_retired_waste_category_is_refused_and_nothing_is_stored(client, clinic):
    before = {table: rows(table) for table in INTAKE_TABLES}

    response = client.post("/api/v1/complaints", json={
        "category": "medical_waste", "content": "诊所把用过的针头和生活垃圾混在一起扔掉。", "anonymous": True,
        "target": {"institution_id": clinic["id"]}})

    body = assert_error(response, 422, "VALIDATION_FAILED")
    assert "category" in body["fields"]
    assert {table: rows(table) for table in INTAKE_TABLES} == before


# ---- illegal practice: health leads ---------------------------------------------------------------

@pytest.mark.parametrize("anonymous", [False, True], ids=["named", "anonymous"])
def test_illegal_practice_goes_to_health_which_handles_it_to_the_end(client, clinic, health_officer,
                                                                      health_supervisor, anonymous):
    receipt = submit(client, {"institution_id": clinic["id"]}, category="illegal_practice", anonymous=anonymous)
    number = receipt["tracking_no"]

    case = health_officer.get(case_url(number)).get_json()
    closed = advance(health_supervisor, number, "closed", handler_id=health_officer.account.id)

    assert receipt["department"] == "health"
    assert case["contact"] == (None if anonymous else {"name": CONTACT["contact_name"],
                                                       "phone": CONTACT["contact_phone"]})
    assert case["category_name"] == "非法行医"
    assert (closed["status"], closed["department"]) == ("closed", "health")


def test_an_unlicensed_place_reported_for_illegal_practice_goes_to_health(client, health_officer, login):
    police = login("officer", department="public_security")
    number = submit(client, PLACE, category="illegal_practice", anonymous=True)["tracking_no"]

    accepted = act(health_officer, number, "accept")

    assert accepted.status_code == 200, accepted.get_json()
    assert (accepted.get_json()["department"], accepted.get_json()["target"]["name"]) == ("health", PLACE["name"])
    assert number in ids(police.get(LIST).get_json())
    assert_error(act(police, number, "investigate"), 403, "FORBIDDEN")


def test_the_lead_still_sees_an_illegal_practice_case_it_transferred_to_a_co_handler(client, clinic,
                                                                                      health_officer, login):
    police = login("officer", department="public_security")
    number = submit(client, {"institution_id": clinic["id"]}, category="illegal_practice")["tracking_no"]

    moved = act(health_officer, number, "transfer", department="public_security", note="涉嫌犯罪，转公安办理")

    assert moved.get_json()["department"] == "public_security"
    seen = health_officer.get(case_url(number))
    assert seen.status_code == 200 and seen.get_json()["contact"] is None
    assert number in ids(health_officer.get(LIST).get_json())
    assert_error(act(health_officer, number, "accept"), 403, "FORBIDDEN")
    assert act(police, number, "accept").get_json()["status"] == "accepted"


def test_a_lead_without_co_handlers_loses_sight_of_a_case_it_transferred(client, clinic, health_officer):
    number = submit(client, {"institution_id": clinic["id"]}, category="medical_waste_in_institution")["tracking_no"]

    act(health_officer, number, "transfer", department="ecology")

    assert_error(health_officer.get(case_url(number)), 404, "NOT_FOUND")


# ---- licences: health, with approval alongside ----------------------------------------------------

def test_a_licence_complaint_goes_to_health_with_approval_co_handling(client, clinic, health_officer, login,
                                                                      market_officer):
    approval = login("officer", department="approval")
    number = submit(client, {"institution_id": clinic["id"]}, category="licences")["tracking_no"]

    by_approval = approval.get(case_url(number))

    assert by_approval.status_code == 200
    assert (by_approval.get_json()["department"], by_approval.get_json()["contact"]) == ("health", None)
    assert number in ids(approval.get(LIST).get_json())
    assert_error(act(approval, number, "accept"), 403, "FORBIDDEN")
    assert_error(market_officer.get(case_url(number)), 404, "NOT_FOUND")
    accepted = act(health_officer, number, "accept")
    assert accepted.status_code == 200, accepted.get_json()
    assert health_officer.get(case_url(number)).get_json()["contact"]["phone"] == CONTACT["contact_phone"]


# ---- waste: inside the institution health's, transfer and disposal ecology's ----------------------

@pytest.mark.parametrize(("category", "handler", "other"), [
    ("medical_waste_in_institution", "health", "ecology"),
    ("medical_waste_transfer", "ecology", "health"),
])
def test_each_waste_category_goes_to_its_department_alone(client, clinic, login, category, handler, other):
    holder, outsider = login("officer", department=handler), login("officer", department=other)
    receipt = submit(client, {"institution_id": clinic["id"]}, category=category,
                     details={"location": "医疗废物暂存间"})
    number = receipt["tracking_no"]

    assert receipt["department"] == handler
    assert number in ids(holder.get(LIST).get_json())
    assert act(holder, number, "accept").get_json()["status"] == "accepted"
    assert number not in ids(outsider.get(LIST).get_json())
    assert_error(outsider.get(case_url(number)), 404, "NOT_FOUND")
    assert_error(act(outsider, number, "investigate"), 404, "NOT_FOUND")

"""Who sees which complaints, and who sees the complainant: departments, co-handling, admin,
the institution complained about, citizens; every reading of a contact is audited."""

from __future__ import annotations

import io

import pytest

from tests.api.helpers import assert_error
from tests.complaints.workflow_helpers import CONTACT, act, advance, case_url, ids, submit

LIST = "/api/v1/complaints"
AUDIT = "/api/v1/audit-log"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
SECRET_NOTE = "内部：投诉人系竞争对手员工"


def _contact_reads(admin, tracking_no: str) -> list[dict]:
    response = admin.get(AUDIT, query_string={"action": "read_contact", "object_id": tracking_no})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


# ---- departments ------------------------------------------------------------------------------

def test_an_officer_lists_only_its_departments_complaints(health_case, market_case, market_officer,
                                                          health_officer):
    market_page = market_officer.get(LIST).get_json()
    health_page = health_officer.get(LIST).get_json()

    assert (ids(market_page), market_page["total"]) == ([market_case["tracking_no"]], 1)
    assert (ids(health_page), health_page["total"]) == ([health_case["tracking_no"]], 1)


def test_the_department_filter_does_not_widen_an_officers_view(health_case, market_officer):
    page = market_officer.get(LIST, query_string={"department": "health"}).get_json()

    assert (page["items"], page["total"]) == ([], 0)


def test_another_departments_case_answers_404_like_an_unknown_one(health_case, market_officer):
    hidden = market_officer.get(case_url(health_case["tracking_no"]))
    unknown = market_officer.get(case_url("TS20260101999999"))

    assert_error(hidden, 404, "NOT_FOUND")
    assert (hidden.status_code, hidden.get_json()) == (unknown.status_code, unknown.get_json())


@pytest.mark.parametrize(("action", "data"), [
    ("accept", {}), ("reject", {"note": "不予受理"}), ("transfer", {"department": "market"}),
    ("extend", {"days": 5, "note": "延期"}),
])
def test_another_department_cannot_act_on_a_case_it_cannot_see(health_case, market_officer, market_supervisor,
                                                                health_officer, action, data):
    for persona in (market_officer, market_supervisor):
        assert_error(act(persona, health_case["tracking_no"], action, **data), 404, "NOT_FOUND")

    case = health_officer.get(case_url(health_case["tracking_no"])).get_json()
    assert (case["status"], case["department"], len(case["timeline"])) == ("submitted", "health", 1)


# ---- the complainant's contact ----------------------------------------------------------------

def test_the_handling_department_sees_the_contact_and_each_read_is_audited(health_case, health_officer,
                                                                           health_supervisor, admin):
    number = health_case["tracking_no"]

    first = health_officer.get(case_url(number))
    health_officer.get(case_url(number))
    by_supervisor = health_supervisor.get(case_url(number))

    expected = {"name": CONTACT["contact_name"], "phone": CONTACT["contact_phone"]}
    assert first.status_code == 200
    assert first.get_json()["contact"] == expected
    assert by_supervisor.get_json()["contact"] == expected
    reads = _contact_reads(admin, number)
    assert len(reads) == 3
    assert sorted(r["account_id"] for r in reads) == sorted(
        [health_officer.account.id, health_officer.account.id, health_supervisor.account.id])
    assert {(r["action"], r["object_type"], r["object_id"]) for r in reads} == {("read_contact", "complaint", number)}
    assert all(r["at"] for r in reads)


def test_an_admin_sees_every_case_but_not_the_contact(health_case, market_case, admin):
    page = admin.get(LIST).get_json()
    case = admin.get(case_url(health_case["tracking_no"]))

    assert sorted(ids(page)) == sorted([health_case["tracking_no"], market_case["tracking_no"]])
    assert case.status_code == 200
    assert case.get_json()["contact"] is None
    assert "13800138000" not in case.get_data(as_text=True)
    assert _contact_reads(admin, health_case["tracking_no"]) == []


def test_lists_never_show_the_contact_nor_audit_a_read(health_case, health_officer, admin):
    response = health_officer.get(LIST)

    assert response.status_code == 200
    assert "contact" not in response.get_json()["items"][0]
    assert "13800138000" not in response.get_data(as_text=True)
    assert "张三" not in response.get_data(as_text=True)
    assert _contact_reads(admin, health_case["tracking_no"]) == []


def test_acting_on_a_case_does_not_read_the_contact(health_case, health_officer, admin):
    response = act(health_officer, health_case["tracking_no"], "accept")

    assert response.status_code == 200
    assert response.get_json()["contact"] is None
    assert "13800138000" not in response.get_data(as_text=True)
    assert _contact_reads(admin, health_case["tracking_no"]) == []


def test_an_anonymous_complaint_has_no_contact_and_its_reading_is_not_audited(client, clinic, health_officer,
                                                                              admin):
    number = submit(client, {"institution_id": clinic["id"]}, anonymous=True)["tracking_no"]

    case = health_officer.get(case_url(number)).get_json()

    assert case["anonymous"] is True
    assert case["contact"] is None
    assert _contact_reads(admin, number) == []


@pytest.mark.parametrize("role", ["officer", "supervisor", "institution", "citizen"])
def test_only_an_admin_reads_the_audit_log(login, clinic, role):
    persona = login(role, department="health" if role in ("officer", "supervisor") else None,
                    institution_id=clinic["id"] if role == "institution" else None)

    assert_error(persona.get(AUDIT), 403, "FORBIDDEN")


# ---- co-handling: illegal practice, led by health with the police, market and ecology ----------

@pytest.fixture
def illegal_practice_case(client, clinic):
    receipt = submit(client, {"institution_id": clinic["id"]}, category="illegal_practice")
    assert receipt["department"] == "health"
    return receipt


@pytest.mark.parametrize("department", ["public_security", "market", "ecology"])
def test_a_co_handling_department_sees_the_case_but_not_the_contact(illegal_practice_case, login, admin,
                                                                    department):
    officer = login("officer", department=department)
    number = illegal_practice_case["tracking_no"]

    listed = ids(officer.get(LIST).get_json())
    case = officer.get(case_url(number))

    assert number in listed
    assert case.status_code == 200
    assert case.get_json()["department"] == "health"
    assert case.get_json()["contact"] is None
    assert "13800138000" not in case.get_data(as_text=True)
    assert _contact_reads(admin, number) == []


@pytest.mark.parametrize("role", ["officer", "supervisor"])
def test_a_co_handling_department_cannot_act_on_the_case(illegal_practice_case, login, role):
    persona = login(role, department="public_security")
    number = illegal_practice_case["tracking_no"]

    assert_error(act(persona, number, "accept"), 403, "FORBIDDEN")
    assert_error(act(persona, number, "transfer", department="public_security"), 403, "FORBIDDEN")
    case = persona.get(case_url(number)).get_json()
    assert (case["status"], case["department"], len(case["timeline"])) == ("submitted", "health", 1)


def test_the_handling_department_of_a_co_handled_case_sees_the_contact(illegal_practice_case, health_officer,
                                                                       admin):
    number = illegal_practice_case["tracking_no"]

    case = health_officer.get(case_url(number)).get_json()

    assert case["contact"] == {"name": CONTACT["contact_name"], "phone": CONTACT["contact_phone"]}
    assert [r["account_id"] for r in _contact_reads(admin, number)] == [health_officer.account.id]
    assert act(health_officer, number, "accept").get_json()["status"] == "accepted"


def test_a_department_that_does_not_co_handle_does_not_see_the_case(illegal_practice_case, login):
    insurance = login("officer", department="medical_insurance")

    assert illegal_practice_case["tracking_no"] not in ids(insurance.get(LIST).get_json())
    assert_error(insurance.get(case_url(illegal_practice_case["tracking_no"])), 404, "NOT_FOUND")


# ---- the institution complained about ---------------------------------------------------------

@pytest.mark.parametrize("status", ["submitted", "accepted", "assigned", "investigating", "rejected"])
def test_an_institution_does_not_see_a_complaint_about_itself_before_it_is_resolved(
        health_case, clinic_account, health_officer, health_supervisor, status):
    number = health_case["tracking_no"]
    advance(health_supervisor, number, status, handler_id=health_officer.account.id)

    page = clinic_account.get(LIST).get_json()

    assert (page["items"], page["total"]) == ([], 0)
    assert_error(clinic_account.get(case_url(number)), 404, "NOT_FOUND")


@pytest.fixture
def resolved_case(client, health_case, health_officer, health_supervisor):
    """A named case about the clinic with an attachment and internal notes, resolved."""
    number = health_case["tracking_no"]
    upload = client.post(f"{case_url(number)}/attachments", content_type="multipart/form-data",
                         data={"query_code": health_case["query_code"], "file": (io.BytesIO(PDF), "receipt.pdf")})
    assert upload.status_code == 201, upload.get_json()
    act(health_officer, number, "accept", internal_note=SECRET_NOTE)
    act(health_supervisor, number, "assign", handler_id=health_officer.account.id, internal_note=SECRET_NOTE)
    act(health_officer, number, "investigate", note="已到现场核查", internal_note=SECRET_NOTE)
    response = act(health_officer, number, "resolve", finding="substantiated", note="情况属实")
    assert response.status_code == 200
    assert len(response.get_json()["attachments"]) == 1  # the regulator sees it
    return health_case


@pytest.mark.parametrize("status", ["resolved", "replied", "closed"])
def test_an_institution_sees_a_resolved_complaint_about_itself(resolved_case, clinic_account, health_officer,
                                                               clinic, status):
    number = resolved_case["tracking_no"]
    if status in ("replied", "closed"):
        act(health_officer, number, "reply", note="已责令整改。")
    if status == "closed":
        act(health_officer, number, "close")

    page = clinic_account.get(LIST).get_json()
    detail = clinic_account.get(case_url(number))

    assert ids(page) == [number]
    assert detail.status_code == 200
    case = detail.get_json()
    assert case["status"] == status
    assert case["content"] == "就诊时医生未说明检查费用，收费明显高于公示价格。"
    assert case["finding"] == "substantiated"
    assert case["target"]["institution_id"] == clinic["id"]
    assert "已到现场核查" in [e["note"] for e in case["timeline"]]


def test_an_institution_never_gets_the_complainant_notes_or_attachments(resolved_case, clinic_account):
    number = resolved_case["tracking_no"]

    detail = clinic_account.get(case_url(number))
    row = clinic_account.get(LIST).get_json()["items"][0]

    case = detail.get_json()
    for key in ("contact", "attachments", "anonymous"):
        assert key not in case, key
    assert all("internal_note" not in e and "actor_id" not in e for e in case["timeline"])
    text = detail.get_data(as_text=True)
    for secret in (SECRET_NOTE, "13800138000", "张三", "receipt.pdf"):
        assert secret not in text
    assert SECRET_NOTE not in str(row) and "13800138000" not in str(row)


def test_an_institutions_list_rows_do_not_tell_whether_the_complainant_gave_a_name(resolved_case,
                                                                                  clinic_account):
    row = clinic_account.get(LIST).get_json()["items"][0]

    assert row["tracking_no"] == resolved_case["tracking_no"]
    assert "anonymous" not in row
    assert "contact" not in row


def test_an_institution_never_sees_another_institutions_complaints(client, second_clinic, clinic_account,
                                                                    health_officer, health_supervisor):
    other = submit(client, {"institution_id": second_clinic["id"]})["tracking_no"]
    advance(health_supervisor, other, "closed", handler_id=health_officer.account.id)

    page = clinic_account.get(LIST).get_json()
    filtered = clinic_account.get(LIST, query_string={"status": "closed"}).get_json()

    assert (page["items"], page["total"]) == ([], 0)
    assert filtered["items"] == []
    assert_error(clinic_account.get(case_url(other)), 404, "NOT_FOUND")


def test_an_institution_cannot_act_on_a_complaint(resolved_case, clinic_account):
    assert_error(act(clinic_account, resolved_case["tracking_no"], "reply", note="我们没有错"), 403, "FORBIDDEN")


# ---- citizens and strangers -------------------------------------------------------------------

def test_a_citizen_cannot_list_or_read_regulators_cases(health_case, login):
    citizen = login("citizen")

    assert_error(citizen.get(LIST), 403, "FORBIDDEN")
    assert_error(citizen.get(case_url(health_case["tracking_no"])), 403, "FORBIDDEN")
    assert_error(act(citizen, health_case["tracking_no"], "accept"), 403, "FORBIDDEN")


def test_without_a_token_the_regulators_list_is_unauthorized(client, health_case):
    assert_error(client.get(LIST), 401, "UNAUTHORIZED")
    assert_error(client.get(case_url(health_case["tracking_no"])), 401, "UNAUTHORIZED")

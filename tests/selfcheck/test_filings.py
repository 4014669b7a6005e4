"""Self-inspection filings: complete answers, plans for non-compliant items, the signer, one live
filing per period, who sees what, review, revisions after a return, rectifications, and what the
database itself refuses."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.exc import IntegrityError

from api.database import today_shanghai, utcnow
from selfcheck.models import SelfCheck, SelfCheckAnswer
from tests.api.helpers import assert_error
from tests.conftest import institution_payload
from tests.selfcheck.conftest import (
    SELFCHECKS,
    answers_for,
    current_period,
    file,
    filed,
    filing_body,
    first_code,
    next_period,
    plan,
    row_counts,
)


def _review(persona, filing_id, **data):
    return persona.post(f"{SELFCHECKS}/{filing_id}/review", json=data)


def _rectify(persona, filing_id, item_code, done_on=None, note="已整改完毕"):
    return persona.post(f"{SELFCHECKS}/{filing_id}/rectifications",
                        json={"item_code": item_code, "done_on": str(done_on or today_shanghai()), "note": note})


def _listed(persona, **query) -> dict:
    response = persona.get(SELFCHECKS, query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@pytest.fixture
def non_compliant_filing(clinic_account, general_template) -> dict:
    """A filing with one non-compliant `general` item (with a plan) and everything else compliant."""
    code = first_code(general_template, "general")
    filing = filed(clinic_account, general_template, non_compliant={code: plan()})
    filing["_code"] = code
    return filing


# ---- filing -----------------------------------------------------------------------------------

def test_a_complete_compliant_filing_is_submitted(clinic, clinic_account, general_template):
    response = file(clinic_account, general_template)

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "submitted"
    assert body["non_compliant_count"] == 0 and body["veto_count"] == 0
    assert (body["institution_id"], body["period"], body["revision"], body["previous_id"]) == (
        clinic["id"], current_period(), 1, None)
    assert (body["template_id"], body["template_version"]) == (general_template["id"], 1)
    assert (body["signer_name"], body["signer_role"]) == ("王某", "legal_representative")
    assert [a["item_code"] for a in body["answers"]] == [i["code"] for i in general_template["items"]]
    assert all(a["result"] == "compliant" and a["rectification"] is None for a in body["answers"])


def test_a_filing_counts_its_non_compliant_items_and_keeps_their_plans(clinic_account, general_template):
    codes = [first_code(general_template, "general"), first_code(general_template, "major")]
    due = today_shanghai() + dt.timedelta(days=10)
    answers = answers_for(general_template, {code: plan(due) for code in codes})
    answers[-1] = {"item_code": answers[-1]["item_code"], "result": "not_applicable", "note": "本机构不开展"}

    body = filed(clinic_account, general_template, answers=answers)

    assert (body["non_compliant_count"], body["veto_count"]) == (2, 0)
    by_code = {a["item_code"]: a for a in body["answers"]}
    for code in codes:
        assert by_code[code]["result"] == "non_compliant"
        assert by_code[code]["rectification"] == {"plan": "立即整改并组织培训", "owner": "张某", "due_date": str(due),
                                                  "done_on": None, "done_note": None}
    assert by_code[answers[-1]["item_code"]]["result"] == "not_applicable"
    assert by_code[answers[-1]["item_code"]]["note"] == "本机构不开展"


def test_a_yearly_full_filing_is_accepted_beside_the_quarterly_one(clinic_account, general_template):
    filed(clinic_account, general_template)

    body = filed(clinic_account, general_template, str(today_shanghai().year))

    assert body["period"] == str(today_shanghai().year)


def test_missing_items_are_refused_and_named(session, clinic_account, general_template):
    answers = answers_for(general_template)
    left_out = [answers[0]["item_code"], answers[7]["item_code"]]
    answers = [a for a in answers if a["item_code"] not in left_out]

    response = file(clinic_account, general_template, answers=answers)

    body = assert_error(response, 422, "VALIDATION_FAILED")
    assert body["fields"]["missing_items"] == left_out
    assert row_counts(session) == (0, 0)


def test_an_item_answered_twice_is_refused(session, clinic_account, general_template):
    answers = answers_for(general_template)
    answers.append(dict(answers[2]))

    body = assert_error(file(clinic_account, general_template, answers=answers), 422, "VALIDATION_FAILED")

    assert any(answers[2]["item_code"] in message for message in body["fields"]["answers"])
    assert row_counts(session) == (0, 0)


def test_an_unknown_item_code_is_refused(session, clinic_account, general_template):
    answers = answers_for(general_template) + [{"item_code": "GEN-LIC-99", "result": "compliant"}]

    body = assert_error(file(clinic_account, general_template, answers=answers), 422, "VALIDATION_FAILED")

    assert any("GEN-LIC-99" in message for message in body["fields"]["answers"])
    assert row_counts(session) == (0, 0)


def test_an_item_of_another_template_is_refused(session, clinic_account, general_template, dental_template):
    answers = answers_for(general_template) + [{"item_code": dental_template["items"][0]["code"],
                                                 "result": "compliant"}]

    assert_error(file(clinic_account, general_template, answers=answers), 422, "VALIDATION_FAILED")
    assert row_counts(session) == (0, 0)


@pytest.mark.parametrize("rectification", [
    None,
    {"plan": "整改", "owner": "张某"},
    {"plan": "", "owner": "张某", "due_date": "2099-01-01"},
    {"plan": "整改", "owner": "", "due_date": "2099-01-01"},
], ids=["no-plan", "no-due-date", "blank-plan", "blank-owner"])
def test_a_non_compliant_item_without_a_full_rectification_plan_is_refused(session, clinic_account,
                                                                           general_template, rectification):
    code = first_code(general_template, "major")
    answers = answers_for(general_template)
    answers = [{"item_code": code, "result": "non_compliant",
                **({"rectification": rectification} if rectification is not None else {})}
               if a["item_code"] == code else a for a in answers]

    response = file(clinic_account, general_template, answers=answers)

    body = assert_error(response, 422, "VALIDATION_FAILED")
    assert body.get("fields"), body
    assert row_counts(session) == (0, 0)


def test_a_rectification_due_in_the_past_is_refused(session, clinic_account, general_template):
    code = first_code(general_template, "major")
    yesterday = today_shanghai() - dt.timedelta(days=1)

    response = file(clinic_account, general_template, non_compliant={code: plan(yesterday)})

    body = assert_error(response, 422, "VALIDATION_FAILED")
    assert any(code in name for name in body["fields"])
    assert row_counts(session) == (0, 0)


def test_the_error_names_the_non_compliant_item_without_a_plan(clinic_account, general_template):
    code = first_code(general_template, "key")
    answers = [{"item_code": a["item_code"], "result": "non_compliant"} if a["item_code"] == code else a
               for a in answers_for(general_template)]

    body = assert_error(file(clinic_account, general_template, answers=answers), 422, "VALIDATION_FAILED")

    assert any(code in name for name in body["fields"]), body["fields"]


@pytest.mark.parametrize("period", ["2026-Q5", "26-Q1", "2026Q4", "2026-Q0", "2026-q4", "Q4-2026", "", "1999"])
def test_a_malformed_period_is_refused(session, clinic_account, general_template, period):
    body = assert_error(file(clinic_account, general_template, period), 422, "VALIDATION_FAILED")

    assert "period" in body["fields"]
    assert row_counts(session) == (0, 0)


def test_a_period_that_has_not_begun_is_refused(session, clinic_account, general_template):
    body = assert_error(file(clinic_account, general_template, next_period()), 422, "VALIDATION_FAILED")

    assert "period" in body["fields"]
    assert assert_error(file(clinic_account, general_template, str(today_shanghai().year + 1)), 422,
                        "VALIDATION_FAILED")
    assert row_counts(session) == (0, 0)


def test_an_unknown_template_is_not_found(session, clinic_account, general_template):
    body = filing_body(general_template) | {"template_id": 987654}

    assert_error(clinic_account.post(SELFCHECKS, json=body), 404, "NOT_FOUND")
    assert row_counts(session) == (0, 0)


def test_a_template_for_another_category_is_refused(session, clinic_account, dental_template):
    body = assert_error(file(clinic_account, dental_template), 422, "VALIDATION_FAILED")

    assert "template_id" in body["fields"]
    assert row_counts(session) == (0, 0)


@pytest.mark.parametrize("signer", ["张三", "王", "王某某"])
def test_a_signer_other_than_the_legal_representative_or_principal_is_refused(session, clinic_account,
                                                                              general_template, signer):
    response = file(clinic_account, general_template, signer_name=signer)

    body = assert_error(response, 422, "VALIDATION_FAILED")
    assert "signer_name" in body["fields"]
    assert row_counts(session) == (0, 0)


def test_the_principal_may_sign_when_they_are_not_the_legal_representative(admin, login, general_template):
    made = admin.post("/api/v1/institutions", json=institution_payload(
        3, legal_representative="李某", principal="赵某")).get_json()
    account = login("institution", institution_id=made["id"])

    body = filed(account, general_template, signer_name="赵某")
    assert body["signer_role"] == "principal"
    yearly = filed(account, general_template, str(today_shanghai().year), signer_name="李某")
    assert yearly["signer_role"] == "legal_representative"


def test_a_second_filing_for_the_same_period_is_a_conflict(session, clinic_account, general_template):
    first = filed(clinic_account, general_template)

    response = file(clinic_account, general_template)

    assert_error(response, 409, "CONFLICT")
    assert row_counts(session) == (1, len(general_template["items"]))
    assert [f["id"] for f in _listed(clinic_account)["items"]] == [first["id"]]


def test_unknown_fields_are_refused(session, clinic_account, general_template):
    body = filing_body(general_template) | {"status": "accepted"}

    assert_error(clinic_account.post(SELFCHECKS, json=body), 422, "VALIDATION_FAILED")
    assert row_counts(session) == (0, 0)


# ---- who may file and see ---------------------------------------------------------------------

@pytest.mark.parametrize("role, department", [("officer", "health"), ("supervisor", "health"), ("admin", None),
                                              ("citizen", None)])
def test_only_an_institution_files(session, login, general_template, role, department):
    persona = login(role, department=department)

    assert_error(file(persona, general_template), 403, "FORBIDDEN")
    assert row_counts(session) == (0, 0)


def test_filing_needs_a_login(session, client, general_template):
    assert_error(client.post(SELFCHECKS, json=filing_body(general_template)), 401, "UNAUTHORIZED")
    assert_error(client.get(SELFCHECKS), 401, "UNAUTHORIZED")


def test_an_institution_cannot_read_another_institutions_filing(clinic_account, other_account, general_template):
    filing = filed(clinic_account, general_template)

    assert_error(other_account.get(f"{SELFCHECKS}/{filing['id']}"), 404, "NOT_FOUND")
    assert clinic_account.get(f"{SELFCHECKS}/{filing['id']}").status_code == 200


def test_an_institution_lists_only_its_own_filings(clinic_account, other_account, general_template):
    mine = filed(clinic_account, general_template)
    theirs = filed(other_account, general_template)

    assert [f["id"] for f in _listed(clinic_account)["items"]] == [mine["id"]]
    assert [f["id"] for f in _listed(other_account)["items"]] == [theirs["id"]]


def test_an_institution_asking_for_another_institutions_filings_gets_none(clinic, clinic_account, other_account,
                                                                          general_template):
    filed(clinic_account, general_template)

    page = _listed(other_account, institution_id=clinic["id"])

    assert page["total"] == 0 and page["items"] == []


def test_a_citizen_cannot_list_or_read_filings(citizen, clinic_account, general_template):
    filing = filed(clinic_account, general_template)

    assert_error(citizen.get(SELFCHECKS), 403, "FORBIDDEN")
    assert_error(citizen.get(f"{SELFCHECKS}/{filing['id']}"), 403, "FORBIDDEN")


@pytest.fixture
def three_filings(clinic_account, other_account, health_officer, general_template) -> dict:
    """The clinic's quarter (with a veto item) and year filings, and the other clinic's accepted quarter."""
    veto = first_code(general_template, "veto")
    made = {
        "clinic_quarter": filed(clinic_account, general_template, current_period(), non_compliant={veto: plan()}),
        "clinic_year": filed(clinic_account, general_template, str(today_shanghai().year)),
        "other_quarter": filed(other_account, general_template, current_period()),
    }
    accepted = _review(health_officer, made["other_quarter"]["id"], decision="accepted", note="无误")
    assert accepted.status_code == 200, accepted.get_json()
    return {name: filing["id"] for name, filing in made.items()}


def _ids(persona, **query) -> list[int]:
    return sorted(f["id"] for f in _listed(persona, **query)["items"])


def test_regulators_list_filings_by_period_status_and_veto(health_officer, market_officer, three_filings):
    f = three_filings

    assert _ids(health_officer) == sorted(f.values())
    assert _ids(health_officer, period=current_period()) == sorted([f["clinic_quarter"], f["other_quarter"]])
    assert _ids(health_officer, period=str(today_shanghai().year)) == [f["clinic_year"]]
    assert _ids(health_officer, status="accepted") == [f["other_quarter"]]
    assert _ids(health_officer, status="submitted") == sorted([f["clinic_quarter"], f["clinic_year"]])
    assert _ids(health_officer, has_veto="true") == [f["clinic_quarter"]]
    assert _ids(health_officer, has_veto="false") == sorted([f["clinic_year"], f["other_quarter"]])
    assert _ids(health_officer, period=current_period(), has_veto="true") == [f["clinic_quarter"]]
    # Any regulator reads the list; the page has the contract's shape.
    page = _listed(market_officer, page_size=2)
    assert (page["total"], page["page"], page["page_size"], len(page["items"])) == (3, 1, 2, 2)
    assert "answers" not in page["items"][0]


def test_regulators_list_filings_by_institution(clinic, other_clinic, health_officer, three_filings):
    f = three_filings

    assert _ids(health_officer, institution_id=clinic["id"]) == sorted([f["clinic_quarter"], f["clinic_year"]])
    assert _ids(health_officer, institution_id=other_clinic["id"]) == [f["other_quarter"]]
    assert _ids(health_officer, institution_id=clinic["id"], has_veto="true") == [f["clinic_quarter"]]


def test_a_malformed_list_filter_is_refused(health_officer):
    assert_error(health_officer.get(SELFCHECKS, query_string={"period": "2026-Q9"}), 422, "VALIDATION_FAILED")
    assert_error(health_officer.get(SELFCHECKS, query_string={"status": "lost"}), 422, "VALIDATION_FAILED")


# ---- review -----------------------------------------------------------------------------------

def test_a_health_officer_accepts_a_filing(clinic_account, health_officer, general_template):
    filing = filed(clinic_account, general_template)

    response = _review(health_officer, filing["id"], decision="accepted")

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "accepted"
    assert response.get_json()["reviewed_at"] is not None
    assert clinic_account.get(f"{SELFCHECKS}/{filing['id']}").get_json()["status"] == "accepted"


def test_returning_a_filing_without_a_note_is_refused(clinic_account, health_officer, general_template):
    filing = filed(clinic_account, general_template)

    assert_error(_review(health_officer, filing["id"], decision="returned"), 422, "VALIDATION_FAILED")
    assert clinic_account.get(f"{SELFCHECKS}/{filing['id']}").get_json()["status"] == "submitted"


def test_returning_a_filing_needs_a_note(clinic_account, health_officer, general_template):
    filing = filed(clinic_account, general_template)

    assert_error(_review(health_officer, filing["id"], decision="returned", note=""), 422, "VALIDATION_FAILED")
    assert_error(_review(health_officer, filing["id"], decision="returned", note="  "), 422, "VALIDATION_FAILED")
    assert clinic_account.get(f"{SELFCHECKS}/{filing['id']}").get_json()["status"] == "submitted"

    response = _review(health_officer, filing["id"], decision="returned", note="第三项请补充说明")
    assert response.status_code == 200
    assert (response.get_json()["status"], response.get_json()["review_note"]) == ("returned", "第三项请补充说明")


@pytest.mark.parametrize("second", ["accepted", "returned"])
def test_a_reviewed_filing_cannot_be_reviewed_again(clinic_account, health_officer, general_template, second):
    filing = filed(clinic_account, general_template)
    assert _review(health_officer, filing["id"], decision="accepted", note="无误").status_code == 200

    assert_error(_review(health_officer, filing["id"], decision=second, note="再审"), 409, "INVALID_TRANSITION")
    assert clinic_account.get(f"{SELFCHECKS}/{filing['id']}").get_json()["status"] == "accepted"


def test_a_health_supervisor_and_an_admin_review_too(clinic_account, other_account, health_supervisor, admin,
                                                     general_template):
    first = filed(clinic_account, general_template)
    second = filed(other_account, general_template)

    assert _review(health_supervisor, first["id"], decision="accepted", note="无误").get_json()["status"] == "accepted"
    assert _review(admin, second["id"], decision="returned", note="补充").get_json()["status"] == "returned"


def test_a_market_officer_cannot_review(clinic_account, market_officer, general_template):
    filing = filed(clinic_account, general_template)

    assert_error(_review(market_officer, filing["id"], decision="accepted"), 403, "FORBIDDEN")
    assert clinic_account.get(f"{SELFCHECKS}/{filing['id']}").get_json()["status"] == "submitted"


def test_an_institution_cannot_review_even_its_own_filing(clinic_account, general_template):
    filing = filed(clinic_account, general_template)

    assert_error(_review(clinic_account, filing["id"], decision="accepted"), 403, "FORBIDDEN")
    assert clinic_account.get(f"{SELFCHECKS}/{filing['id']}").get_json()["status"] == "submitted"


def test_reviewing_an_unknown_filing_is_not_found(health_officer, loaded_templates):
    assert_error(_review(health_officer, 987654, decision="accepted"), 404, "NOT_FOUND")


def test_a_returned_filing_is_corrected_by_a_second_revision(session, clinic_account, health_officer,
                                                             general_template):
    first = filed(clinic_account, general_template)
    assert _review(health_officer, first["id"], decision="returned", note="请更正").status_code == 200

    second = filed(clinic_account, general_template, non_compliant={first_code(general_template, "general"): plan()})

    assert (second["revision"], second["previous_id"], second["period"]) == (2, first["id"], first["period"])
    assert second["status"] == "submitted" and second["non_compliant_count"] == 1
    old = clinic_account.get(f"{SELFCHECKS}/{first['id']}").get_json()
    assert (old["status"], old["review_note"], old["revision"]) == ("returned", "请更正", 1)
    assert old["non_compliant_count"] == 0
    assert sorted(f["id"] for f in _listed(clinic_account)["items"]) == sorted([first["id"], second["id"]])
    # The second revision is live: a third filing for the period is a conflict.
    assert_error(file(clinic_account, general_template), 409, "CONFLICT")
    assert row_counts(session)[0] == 2


def test_an_accepted_filing_cannot_be_replaced(clinic_account, health_officer, general_template):
    filing = filed(clinic_account, general_template)
    assert _review(health_officer, filing["id"], decision="accepted", note="无误").status_code == 200

    assert_error(file(clinic_account, general_template), 409, "CONFLICT")


# ---- rectifications ---------------------------------------------------------------------------

def test_a_rectification_is_recorded_and_shown_with_the_answer(clinic_account, health_officer,
                                                              non_compliant_filing):
    code = non_compliant_filing["_code"]
    done_on = today_shanghai() - dt.timedelta(days=1)

    response = _rectify(clinic_account, non_compliant_filing["id"], code, done_on, "已更换合规标识")

    assert response.status_code == 201, response.get_json()
    assert (response.get_json()["item_code"], response.get_json()["done_on"]) == (code, str(done_on))
    for persona in (clinic_account, health_officer):
        answers = persona.get(f"{SELFCHECKS}/{non_compliant_filing['id']}").get_json()["answers"]
        (answer,) = [a for a in answers if a["item_code"] == code]
        assert answer["rectification"]["done_on"] == str(done_on)
        assert answer["rectification"]["done_note"] == "已更换合规标识"
        assert answer["rectification"]["plan"] == "立即整改并组织培训"


def test_only_a_non_compliant_item_is_rectified(clinic_account, non_compliant_filing, general_template):
    compliant = next(a["item_code"] for a in non_compliant_filing["answers"] if a["result"] == "compliant")

    body = assert_error(_rectify(clinic_account, non_compliant_filing["id"], compliant), 422, "VALIDATION_FAILED")
    assert "item_code" in body["fields"]
    assert_error(_rectify(clinic_account, non_compliant_filing["id"], "GEN-LIC-99"), 422, "VALIDATION_FAILED")


def test_a_rectification_cannot_be_done_in_the_future(clinic_account, non_compliant_filing):
    tomorrow = today_shanghai() + dt.timedelta(days=1)

    body = assert_error(_rectify(clinic_account, non_compliant_filing["id"], non_compliant_filing["_code"], tomorrow),
                        422, "VALIDATION_FAILED")

    assert "done_on" in body["fields"]
    answers = clinic_account.get(f"{SELFCHECKS}/{non_compliant_filing['id']}").get_json()["answers"]
    assert all(a["rectification"] is None or a["rectification"]["done_on"] is None for a in answers)


def test_an_item_is_rectified_once(clinic_account, non_compliant_filing):
    code = non_compliant_filing["_code"]
    assert _rectify(clinic_account, non_compliant_filing["id"], code, note="第一次").status_code == 201

    assert_error(_rectify(clinic_account, non_compliant_filing["id"], code, note="第二次"), 409, "CONFLICT")
    answers = clinic_account.get(f"{SELFCHECKS}/{non_compliant_filing['id']}").get_json()["answers"]
    assert [a["rectification"]["done_note"] for a in answers if a["item_code"] == code] == ["第一次"]


def test_another_institution_cannot_record_a_rectification(clinic_account, other_account, non_compliant_filing):
    assert_error(_rectify(other_account, non_compliant_filing["id"], non_compliant_filing["_code"]), 404, "NOT_FOUND")
    answers = clinic_account.get(f"{SELFCHECKS}/{non_compliant_filing['id']}").get_json()["answers"]
    assert all(a["rectification"] is None or a["rectification"]["done_on"] is None for a in answers)


def test_a_regulator_cannot_record_a_rectification(health_officer, non_compliant_filing):
    assert_error(_rectify(health_officer, non_compliant_filing["id"], non_compliant_filing["_code"]), 403,
                 "FORBIDDEN")


# ---- what the database itself refuses ---------------------------------------------------------

def _filing_row(institution_id, template_id, *, revision=1, status="submitted", answers=()):
    return SelfCheck(institution_id=institution_id, template_id=template_id, period=current_period(),
                     revision=revision, status=status, signer_name="王某", signer_role="legal_representative",
                     submitted_at=utcnow(), answers=list(answers))


@pytest.mark.parametrize("missing", ["rectification_plan", "rectification_owner", "rectification_due"])
def test_the_database_refuses_a_non_compliant_answer_without_a_plan(session, clinic, general_template, missing):
    item = general_template["items"][0]
    plan_columns = {"rectification_plan": "整改", "rectification_owner": "张某",
                    "rectification_due": today_shanghai()}
    plan_columns.pop(missing)
    answer = SelfCheckAnswer(item_code=item["code"], area=item["area"], tier=item["tier"], text=item["text"],
                             result="non_compliant", **plan_columns)
    session.add(_filing_row(clinic["id"], general_template["id"], answers=[answer]))

    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()
    assert row_counts(session) == (0, 0)


def test_the_database_accepts_a_compliant_answer_without_a_plan(session, clinic, general_template):
    item = general_template["items"][0]
    answer = SelfCheckAnswer(item_code=item["code"], area=item["area"], tier=item["tier"], text=item["text"],
                             result="compliant")
    session.add(_filing_row(clinic["id"], general_template["id"], answers=[answer]))
    session.commit()

    assert row_counts(session) == (1, 1)


def test_the_database_refuses_two_live_filings_for_one_period(session, clinic, general_template):
    session.add(_filing_row(clinic["id"], general_template["id"], revision=1, status="submitted"))
    session.flush()
    session.add(_filing_row(clinic["id"], general_template["id"], revision=2, status="accepted"))

    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


def test_the_database_allows_a_new_revision_beside_a_returned_one(session, clinic, general_template):
    session.add(_filing_row(clinic["id"], general_template["id"], revision=1, status="returned"))
    session.add(_filing_row(clinic["id"], general_template["id"], revision=2, status="returned"))
    session.add(_filing_row(clinic["id"], general_template["id"], revision=3, status="submitted"))
    session.commit()

    assert row_counts(session)[0] == 3

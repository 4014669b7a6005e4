"""GET /api/v1/changes: who may read it, its arguments, following `next`, and each kind of change."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from api import changes
from api.database import db
from tests.api.test_api_clients import bearer, token_for
from tests.api.test_api_clients import create as create_client
from tests.complaints.helpers import act, complaint_body, submitted
from tests.conftest import staff_payload
from tests.exchange.helpers import INSTITUTION_HEADERS, INSTITUTION_IMPORT, imported, institution_row, xlsx
from tests.exchange.test_penalty_disclosure import DETAILS
from tests.supervision.helpers import RULE_2, black_decision, final_violation, inspected, lift, new_institution

FEED = "/api/v1/changes"


def page(persona, since: int = 0, limit: int | None = None) -> dict:
    query = {"since": since} | ({"limit": limit} if limit is not None else {})
    response = persona.get(FEED, query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def follow(persona, since: int = 0, limit: int = 100) -> tuple[list[dict], int]:
    """Every item after `since`, page by page as a mirror reads it; and the last `next`."""
    seen: list[dict] = []
    while True:
        answer = page(persona, since, limit)
        if not answer["items"]:
            assert answer["next"] == since
            return seen, since
        assert answer["next"] == answer["items"][-1]["seq"]
        seen += answer["items"]
        since = answer["next"]


def kinds(items: list[dict]) -> set[tuple]:
    return {(item["type"], item["id"], item["op"]) for item in items}


def cursor(persona) -> int:
    return follow(persona)[1]


# ---- access ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("role, department", [("officer", "market"), ("supervisor", "health"), ("admin", None)])
def test_regulators_read_the_feed(login, role, department):
    response = login(role, department=department).get(FEED)
    assert response.status_code == 200
    assert response.get_json() == {"items": [], "next": 0}


def test_institutions_and_citizens_may_not_read_the_feed(login, clinic):
    for persona in (login("institution", institution_id=clinic["id"]), login("citizen")):
        response = persona.get(FEED)
        assert response.status_code == 403
        assert response.get_json()["code"] == "FORBIDDEN"


def test_an_api_client_with_changes_read_follows_the_feed_and_one_without_is_403(admin, client, clinic):
    reader = create_client(admin, name="省互联网+监管平台", scopes=("changes:read",))
    other = create_client(admin, name="省信用平台", scopes=("credit:read",))

    response = client.get(FEED, headers=bearer(token_for(client, reader)))
    refused = client.get(FEED, headers=bearer(token_for(client, other)))

    assert response.status_code == 200
    assert ("institution", clinic["id"], "upsert") in kinds(response.get_json()["items"])
    assert refused.status_code == 403 and refused.get_json()["code"] == "FORBIDDEN"


def test_a_mirror_reads_what_the_feed_names_with_its_client_token(admin, client, clinic):
    mirror = bearer(token_for(client, create_client(admin, name="省互联网+监管平台", scopes=("changes:read",))))
    credit_platform = bearer(token_for(client, create_client(admin, name="省信用平台", scopes=("credit:read",))))

    institution = client.get(f"/api/v1/institutions/{clinic['id']}", headers=mirror)
    credit = client.get(f"/api/v1/institutions/{clinic['id']}/credit", headers=credit_platform)

    assert institution.status_code == 200 and institution.get_json()["uscc"] == clinic["uscc"]
    assert credit.status_code == 200 and credit.get_json()["grade"] == clinic["credit"]["grade"]
    assert client.get(f"/api/v1/institutions/{clinic['id']}/credit", headers=mirror).status_code == 403
    assert client.get(f"/api/v1/institutions/{clinic['id']}", headers=credit_platform).status_code == 403
    assert client.get("/api/v1/institutions/999999", headers=mirror).status_code == 404
    assert client.get(f"/api/v1/institutions/{clinic['id']}/staff", headers=mirror).status_code == 403


def test_a_call_without_a_token_is_401(client):
    response = client.get(FEED)
    assert response.status_code == 401
    assert response.get_json()["code"] == "UNAUTHORIZED"


# ---- arguments ------------------------------------------------------------------------------------

@pytest.mark.parametrize("query, field", [
    ({"since": -1}, "since"), ({"since": "abc"}, "since"), ({"since": "1.5"}, "since"),
    ({"limit": 0}, "limit"), ({"limit": changes.MAX_LIMIT + 1}, "limit"), ({"limit": "many"}, "limit"),
])
def test_bad_arguments_are_422_naming_the_field(admin, query, field):
    response = admin.get(FEED, query_string=query)
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == "VALIDATION_FAILED" and field in body["fields"]


def test_limit_defaults_to_100_and_takes_up_to_1000(admin, session):
    changes.record(session, "institution", range(1, 1102))
    session.commit()
    assert len(page(admin)["items"]) == changes.DEFAULT_LIMIT == 100
    assert len(page(admin, limit=changes.MAX_LIMIT)["items"]) == 1000


def test_an_empty_feed_answers_no_items_and_the_same_cursor(admin):
    assert page(admin) == {"items": [], "next": 0}
    assert page(admin, since=42) == {"items": [], "next": 42}


# ---- following the cursor -------------------------------------------------------------------------

def test_a_reader_following_next_sees_every_change_once_in_order(admin):
    created = [new_institution(admin, serial) for serial in range(1, 6)]
    all_at_once = page(admin, limit=1000)["items"]
    paged, last = follow(admin, limit=2)

    assert paged == all_at_once
    seqs = [item["seq"] for item in paged]
    assert seqs == sorted(set(seqs)) and last == seqs[-1]
    assert {("institution", i["id"], "upsert") for i in created} <= kinds(paged)
    assert page(admin, since=last) == {"items": [], "next": last}
    later = new_institution(admin, 6)
    assert ("institution", later["id"], "upsert") in kinds(follow(admin, since=last)[0])


def test_items_say_what_changed_and_when_with_an_offset(admin, clinic):
    item = next(i for i in page(admin)["items"] if i["type"] == "institution")
    assert set(item) == {"seq", "type", "id", "ref", "op", "at"}
    assert item["id"] == clinic["id"] and item["op"] == "upsert" and item["ref"] is None
    assert item["at"].endswith("+00:00")


# ---- each kind of change --------------------------------------------------------------------------

def test_creating_an_institution_is_its_record_its_credit_and_its_code(admin):
    clinic = new_institution(admin, 1)
    items = page(admin)["items"]
    code = next(item for item in items if item["type"] == "code")
    assert {("institution", clinic["id"], "upsert"), ("credit", clinic["id"], "upsert")} <= kinds(items)
    assert code["ref"] == clinic["code"]["token"]
    assert len(items) == 3  # one item per thing changed in the transaction, however many writes


@pytest.mark.parametrize("partial", [False, True])
def test_an_import_is_a_change_of_each_institution_it_writes(admin, partial):
    rows = [institution_row(1), institution_row(2)] + ([institution_row(3, category="bakery")] if partial else [])
    answer = imported(admin, INSTITUTION_IMPORT, xlsx(INSTITUTION_HEADERS, rows), **({"partial": True} if partial else {}))
    assert answer["created"] == 2 and answer["written"]
    listed = admin.get("/api/v1/institutions").get_json()["items"]
    items = page(admin)["items"]
    assert {item["id"] for item in items if item["type"] == "institution"} == {i["id"] for i in listed}
    assert len([item for item in items if item["type"] == "code"]) == 2


def test_updating_staff_is_a_staff_change(admin, clinic):
    doctor = admin.post(f"/api/v1/institutions/{clinic['id']}/staff", json=staff_payload(1)).get_json()
    since = cursor(admin)
    response = admin.patch(f"/api/v1/staff/{doctor['id']}", json={"title": "副主任医师"})
    assert response.status_code == 200, response.get_json()
    assert kinds(follow(admin, since)[0]) == {("staff", doctor["id"], "upsert")}


def test_updating_an_institution_is_an_institution_change_not_a_credit_one(admin, clinic):
    since = cursor(admin)
    response = admin.patch(f"/api/v1/institutions/{clinic['id']}", json={"phone": "0531-88111111"})
    assert response.status_code == 200, response.get_json()
    assert kinds(follow(admin, since)[0]) == {("institution", clinic["id"], "upsert")}


def test_revoking_a_code_is_a_change_of_the_old_code_the_new_one_and_the_institution(admin, health_officer, clinic):
    since = cursor(admin)
    response = health_officer.post(f"/api/v1/codes/{clinic['code']['token']}/revoke", json={"reason": "海报被盗用"})
    assert response.status_code == 200, response.get_json()
    items = follow(admin, since)[0]
    refs = {item["ref"] for item in items if item["type"] == "code"}
    assert refs == {clinic["code"]["token"], response.get_json()["token"]}
    assert ("institution", clinic["id"], "upsert") in kinds(items)


def test_a_credit_recomputation_is_a_credit_change(admin, supervisor, session, clinic):
    since = cursor(admin)
    final_violation(supervisor, session, clinic["id"], RULE_2)
    assert ("credit", clinic["id"], "upsert") in kinds(follow(admin, since)[0])


def test_a_staff_members_points_are_a_staff_change(admin, supervisor, session, clinic):
    doctor = admin.post(f"/api/v1/institutions/{clinic['id']}/staff", json=staff_payload(1)).get_json()
    since = cursor(admin)
    final_violation(supervisor, session, doctor["id"], "STF-LIC-01", subject_type="staff")
    assert ("staff", doctor["id"], "upsert") in kinds(follow(admin, since)[0])


def test_recording_an_inspection_is_an_inspection_change(admin, health_officer, clinic):
    since = cursor(admin)
    record = inspected(health_officer, clinic["id"], "rectify")
    assert ("inspection", record["id"], "upsert") in kinds(follow(admin, since)[0])


def test_a_penalty_is_in_the_feed_once_approved(admin, health_officer, health_supervisor, clinic):
    since = cursor(admin)
    record = inspected(health_officer, clinic["id"], "penalty")
    pending, since = follow(admin, since)
    assert ("inspection", record["id"], "upsert") in kinds(pending)
    assert not any(item["type"] == "penalty" for item in pending)

    response = health_supervisor.post(f"/api/v1/inspections/{record['id']}/legal-review",
                                      json={"decision": "approved", "note": "事实清楚，证据确凿，程序合法"})
    assert response.status_code == 200, response.get_json()
    assert {("penalty", record["id"], "upsert"), ("inspection", record["id"], "upsert")} <= kinds(follow(admin, since)[0])


def test_filling_in_a_penaltys_disclosure_details_is_a_change_of_that_penalty(admin, health_officer,
                                                                             health_supervisor, clinic):
    record = inspected(health_officer, clinic["id"], "penalty")
    response = health_supervisor.post(f"/api/v1/inspections/{record['id']}/legal-review",
                                      json={"decision": "approved", "note": "事实清楚，证据确凿，程序合法"})
    assert response.status_code == 200, response.get_json()
    since = cursor(admin)
    response = health_officer._call("put", f"/api/v1/inspections/{record['id']}/penalty-details", json=DETAILS)
    assert response.status_code == 200, response.get_json()
    assert ("penalty", record["id"], "upsert") in kinds(follow(admin, since)[0])
    since = cursor(admin)
    corrected = health_officer._call("put", f"/api/v1/inspections/{record['id']}/penalty-details",
                                     json={**DETAILS, "content": "警告，并处罚款人民币陆仟元", "fine_yuan": "6000.00"})
    assert corrected.status_code == 200
    assert ("penalty", record["id"], "upsert") in kinds(follow(admin, since)[0])


def test_entering_and_leaving_a_list_are_an_upsert_and_a_delete_of_the_listing(admin, supervisor, clinic):
    since = cursor(admin)
    assert black_decision(supervisor, clinic["id"]).status_code == 201
    entered, since = follow(admin, since)
    listings = [item for item in entered if item["type"] == "list"]
    assert listings and all(item["op"] == "upsert" for item in listings)
    assert ("credit", clinic["id"], "upsert") in kinds(entered)

    assert lift(supervisor, clinic["id"]).status_code == 200
    left = [item for item in follow(admin, since)[0] if item["type"] == "list"]
    assert {item["id"] for item in left if item["op"] == "delete"} == {item["id"] for item in listings}


def test_complaint_statuses_are_in_the_feed_and_their_content_never(admin, client, health_officer, clinic):
    since = cursor(admin)
    body = complaint_body(target={"institution_id": clinic["id"]}, anonymous=False, contact_name="李四光",
                          contact_phone="13912345678")
    receipt = submitted(client, body)
    act(health_officer, receipt["tracking_no"], "accept")

    response = admin.get(FEED, query_string={"since": since})
    items = [item for item in response.get_json()["items"] if item["type"] == "complaint"]
    assert [item["ref"] for item in items] == [receipt["tracking_no"]] * 2  # submitted, then accepted
    assert items[0]["id"] == items[1]["id"]
    text = response.get_data(as_text=True)
    assert body["content"] not in text and "李四光" not in text and "13912345678" not in text


# ---- transactions ---------------------------------------------------------------------------------

def test_a_rolled_back_transaction_records_nothing(admin, session):
    changes.record(session, "institution", [7])
    session.rollback()
    changes.record(session, "staff", [8])
    session.commit()
    assert kinds(page(admin)["items"]) == {("staff", 8, "upsert")}


def test_a_rolled_back_savepoint_takes_back_what_it_recorded(admin, session):
    changes.record(session, "institution", [1])
    savepoint = session.begin_nested()
    changes.record(session, "institution", [1], op="delete")
    changes.record(session, "staff", [2])
    savepoint.rollback()
    with session.begin_nested():
        changes.record(session, "code", [3])
    session.commit()
    assert kinds(page(admin)["items"]) == {("institution", 1, "upsert"), ("code", 3, "upsert")}


def test_a_large_transaction_writes_its_changes_as_it_goes_and_still_all_or_nothing(admin, session, monkeypatch):
    monkeypatch.setattr(changes, "EARLY_WRITE", 3)  # a city's import, in miniature
    changes.record(session, "institution", range(1, 5))  # the third is written with the two before it
    assert session.scalar(select(func.count()).select_from(changes.Change)) == 3
    assert list(session.info[changes.PENDING]) == [("institution", 4)]
    session.rollback()
    assert page(admin)["items"] == []  # written early, rolled back with the rest

    changes.record(session, "institution", range(1, 5))
    changes.record(session, "institution", [1], op="delete")  # again after the early write
    session.commit()
    items = page(admin)["items"]
    assert [(item["id"], item["op"]) for item in items] == [(1, "upsert"), (2, "upsert"), (3, "upsert"),
                                                            (4, "upsert"), (1, "delete")]


def test_a_savepoint_holds_its_changes_until_it_ends(admin, session, monkeypatch):
    monkeypatch.setattr(changes, "EARLY_WRITE", 2)
    savepoint = session.begin_nested()
    changes.record(session, "staff", [1, 2, 3])  # inside the savepoint: held, so its rollback takes them back
    savepoint.rollback()
    changes.record(session, "code", [9])
    session.commit()
    assert kinds(page(admin)["items"]) == {("code", 9, "upsert")}


def test_a_read_numbers_only_what_has_committed(admin, session):
    """Numbers go to committed rows only, in one batch at a time, from the largest so far."""
    changes.record(session, "institution", range(1, 8))
    session.commit()
    assert changes.sequence(session, batch=3) == 3
    assert changes.sequence(session, batch=3) == 3
    session.commit()
    numbered = session.scalars(select(changes.Change.seq).where(changes.Change.seq.is_not(None))
                               .order_by(changes.Change.id)).all()
    assert numbered == [1, 2, 3, 4, 5, 6]
    assert [item["seq"] for item in page(admin)["items"]] == [1, 2, 3, 4, 5, 6, 7]
    db.session.remove()

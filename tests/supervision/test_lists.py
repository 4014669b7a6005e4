"""The public red and black lists (红黑名单): who is on them, why and since when, paged; entries open
and close as credit is recomputed."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from api.database import SHANGHAI, today_shanghai, utcnow
from registry.models import Institution
from selfcheck import commitments
from supervision.models import CreditRecord, ListEntry, Violation
from tests.api.helpers import assert_error
from tests.supervision.helpers import (
    RULE_2,
    RULE_10,
    black_decision,
    credit,
    final_violation,
    lift,
    new_institution,
    scan,
)

RED, BLACK = "/api/v1/lists/red", "/api/v1/lists/black"


def _page(client, path, **query) -> dict:
    response = client.get(path, query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _ids(page) -> list[int]:
    return [item["institution_id"] for item in page["items"]]


def _entries(session, institution_id, name) -> list[ListEntry]:
    session.expire_all()
    return list(session.scalars(select(ListEntry).where(ListEntry.institution_id == institution_id,
                                                        ListEntry.list == name).order_by(ListEntry.id)))


def _stale(session, institution_id) -> None:
    session.get(Institution, institution_id).credit_stale_after = utcnow() - dt.timedelta(minutes=1)
    session.commit()


def _sign(persona) -> dict:
    text = commitments.current_text()
    response = persona.post("/api/v1/commitments", json={"version": text["version"], "signer_name": "王某",
                                                          "signer_title": "法定代表人", "agree": True})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _graded_a_last_cycle(session, institution_id) -> None:
    """A history row from the end of the previous cycle, with grade A."""
    end_of_last_year = dt.datetime(today_shanghai().year - 1, 12, 31, 20, tzinfo=SHANGHAI).astimezone(dt.UTC)
    session.add(CreditRecord(institution_id=institution_id, computed_at=end_of_last_year,
                             cycle=today_shanghai().year - 1, points=0, grade="A", band=None, risk="low", lists=[],
                             reason="recomputed"))
    session.commit()


@pytest.fixture
def three_black_listed(admin, supervisor, clinic) -> list[dict]:
    institutions = [clinic, new_institution(admin, 2, name="第二诊所"), new_institution(admin, 3, name="第三诊所")]
    for number, institution in enumerate(institutions, start=1):
        assert black_decision(supervisor, institution["id"], reason=f"第{number}号决定").status_code == 201
    return institutions


# ---- the public lists ---------------------------------------------------------------------------

def test_the_black_list_is_public_and_paged_newest_first(client, three_black_listed):
    first = _page(client, BLACK, page_size=2)
    second = _page(client, BLACK, page_size=2, page=2)

    assert (first["total"], first["page"], first["page_size"], len(first["items"])) == (3, 1, 2, 2)
    assert (second["total"], second["page"], len(second["items"])) == (3, 2, 1)
    assert _ids(first) + _ids(second) == [i["id"] for i in reversed(three_black_listed)]


def test_a_list_entry_shows_who_why_and_since_when(client, three_black_listed):
    before = utcnow()
    entry = next(item for item in _page(client, BLACK)["items"] if item["institution_id"] == three_black_listed[0]["id"])

    assert (entry["institution_name"], entry["address"]) == (three_black_listed[0]["name"],
                                                             three_black_listed[0]["address"])
    assert entry["list"] == "black"
    assert "第1号决定" in entry["reason"]
    listed_at = dt.datetime.fromisoformat(entry["listed_at"])
    assert listed_at.utcoffset() is not None
    assert before - dt.timedelta(minutes=5) < listed_at <= before


def test_the_red_list_is_public_and_empty_at_first(client):
    page = _page(client, RED)

    assert (page["items"], page["total"], page["page"], page["page_size"]) == ([], 0, 1, 20)


def test_a_page_size_over_100_is_refused(client):
    assert_error(client.get(BLACK, query_string={"page_size": 101}), 422, "VALIDATION_FAILED")


def test_only_the_red_and_black_lists_exist(client):
    assert client.get("/api/v1/lists/grey").status_code == 404


def test_twelve_final_points_put_an_institution_on_the_black_list_with_its_points_as_reason(
        client, clinic, health_officer, session):
    final_violation(health_officer, session, clinic["id"], RULE_10)
    assert _page(client, BLACK)["total"] == 0  # 10 points: grade C

    final_violation(health_officer, session, clinic["id"], RULE_2)

    assert credit(health_officer, clinic["id"])["lists"] == ["black"]
    (entry,) = _page(client, BLACK)["items"]
    assert entry["institution_id"] == clinic["id"]
    assert "12" in entry["reason"]
    assert scan(client, clinic)["institution"]["credit"]["lists"] == ["black"]


def test_the_black_list_shows_an_institution_whose_points_became_final_without_any_job(
        client, clinic, health_officer, session):
    final_violation(health_officer, session, clinic["id"], RULE_10)
    final_violation(health_officer, session, clinic["id"], RULE_2)  # both windows ended; nobody read the credit

    assert _ids(_page(client, BLACK)) == [clinic["id"]]


def test_grade_a_now_and_at_the_end_of_last_cycle_puts_an_institution_on_the_red_list(
        client, clinic, clinic_account, session):
    _graded_a_last_cycle(session, clinic["id"])

    _sign(clinic_account)

    (entry,) = _page(client, RED)["items"]
    assert (entry["institution_id"], entry["list"]) == (clinic["id"], "red")
    assert entry["reason"] and entry["listed_at"]
    assert credit(clinic_account, clinic["id"])["lists"] == ["red"]
    assert scan(client, clinic)["institution"]["credit"]["lists"] == ["red"]


def test_grade_a_without_grade_a_last_cycle_stays_off_the_red_list(client, clinic, clinic_account):
    _sign(clinic_account)

    assert credit(clinic_account, clinic["id"])["grade"] == "A"
    assert _page(client, RED)["total"] == 0


def test_a_breach_takes_an_institution_off_the_red_list(client, clinic, clinic_account, health_officer, session):
    _graded_a_last_cycle(session, clinic["id"])
    signed = _sign(clinic_account)
    assert _ids(_page(client, RED)) == [clinic["id"]]

    response = health_officer.post(f"/api/v1/commitments/{signed['id']}/breach", json={"reason": "虚假宣传"})
    assert response.status_code == 200, response.get_json()

    assert _page(client, RED)["total"] == 0
    (entry,) = _entries(session, clinic["id"], "red")
    assert entry.removed_at is not None


# ---- leaving the black list ---------------------------------------------------------------------

def test_a_points_listing_of_this_cycle_ends_when_its_points_turn_out_to_be_of_the_last_one(
        client, clinic, health_officer, session):
    """Listed this cycle for points that were in truth of the last cycle (a date corrected): the grounds of
    the listing are gone, so is the listing (a listing that began last cycle outlives it: see
    test_black_list_terms.py)."""
    violations = [final_violation(health_officer, session, clinic["id"], rule) for rule in (RULE_10, RULE_2)]
    assert credit(health_officer, clinic["id"])["lists"] == ["black"]
    assert _ids(_page(client, BLACK)) == [clinic["id"]]

    last_year = dt.date(today_shanghai().year - 1, 12, 30)
    for body in violations:
        session.get(Violation, body["id"]).occurred_on = last_year
    _stale(session, clinic["id"])

    assert (credit(health_officer, clinic["id"])["points"], credit(health_officer, clinic["id"])["lists"]) == (0, [])
    assert _page(client, BLACK)["total"] == 0
    (entry,) = _entries(session, clinic["id"], "black")
    assert entry.removed_at is not None


def test_an_institution_leaves_the_black_list_when_a_violation_is_cancelled(client, clinic, health_officer, session):
    violations = [final_violation(health_officer, session, clinic["id"], rule) for rule in (RULE_10, RULE_2)]
    assert credit(health_officer, clinic["id"])["lists"] == ["black"]
    assert _ids(_page(client, BLACK)) == [clinic["id"]]

    # Set aside afterwards (the API cancels only objected violations, which never counted: the
    # cancellation of a counted one is written to the table directly).
    session.get(Violation, violations[1]["id"]).status = "cancelled"
    _stale(session, clinic["id"])

    found = credit(health_officer, clinic["id"])
    assert (found["points"], found["grade"], found["lists"]) == (10, "C", [])
    assert _page(client, BLACK)["total"] == 0
    (entry,) = _entries(session, clinic["id"], "black")
    assert entry.removed_at is not None and entry.removed_at >= entry.listed_at


def test_lifting_a_decision_removes_the_entry_and_a_new_decision_opens_a_new_one(client, clinic, supervisor, session):
    assert black_decision(supervisor, clinic["id"], reason="第一次决定").status_code == 201
    assert lift(supervisor, clinic["id"]).status_code == 200

    assert _page(client, BLACK)["total"] == 0
    (lifted,) = _entries(session, clinic["id"], "black")
    assert lifted.removed_at is not None

    assert black_decision(supervisor, clinic["id"], reason="第二次决定").status_code == 201

    (entry,) = _page(client, BLACK)["items"]
    assert "第二次决定" in entry["reason"]
    first, second = _entries(session, clinic["id"], "black")
    assert (first.removed_at is not None, second.removed_at) == (True, None)


def test_an_institution_listed_by_decision_and_by_points_has_one_entry(client, clinic, health_officer, supervisor,
                                                                      session):
    assert black_decision(supervisor, clinic["id"]).status_code == 201
    final_violation(health_officer, session, clinic["id"], RULE_10)
    final_violation(health_officer, session, clinic["id"], RULE_2)

    assert credit(health_officer, clinic["id"])["lists"] == ["black"]
    assert _ids(_page(client, BLACK)) == [clinic["id"]]

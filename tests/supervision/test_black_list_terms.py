"""The black list means key supervision (Liaocheng's opinions: "进入“黑名单”的机构，纳入重点监管名单，向社会公开，
加大监督检查频次"): a black-listed institution is under key supervision whatever its points and is on the
public key supervision list; a listing lasts until a decision lifts it or its term ends, not until the
scoring cycle rolls over. Time is moved as the other credit tests move it: by dating rows back and
marking the stored credit stale."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from sqlalchemy import select

from api.database import SHANGHAI, today_shanghai, utcnow
from registry.models import Institution
from supervision.models import ListDecision, ListEntry, Violation
from tests.api.helpers import assert_error
from tests.supervision.helpers import (
    RULE_2,
    RULE_10,
    black_decision,
    credit,
    final_violation,
    lift,
    scan,
)

BLACK, KEY = "/api/v1/lists/black", "/api/v1/lists/key"
TERM = dt.timedelta(days=365)  # policy version 1, credit.black_list_term_days


def _page(client, path, **query) -> dict:
    response = client.get(path, query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _ids(path, client) -> list[int]:
    return [item["institution_id"] for item in _page(client, path)["items"]]


def _open_entry(session, institution_id, name) -> ListEntry | None:
    session.commit()  # what the test changed so far
    session.expire_all()
    return session.scalar(select(ListEntry).where(ListEntry.institution_id == institution_id, ListEntry.list == name,
                                                  ListEntry.removed_at.is_(None)))


def _stale(session, institution_id) -> None:
    session.get(Institution, institution_id).credit_stale_after = utcnow() - dt.timedelta(minutes=1)
    session.commit()


@pytest.fixture
def listed_last_cycle(client, clinic, health_officer, session) -> ListEntry:
    """Twelve final points of last December, black-listed on the last evening of last year, the term still
    running: what the first days of a new cycle look like."""
    violations = [final_violation(health_officer, session, clinic["id"], rule) for rule in (RULE_10, RULE_2)]
    assert credit(health_officer, clinic["id"])["lists"] == ["black"]
    for body in violations:
        session.get(Violation, body["id"]).occurred_on = dt.date(today_shanghai().year - 1, 12, 20)
    entry = _open_entry(session, clinic["id"], "black")
    entry.listed_at = dt.datetime(today_shanghai().year - 1, 12, 31, 22, tzinfo=SHANGHAI).astimezone(dt.UTC)
    entry.ends_at = utcnow() + dt.timedelta(days=1)
    _stale(session, clinic["id"])
    return entry


# ---- the term -----------------------------------------------------------------------------------

def test_a_listing_for_points_runs_its_term_from_the_day_it_was_listed(client, clinic, health_officer, session):
    final_violation(health_officer, session, clinic["id"], RULE_10)
    final_violation(health_officer, session, clinic["id"], RULE_2)
    credit(health_officer, clinic["id"])

    (item,) = _page(client, BLACK)["items"]
    listed_at, ends_at = (dt.datetime.fromisoformat(item[key]) for key in ("listed_at", "ends_at"))
    assert ends_at - listed_at == TERM
    session.expire_all()
    next_cycle = dt.datetime(today_shanghai().year + 1, 1, 1, tzinfo=SHANGHAI)  # also a moment of every snapshot
    assert session.get(Institution, clinic["id"]).credit_stale_after == min(ends_at, next_cycle)


def test_a_listing_for_points_survives_the_new_cycle_with_grade_d_red_and_key_supervision(
        client, clinic, health_officer, session, listed_last_cycle):
    found = credit(health_officer, clinic["id"])

    assert (found["points"], found["grade"], found["colour"], found["lists"]) == (0, "D", "red", ["black"])
    assert (found["band"], found["supervision_mode"]) == ("key_supervision", "stationed")
    assert _ids(BLACK, client) == [clinic["id"]]
    (key,) = _page(client, KEY)["items"]
    assert (key["institution_id"], key["list"], key["ends_at"]) == (clinic["id"], "key", None)
    assert "黑名单" in key["reason"]
    profile = scan(client, clinic)
    assert (profile["colour"], profile["institution"]["credit"]["lists"]) == ("red", ["black"])
    assert _open_entry(session, clinic["id"], "black").id == listed_last_cycle.id  # the same listing


def test_the_end_of_the_term_ends_the_listing_and_key_supervision(client, clinic, health_officer, session,
                                                                  listed_last_cycle):
    assert credit(health_officer, clinic["id"])["grade"] == "D"
    entry = _open_entry(session, clinic["id"], "black")
    entry.ends_at = utcnow() - dt.timedelta(minutes=1)  # as the passing of time would
    _stale(session, clinic["id"])

    found = credit(health_officer, clinic["id"])

    assert (found["points"], found["grade"], found["colour"], found["lists"], found["band"]) == (
        0, "B", "green", [], None)
    assert (_page(client, BLACK)["total"], _page(client, KEY)["total"]) == (0, 0)
    assert scan(client, clinic)["colour"] == "green"
    assert _open_entry(session, clinic["id"], "black") is None
    assert _open_entry(session, clinic["id"], "key") is None


def test_the_listing_ends_with_its_points_if_they_are_set_aside(client, clinic, health_officer, session,
                                                                 listed_last_cycle):
    for violation in session.scalars(select(Violation).where(Violation.institution_id == clinic["id"])):
        if violation.points == 2:
            violation.status = "cancelled"  # set aside on review: 10 points, not grade D, last cycle
    _stale(session, clinic["id"])

    assert credit(health_officer, clinic["id"])["lists"] == []
    assert _page(client, BLACK)["total"] == 0


def test_a_term_ended_while_this_cycles_points_still_say_d_starts_a_new_listing(
        client, clinic, health_officer, session):
    final_violation(health_officer, session, clinic["id"], RULE_10)
    final_violation(health_officer, session, clinic["id"], RULE_2)
    credit(health_officer, clinic["id"])
    first = _open_entry(session, clinic["id"], "black")
    first.ends_at = utcnow() - dt.timedelta(minutes=1)
    _stale(session, clinic["id"])

    assert credit(health_officer, clinic["id"])["lists"] == ["black"]
    renewed = _open_entry(session, clinic["id"], "black")
    assert renewed.id != first.id and renewed.ends_at - renewed.listed_at == TERM
    assert _ids(BLACK, client) == [clinic["id"]]


# ---- decisions ----------------------------------------------------------------------------------

def test_a_decision_lasts_its_term_and_is_then_no_longer_in_force(client, clinic, supervisor, health_officer, session):
    response = black_decision(supervisor, clinic["id"])
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert dt.datetime.fromisoformat(body["ends_at"]) - dt.datetime.fromisoformat(body["listed_at"]) == TERM

    decision = session.scalar(select(ListDecision).where(ListDecision.institution_id == clinic["id"]))
    decision.decided_at, decision.ends_at = utcnow() - TERM, utcnow() - dt.timedelta(minutes=1)
    entry = _open_entry(session, clinic["id"], "black")
    entry.listed_at, entry.ends_at = decision.decided_at, decision.ends_at
    _stale(session, clinic["id"])

    found = credit(health_officer, clinic["id"])
    assert (found["grade"], found["lists"], found["band"], found["colour"]) == ("B", [], None, "green")
    assert (_page(client, BLACK)["total"], _page(client, KEY)["total"]) == (0, 0)
    assert_error(lift(supervisor, clinic["id"]), 404, "NOT_FOUND")  # nothing in force to lift
    assert black_decision(supervisor, clinic["id"], reason="再次列入").status_code == 201


def test_a_decision_puts_an_institution_with_few_points_under_key_supervision_until_lifted(
        client, clinic, supervisor, health_officer, session):
    final_violation(health_officer, session, clinic["id"], RULE_2)
    assert credit(health_officer, clinic["id"])["band"] is None

    assert black_decision(supervisor, clinic["id"], reason="拒不整改").status_code == 201

    found = credit(health_officer, clinic["id"])
    assert (found["points"], found["grade"], found["band"], found["lists"]) == (2, "D", "key_supervision", ["black"])
    (key,) = _page(client, KEY)["items"]
    assert key["institution_id"] == clinic["id"] and "拒不整改" in key["reason"]

    response = lift(supervisor, clinic["id"])

    assert response.status_code == 200, response.get_json()
    assert (response.get_json()["band"], response.get_json()["grade"]) == (None, "B")
    assert _page(client, KEY)["total"] == 0
    assert scan(client, clinic)["colour"] == "green"


# ---- the key supervision list -------------------------------------------------------------------

def test_the_key_supervision_list_is_public_paged_and_newest_first(client, admin, supervisor):
    from tests.supervision.helpers import new_institution

    institutions = [new_institution(admin, serial) for serial in (2, 3, 4)]
    for institution in institutions:
        assert black_decision(supervisor, institution["id"]).status_code == 201

    first, second = _page(client, KEY, page_size=2), _page(client, KEY, page_size=2, page=2)

    assert (first["total"], first["page"], first["page_size"], len(first["items"]), len(second["items"])) == (
        3, 1, 2, 2, 1)
    assert [i["institution_id"] for i in first["items"] + second["items"]] == [i["id"] for i in reversed(institutions)]
    assert set(first["items"][0]) == {"institution_id", "institution_name", "address", "list", "reason", "listed_at",
                                      "ends_at"}
    assert_error(client.get(KEY, query_string={"page_size": 101}), 422, "VALIDATION_FAILED")


def test_the_key_supervision_list_exports_for_regulators_only(client, clinic, clinic_account, supervisor,
                                                              health_officer):
    assert black_decision(supervisor, clinic["id"], reason="拒不整改").status_code == 201

    response = health_officer.get(f"{KEY}/export", query_string={"format": "csv"})

    assert response.status_code == 200, response.get_data(as_text=True)
    (row,) = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert (int(row["机构编号"]), row["名单"], row["信用等级"]) == (clinic["id"], "重点监管名单", "D")
    assert "拒不整改" in row["列入原因"]
    assert client.get(f"{KEY}/export").status_code == 401
    assert clinic_account.get(f"{KEY}/export").status_code == 403

"""The supervision mode follows the institution's record over the policy's look-back window, as Licheng's
plan says (issue 17, correction 3), and says why (`mode_reason`); cosmetic and dental institutions carry a
quantified risk level (correction 4). Through HTTP, as the institution itself and as a regulator."""

from __future__ import annotations

import datetime as dt

import pytest

from api.database import today_shanghai
from api.policy import packaged
from selfcheck import commitments
from supervision import credit as recomputation
from supervision.models import Violation
from tests.supervision.helpers import (
    INSPECTIONS,
    RULE_2,
    RULE_10,
    credit,
    end_window,
    inspected,
    new_institution,
    recorded,
    scan,
)

LAST_YEAR = today_shanghai().replace(year=today_shanghai().year - 1, month=6, day=15)


def _sign(persona) -> None:
    text = commitments.current_text()
    response = persona.post("/api/v1/commitments", json={"version": text["version"], "signer_name": "王某",
                                                          "signer_title": "法定代表人", "agree": True})
    assert response.status_code == 201, response.get_json()


def _final_last_year(officer, session, institution_id: int, rule_code: str) -> int:
    """A violation of last year, final: it counts for the record, not for this cycle's points."""
    body = recorded(officer, institution_id, rule_code, occurred_on=LAST_YEAR)
    end_window(session, body["id"])
    return body["id"]


def _inspect(officer, institution_id: int, result: str, on: dt.date | None = None, reviewer=None) -> None:
    inspected(officer, institution_id, result, on=on, reviewer=reviewer)


@pytest.fixture
def signed_clinic(admin, login):
    clinic = new_institution(admin, 31)
    account = login("institution", institution_id=clinic["id"])
    _sign(account)
    return clinic, account


def test_a_ten_point_offence_last_year_means_stationed_though_the_grade_is_a(signed_clinic, health_officer, session):
    clinic, account = signed_clinic
    assert credit(account, clinic["id"])["supervision_mode"] == "commitment"

    _final_last_year(health_officer, session, clinic["id"], RULE_10)

    for persona in (account, health_officer):
        found = credit(persona, clinic["id"])
        assert (found["grade"], found["points"], found["supervision_mode"]) == ("A", 0, "stationed")
        assert "严重违法" in found["mode_reason"] and "3 年" in found["mode_reason"]


def test_a_minor_offence_last_year_means_one_code_not_commitment(signed_clinic, health_officer, session):
    clinic, account = signed_clinic

    _final_last_year(health_officer, session, clinic["id"], RULE_2)

    found = credit(health_officer, clinic["id"])
    assert (found["grade"], found["supervision_mode"]) == ("A", "one_code")
    assert "违法行为" in found["mode_reason"]


def test_a_pending_violation_does_not_change_the_mode_until_it_is_final(signed_clinic, health_officer, session):
    clinic, account = signed_clinic
    body = recorded(health_officer, clinic["id"], RULE_10, occurred_on=LAST_YEAR)

    assert credit(account, clinic["id"])["supervision_mode"] == "commitment"
    end_window(session, body["id"])
    assert credit(account, clinic["id"])["supervision_mode"] == "stationed"


def test_an_offence_older_than_the_look_back_window_no_longer_counts(signed_clinic, health_officer, session):
    clinic, account = signed_clinic
    violation_id = _final_last_year(health_officer, session, clinic["id"], RULE_10)
    assert credit(account, clinic["id"])["supervision_mode"] == "stationed"

    # Time passes: the offence is now three years and a day old, past the window (policy: 3 years).
    found = session.get(Violation, violation_id)
    found.occurred_on = today_shanghai().replace(year=today_shanghai().year - 3) - dt.timedelta(days=1)
    session.commit()
    end_window(session, violation_id)

    shown = credit(account, clinic["id"])
    assert (shown["supervision_mode"], shown["grade"]) == ("commitment", "A")
    assert "无违法行为" in shown["mode_reason"]


def test_an_inspection_ending_in_a_penalty_means_stationed_once_legal_review_approves_it(
        signed_clinic, health_officer, health_supervisor):
    clinic, account = signed_clinic

    record = inspected(health_officer, clinic["id"], "penalty")
    assert credit(account, clinic["id"])["supervision_mode"] == "commitment"  # pending review: not counted yet

    response = health_supervisor.post(f"{INSPECTIONS}/{record['id']}/legal-review",
                                      json={"decision": "approved", "note": "事实清楚"})
    assert response.status_code == 200, response.get_json()
    found = credit(account, clinic["id"])
    assert found["supervision_mode"] == "stationed" and "行政处罚" in found["mode_reason"]


def test_remote_monitoring_with_only_a_minor_offence_is_remote_and_with_a_serious_one_stationed(
        admin, health_officer, session):
    monitored = new_institution(admin, 32, remote_monitoring=True)
    _final_last_year(health_officer, session, monitored["id"], RULE_2)
    assert credit(health_officer, monitored["id"])["supervision_mode"] == "remote"

    _final_last_year(health_officer, session, monitored["id"], RULE_10)
    assert credit(health_officer, monitored["id"])["supervision_mode"] == "stationed"


def test_a_dental_clinic_is_graded_unless_stationed(admin, health_officer, session, login):
    dental = new_institution(admin, 33, category="dental", remote_monitoring=True)
    _sign(login("institution", institution_id=dental["id"]))

    found = credit(health_officer, dental["id"])
    assert (found["supervision_mode"], found["graded_risk_level"]) == ("graded", "low")
    assert "量化分级" in found["mode_reason"]

    _final_last_year(health_officer, session, dental["id"], RULE_10)
    assert credit(health_officer, dental["id"])["supervision_mode"] == "stationed"


def test_the_quantified_risk_follows_the_latest_inspection_and_shows_on_the_profile(admin, health_officer, client,
                                                                                   health_supervisor):
    cosmetic = new_institution(admin, 34, category="cosmetic")
    plain_clinic = new_institution(admin, 35)
    assert scan(client, cosmetic)["institution"]["credit"]["graded_risk_level"] == "low"

    _inspect(health_officer, cosmetic["id"], "rectify")
    assert credit(health_officer, cosmetic["id"])["graded_risk_level"] == "medium"
    assert scan(client, cosmetic)["institution"]["credit"]["graded_risk_level"] == "medium"

    _inspect(health_officer, cosmetic["id"], "penalty", reviewer=health_supervisor)
    assert credit(health_officer, cosmetic["id"])["graded_risk_level"] == "high"

    assert credit(health_officer, plain_clinic["id"])["graded_risk_level"] is None
    assert scan(client, plain_clinic)["institution"]["credit"]["graded_risk_level"] is None


def test_the_quantified_risk_follows_the_points_of_the_cycle(admin, health_officer, session):
    dental = new_institution(admin, 36, category="dental")
    body = recorded(health_officer, dental["id"], RULE_2)
    assert credit(health_officer, dental["id"])["graded_risk_level"] == "low"  # pending: not counted yet

    end_window(session, body["id"])
    assert credit(health_officer, dental["id"])["graded_risk_level"] == "medium"


def test_the_institution_may_read_its_own_mode_and_another_institution_may_not(signed_clinic, login, admin):
    clinic, account = signed_clinic
    stranger = login("institution", institution_id=new_institution(admin, 37)["id"])

    assert credit(account, clinic["id"])["mode_reason"]
    assert stranger.get(f"/api/v1/institutions/{clinic['id']}/credit").status_code == 404


def test_a_clinic_registered_anew_as_dental_becomes_graded_with_a_level(admin, health_officer):
    clinic = new_institution(admin, 38)
    assert (credit(health_officer, clinic["id"])["supervision_mode"],
            credit(health_officer, clinic["id"])["graded_risk_level"]) == ("one_code", None)

    response = admin.patch(f"/api/v1/institutions/{clinic['id']}", json={"category": "dental"})
    assert response.status_code == 200, response.get_json()

    found = credit(health_officer, clinic["id"])
    assert (found["supervision_mode"], found["graded_risk_level"]) == ("graded", "low")
    assert response.get_json()["credit"]["graded_risk_level"] == "low"


def test_a_black_listed_dental_clinic_is_high_whatever_its_inspections(admin, health_officer, supervisor):
    dental = new_institution(admin, 39, category="dental")
    _inspect(health_officer, dental["id"], "pass")
    assert credit(health_officer, dental["id"])["graded_risk_level"] == "low"

    response = supervisor.post("/api/v1/lists/black/decisions", json={"institution_id": dental["id"],
                                                                       "reason": "伪造病历骗取医保基金"})
    assert response.status_code == 201, response.get_json()

    assert credit(health_officer, dental["id"])["graded_risk_level"] == "high"  # drawn at the high ratio


def test_the_latest_inspection_is_the_latest_by_date_not_by_entry(admin, health_officer, health_supervisor):
    cosmetic = new_institution(admin, 40, category="cosmetic")
    _inspect(health_officer, cosmetic["id"], "penalty", reviewer=health_supervisor)

    _inspect(health_officer, cosmetic["id"], "pass", on=LAST_YEAR)  # an old visit entered late

    assert credit(health_officer, cosmetic["id"])["graded_risk_level"] == "high"


def test_a_record_item_of_28_february_leaves_the_window_on_1_march_of_a_leap_year():
    under = packaged().in_force(dt.date(2026, 6, 1))
    record, leaves = recomputation._record((2, dt.date(2025, 2, 28)), None, under)

    assert record == "minor"
    assert leaves.date() == dt.date(2028, 3, 1)  # on 29 February 2028 the window still starts on 28 February 2025

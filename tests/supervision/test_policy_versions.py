"""A new policy version applies from its effective date, and what was decided keeps its version: with
a POLICY_DIR of v1 (2026-01-01) and a v2 (C from 4 points, INS-LIC-05 worth 4, a 3-working-day objection
window, 10 working days to accept a complaint, other draw ratios), a violation, a credit answer, a
complaint and a draw made now follow v2 when it is in force today, and v1 when v2 is still to come."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from api.database import SHANGHAI, today_shanghai, utcnow
from api.workdays import add_working_days, end_of
from complaints.models import Complaint
from registry.models import Institution
from supervision import draws
from supervision.models import CreditRecord, InspectionDraw, Violation
from tests.api.test_policy import V1, V1_TEXT, folder, version_2
from tests.complaints.helpers import submitted
from tests.supervision.helpers import DRAWS, RULE_2, credit, end_window, recorded

V2_RATIOS = {"A": 0.2, "B": 0.5, "C": 0.6, "D": 1.0}
V2_EDITS = (
    ("grade_c_from = 6  #", "grade_c_from = 4  #"),
    (f'"{RULE_2}" = 2\n', f'"{RULE_2}" = 4\n'),
    ("objection_working_days = 7  #", "objection_working_days = 3  #"),
    ("accept_working_days = 5  #", "accept_working_days = 10  #"),
    ("grade_ratios = { A = 0.05, B = 0.10, C = 0.30, D = 1.0 }",
     "grade_ratios = { A = 0.2, B = 0.5, C = 0.6, D = 1.0 }"),
)
TODAY = "today"
NEXT_YEAR = "next year"
IN_A_WEEK = "in a week"


@pytest.fixture
def v2_from():
    return TODAY


@pytest.fixture
def app(make_app, tmp_path, v2_from):
    """The personas' app (tests/conftest.py), on a POLICY_DIR of v1 and v2."""
    today = today_shanghai()
    effective = {TODAY: today, NEXT_YEAR: dt.date(today.year + 1, 1, 1), IN_A_WEEK: today + dt.timedelta(days=7)}[v2_from]
    policy_dir = folder(tmp_path, {"v1.toml": V1_TEXT, "v2.toml": version_2(effective, *V2_EDITS)})
    app = make_app(POLICY_DIR=policy_dir)
    with app.app_context():
        yield app


def _stored(session, model, row_id):
    session.expire_all()
    return session.get(model, row_id)


def test_the_premise_v1_gives_the_rule_2_points_and_a_6_point_c(app):
    assert V1["violations"]["points"][RULE_2] == 2
    assert V1["credit"]["grade_c_from"] == 6
    assert V1["violations"]["objection_working_days"] == 7
    assert V1["complaints"]["accept_working_days"] == 5
    assert app.extensions["policy"].in_force(today_shanghai()).version == 2


def test_a_violation_recorded_now_stores_version_2_its_points_and_its_window(health_officer, clinic, session):
    body = recorded(health_officer, clinic["id"], RULE_2)

    stored = _stored(session, Violation, body["id"])
    assert (stored.policy_version, stored.points) == (2, 4)
    assert body["points"] == 4
    assert stored.objection_due_at == end_of(add_working_days(today_shanghai(), 3))


def test_the_credit_answer_uses_version_2s_cut_off(health_officer, clinic, session):
    body = recorded(health_officer, clinic["id"], RULE_2)
    end_window(session, body["id"])

    answer = credit(health_officer, clinic["id"])

    assert (answer["points"], answer["grade"]) == (4, "C")  # B under v1 (C from 6), and 2 points
    history = session.scalars(select(CreditRecord).where(CreditRecord.institution_id == clinic["id"])
                              .order_by(CreditRecord.id)).all()
    assert history and history[-1].grade == "C" and history[-1].policy_version == 2


def test_a_violation_decided_under_version_1_keeps_its_points(health_officer, clinic, session):
    past = utcnow() - dt.timedelta(days=1)
    old = Violation(subject_type="institution", institution_id=clinic["id"], rule_code=RULE_2, rule_description="测试",
                    points=2, occurred_on=today_shanghai(), public=True, status="pending", objection_due_at=past,
                    policy_version=1)
    session.add(old)
    session.commit()
    new = recorded(health_officer, clinic["id"], RULE_2)
    end_window(session, new["id"])

    answer = credit(health_officer, clinic["id"])

    kept = _stored(session, Violation, old.id)
    assert (kept.policy_version, kept.points) == (1, 2)
    assert (_stored(session, Violation, new["id"]).policy_version, new["points"]) == (2, 4)
    assert answer["points"] == 2 + 4
    assert health_officer.get(f"/api/v1/violations/{old.id}").get_json()["points"] == 2


def test_a_complaint_submitted_now_has_version_2s_acceptance_deadline(client, session):
    receipt = submitted(client)

    stored = session.scalar(select(Complaint).where(Complaint.tracking_no == receipt["tracking_no"]))
    assert stored.policy_version == 2
    expected = end_of(add_working_days(today_shanghai(), 10))
    assert dt.datetime.fromisoformat(receipt["accept_due_at"]) == expected
    assert stored.accept_due_at == expected


def test_a_draw_stores_version_2(supervisor, health_officer, clinic, session):
    response = supervisor.post(DRAWS, json={"department": "health", "ratios": {"A": 1, "B": 1, "C": 1, "D": 1},
                                            "inspectors_per_target": 1})
    assert response.status_code == 201, response.get_json()

    assert _stored(session, InspectionDraw, response.get_json()["id"]).policy_version == 2


def test_a_draw_takes_the_ratios_it_is_not_given_from_the_policy(supervisor, health_officer, clinic, session):
    """The HTTP request must send every ratio (docs/draws.md); the service fills what it is not given."""
    made = draws.draw(session=session, account=supervisor.account, department="health", ratios={"B": 0.7},
                      inspectors_per_target=1, seed="s")
    session.commit()

    stored = _stored(session, InspectionDraw, made.id)
    assert stored.policy_version == 2
    assert stored.inputs["ratios"] == {**V2_RATIOS, "B": 0.7}
    everything = draws.draw(session=session, account=supervisor.account, department="health", ratios={},
                            inspectors_per_target=1, seed="s")
    assert everything.inputs["ratios"] == V2_RATIOS


# ---- v2 still to come: v1 applies now ---------------------------------------------------------------

@pytest.mark.parametrize("v2_from", [NEXT_YEAR])
def test_before_version_2_takes_effect_version_1_decides(v2_from, client, health_officer, supervisor, clinic, session):
    assert client.get("/api/v1/policy").get_json()["version"] == 1

    body = recorded(health_officer, clinic["id"], RULE_2)
    stored = _stored(session, Violation, body["id"])
    assert (stored.policy_version, stored.points) == (1, 2)
    assert stored.objection_due_at == end_of(add_working_days(today_shanghai(), 7))
    end_window(session, body["id"])
    assert (credit(health_officer, clinic["id"])["grade"]) == "B"  # 2 points: below v1's C (6)

    receipt = submitted(client)
    complaint = session.scalar(select(Complaint).where(Complaint.tracking_no == receipt["tracking_no"]))
    assert complaint.policy_version == 1
    assert complaint.accept_due_at == end_of(add_working_days(today_shanghai(), 5))

    made = draws.draw(session=session, account=supervisor.account, department="health", ratios={},
                      inspectors_per_target=1, seed="s")
    assert made.policy_version == 1
    assert made.inputs["ratios"] == {"A": 0.05, "B": 0.10, "C": 0.30, "D": 1.0}


def test_points_the_violations_table_cannot_hold_stop_the_app(tmp_path):
    """violations.points is CHECKed IN (1, 2, 4, 6, 10): a version giving 3 would start and then fail
    every violation of that rule; the app refuses it at start instead."""
    from api.policy import PolicyError
    from tests.api.test_policy import start

    policy_dir = folder(tmp_path, {"v1.toml": V1_TEXT, "v2.toml": version_2("2027-01-01", (f'"{RULE_2}" = 2\n', f'"{RULE_2}" = 3\n'))})

    with pytest.raises(PolicyError, match="violations.points") as refused:
        start(policy_dir)

    assert "v2.toml" in str(refused.value)


@pytest.mark.parametrize("v2_from", [IN_A_WEEK])
def test_the_stored_credit_goes_stale_the_day_the_next_version_takes_effect(v2_from, health_officer, clinic, session):
    """Grades, bands and modes are the version in force's: the day the next one takes effect, every
    snapshot is recomputed by its next reader (lists and scans included), not only by the daily job."""
    credit(health_officer, clinic["id"])

    stored = _stored(session, Institution, clinic["id"]).credit_stale_after
    takes_effect = dt.datetime.combine(today_shanghai() + dt.timedelta(days=7), dt.time.min, tzinfo=SHANGHAI)
    next_cycle = dt.datetime(today_shanghai().year + 1, 1, 1, tzinfo=SHANGHAI)
    assert stored == min(takes_effect, next_cycle)


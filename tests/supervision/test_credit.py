"""Credit: grade, consequence band, colour, supervision mode, risk and lists, derived by the one
`compute()` (service level) and stored, recomputed and shown by the API (the credit endpoint, the
scan, the code image); the history; the black-list decision; a commitment breach; and the cost of
recomputing many institutions at once."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from api.database import SHANGHAI, today_shanghai, utcnow
from registry.models import Institution
from selfcheck import commitments
from supervision import credit as credit_module
from supervision import grades, service
from supervision.grades import CreditInputs, compute
from supervision.models import CreditRecord, ListEntry, Violation
from tests.api.helpers import assert_error
from tests.complaints.workflow_helpers import submit
from tests.supervision.helpers import (
    INSPECTIONS,
    RULE_2,
    RULE_6,
    RULE_10,
    VIOLATIONS,
    black_decision,
    counting_statements,
    credit,
    end_window,
    final_violation,
    lift,
    new_institution,
    recorded,
    scan,
)

RED_HEX, GREEN_HEX, YELLOW_HEX = "#cf222e", "#1a7f37", "#9a6700"


def _sign(persona) -> dict:
    text = commitments.current_text()
    response = persona.post("/api/v1/commitments", json={"version": text["version"], "signer_name": "王某",
                                                          "signer_title": "法定代表人", "agree": True})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _image(client, institution) -> str:
    response = client.get(f"/api/v1/codes/{institution['code']['token']}/image", query_string={"format": "svg"})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True).lower()


def _history(persona, institution_id) -> list[dict]:
    return credit(persona, institution_id)["history"]


# ---- compute(): grade, band, risk, lists --------------------------------------------------------

@pytest.mark.parametrize(("inputs", "grade"), [
    (CreditInputs(points=0, commitment_in_force=True), "A"),
    (CreditInputs(points=0), "B"),  # no commitment
    (CreditInputs(points=0, commitment_in_force=True, breached=True), "B"),  # breached this year
    (CreditInputs(points=1, commitment_in_force=True), "B"),
    (CreditInputs(points=1), "B"),
    (CreditInputs(points=5, commitment_in_force=True), "B"),
    (CreditInputs(points=6), "C"),
    (CreditInputs(points=11, commitment_in_force=True), "C"),
    (CreditInputs(points=12), "D"),
    (CreditInputs(points=30), "D"),
    (CreditInputs(points=0, commitment_in_force=True, black_decision="拒不整改"), "D"),
    (CreditInputs(points=3, black_decision="拒不整改"), "D"),
])
def test_the_grade_follows_the_points_the_commitment_the_breach_and_the_black_list(inputs, grade):
    assert compute(inputs).grade == grade


@pytest.mark.parametrize(("points", "band"), [
    (0, None), (11, None), (12, "warning_talk"), (15, "warning_talk"), (16, "key_supervision"),
    (20, "key_supervision"), (21, "validation_deferred"), (40, "validation_deferred"),
])
def test_the_consequence_band_of_the_points_alone(points, band):
    assert grades.band_for(points) == band


@pytest.mark.parametrize(("inputs", "band"), [
    (CreditInputs(points=0), None), (CreditInputs(points=11), None),
    # 12 points are grade D, and grade D from points is the black list: key supervision, not a warning talk
    (CreditInputs(points=12), "key_supervision"), (CreditInputs(points=15), "key_supervision"),
    (CreditInputs(points=16), "key_supervision"), (CreditInputs(points=21), "validation_deferred"),
    (CreditInputs(points=0, black_decision="拒不整改"), "key_supervision"),
    (CreditInputs(points=3, black_decision="拒不整改"), "key_supervision"),
    (CreditInputs(points=25, black_decision="拒不整改"), "validation_deferred"),
    (CreditInputs(points=0, listed_points=12, listed_cycle=2025), "key_supervision"),
])
def test_a_black_listed_institution_is_under_key_supervision_whatever_its_points(inputs, band):
    result = compute(inputs)

    assert (result.points, result.band) == (inputs.points, band)
    assert ("key" in result.list_reasons) == (band in ("key_supervision", "validation_deferred"))


@pytest.mark.parametrize(("inputs", "risk"), [
    (CreditInputs(points=0, commitment_in_force=True), "low"),
    (CreditInputs(points=5), "low"),
    (CreditInputs(points=6), "medium"),
    (CreditInputs(points=0, open_lead=True), "medium"),
    (CreditInputs(points=0, open_lead=True, high_lead=True), "high"),
    (CreditInputs(points=6, open_lead=True, high_lead=True), "high"),
    (CreditInputs(points=12), "high"),
    (CreditInputs(points=0, black_decision="拒不整改"), "high"),
])
def test_the_risk_level_follows_the_grade_the_leads_and_the_black_list(inputs, risk):
    assert compute(inputs).risk == risk


@pytest.mark.parametrize(("licence", "risk"), [("valid", "low"), ("expiring", "medium"), ("expired", "high"),
                                               ("suspended", "high"), ("revoked", "high")])
def test_the_licence_raises_the_risk_level(licence, risk):
    assert grades.risk_for(grade="B", lists=(), open_lead=False, high_lead=False, licence_status=licence) == risk


@pytest.mark.parametrize(("grade", "lists", "licence", "colour"), [
    ("A", (), "valid", "green"), ("B", (), "valid", "green"), ("B", (), "expiring", "green"),
    ("A", ("red",), "valid", "green"), ("C", (), "valid", "yellow"), ("D", (), "valid", "red"),
    ("B", ("black",), "valid", "red"), ("A", (), "expired", "red"), ("B", (), "suspended", "red"),
    ("C", (), "revoked", "red"),
])
def test_the_colour_follows_the_grade_the_black_list_and_the_licence(grade, lists, licence, colour):
    assert grades.colour_for(grade=grade, lists=lists, licence_status=licence) == colour


@pytest.mark.parametrize(("grade", "lists", "category", "remote", "in_force", "record", "mode"), [
    # Licheng's plan: high risk or a serious violation in the window → stationed, whatever else holds
    ("D", (), "clinic", False, False, None, "stationed"),
    ("B", ("black",), "clinic", True, True, None, "stationed"),
    ("B", (), "dental", True, True, "serious", "stationed"),
    ("A", (), "clinic", False, True, "serious", "stationed"),  # a 10-point offence last year, grade A now
    # cosmetic and dental → graded unless stationed
    ("A", (), "dental", True, True, None, "graded"),
    ("C", (), "cosmetic", False, False, "minor", "graded"),
    # commitment only with a clean window and a commitment in force
    ("A", (), "clinic", False, True, None, "commitment"),
    ("A", (), "clinic", True, True, None, "commitment"),
    ("A", (), "clinic", False, True, "minor", "one_code"),  # grade from the cycle, mode from the window
    # remote monitoring with no serious violation
    ("B", (), "clinic", True, False, "minor", "remote"),
    ("B", (), "clinic", True, False, None, "remote"),
    ("B", (), "clinic", True, True, "minor", "remote"),
    # otherwise one-code
    ("C", (), "hospital", False, False, "minor", "one_code"),
    ("B", (), "clinic", False, False, None, "one_code"),
])
def test_the_supervision_mode_follows_the_record_over_the_window(grade, lists, category, remote, in_force, record, mode):
    found, reason = grades.supervision_mode(grade=grade, lists=lists, category=category, remote_monitoring=remote,
                                            commitment_in_force=in_force, record=record, lookback_years=3)

    assert found == mode
    assert reason  # every mode says why


def test_the_red_list_takes_grade_a_now_and_last_cycle_without_substantiated_complaints():
    result = compute(CreditInputs(points=0, commitment_in_force=True, previous_grade="A"))

    assert (result.grade, result.lists) == ("A", ("red",))
    assert result.list_reasons["red"]


@pytest.mark.parametrize("inputs", [
    CreditInputs(points=0, commitment_in_force=True, previous_grade="B"),
    CreditInputs(points=0, commitment_in_force=True, previous_grade=None),  # no grade at the end of last cycle
    CreditInputs(points=0, commitment_in_force=True, previous_grade="A", substantiated_complaints=1),
    CreditInputs(points=1, commitment_in_force=True, previous_grade="A"),  # B now
    CreditInputs(points=0, commitment_in_force=True, breached=True, previous_grade="A"),
    CreditInputs(points=0, previous_grade="A"),  # no commitment in force: B now
])
def test_the_red_list_needs_every_condition(inputs):
    result = compute(inputs)

    assert "red" not in result.lists
    assert "red" not in result.list_reasons


def test_twelve_points_put_an_institution_on_the_black_list_with_the_points_as_reason():
    result = compute(CreditInputs(points=12))

    assert (result.grade, result.lists) == ("D", ("black",))
    assert "12" in result.list_reasons["black"]
    assert compute(CreditInputs(points=11)).lists == ()


def test_a_black_list_decision_puts_an_institution_on_the_black_list_whatever_its_points():
    result = compute(CreditInputs(points=0, commitment_in_force=True, previous_grade="A", black_decision="拒不整改"))

    assert (result.grade, result.lists) == ("D", ("black",))
    assert "拒不整改" in result.list_reasons["black"]


def _institution_row(**overrides):
    values = {"credit_grade": "B", "credit_points": 0, "credit_lists": [], "credit_risk": "low",
              "credit_band": None, "commitment_valid_to": None, "category": "clinic", "remote_monitoring": False,
              "credit_record": None, "credit_graded_risk": None}
    return SimpleNamespace(**{**values, **overrides})


@pytest.mark.parametrize("licence", ["expired", "suspended", "revoked"])
def test_a_licence_that_cannot_be_practised_on_turns_the_stored_credit_red_at_read_time(licence):
    today = today_shanghai()

    shown = service.institution_credit(_institution_row(credit_grade="A", commitment_valid_to=today), licence, today)

    assert (shown.grade, shown.colour, shown.risk_level) == ("A", "red", "high")


def test_a_lapsed_commitment_turns_stored_grade_a_into_b_and_ends_the_red_list_at_read_time():
    today = today_shanghai()
    row = _institution_row(credit_grade="A", credit_lists=["red"], commitment_valid_to=today - dt.timedelta(days=1))

    shown = service.institution_credit(row, "valid", today)

    assert (shown.grade, shown.lists, shown.supervision_mode) == ("B", (), "one_code")


# ---- the credit endpoint ------------------------------------------------------------------------

def test_a_new_institution_has_grade_b_green_one_code_low_risk_and_no_history(health_officer, clinic):
    found = credit(health_officer, clinic["id"])

    assert {key: found[key] for key in ("grade", "points", "colour", "supervision_mode", "risk_level", "band",
                                        "lists", "history")} == {
        "grade": "B", "points": 0, "colour": "green", "supervision_mode": "one_code", "risk_level": "low",
        "band": None, "lists": [], "history": []}


def test_a_signed_commitment_gives_grade_a_and_commitment_supervision(clinic, clinic_account):
    _sign(clinic_account)

    found = credit(clinic_account, clinic["id"])

    assert (found["grade"], found["supervision_mode"], found["colour"]) == ("A", "commitment", "green")


def test_an_institution_reads_only_its_own_credit(clinic, other_clinic_account, clinic_account, client):
    assert credit(clinic_account, clinic["id"])["grade"] == "B"
    assert_error(other_clinic_account.get(f"/api/v1/institutions/{clinic['id']}/credit"), 404, "NOT_FOUND")
    assert_error(client.get(f"/api/v1/institutions/{clinic['id']}/credit"), 401, "UNAUTHORIZED")


@pytest.mark.parametrize(("rules", "points", "band"), [
    ([RULE_10, RULE_2], 12, "key_supervision"),  # grade D from points is the black list: key supervision
    ([RULE_10, RULE_6], 16, "key_supervision"),
    ([RULE_10, RULE_10, RULE_2], 22, "validation_deferred"),
])
def test_final_points_of_twelve_or_more_give_grade_d_a_band_and_stationed_supervision(
        health_officer, clinic, session, rules, points, band):
    for rule in rules:
        final_violation(health_officer, session, clinic["id"], rule)

    found = credit(health_officer, clinic["id"])

    assert (found["points"], found["grade"], found["band"], found["colour"]) == (points, "D", band, "red")
    assert (found["supervision_mode"], found["risk_level"], found["lists"]) == ("stationed", "high", ["black"])


def test_eleven_final_points_give_grade_c_without_a_band(health_officer, clinic, session):
    for rule in (RULE_6, RULE_2, RULE_2):
        final_violation(health_officer, session, clinic["id"], rule)
    final_violation(health_officer, session, clinic["id"], "INS-LIC-06")  # 1 point

    found = credit(health_officer, clinic["id"])

    assert (found["points"], found["grade"], found["band"], found["colour"]) == (11, "C", None, "yellow")
    assert (found["risk_level"], found["lists"]) == ("medium", [])


def test_points_of_last_cycle_do_not_count(health_officer, clinic, session):
    body = final_violation(health_officer, session, clinic["id"], RULE_10)
    last_year = today_shanghai().replace(year=today_shanghai().year - 1, month=12, day=31)
    session.get(Violation, body["id"]).occurred_on = last_year
    session.get(Institution, clinic["id"]).credit_stale_after = utcnow() - dt.timedelta(minutes=1)
    session.commit()

    assert credit(health_officer, clinic["id"])["points"] == 0


def _inspect(persona, institution_id):
    response = persona.post(INSPECTIONS, json={"institution_id": institution_id, "inspected_on": str(today_shanghai()),
                                               "result": "pass", "summary": "现场检查未见违法行为", "public": True})
    assert response.status_code == 201, response.get_json()


def test_a_high_priority_lead_makes_the_risk_high_at_once(client, clinic, health_officer):
    submit(client, {"institution_id": clinic["id"]}, category="illegal_practice")  # a lead scored 40

    assert credit(health_officer, clinic["id"])["risk_level"] == "high"


def test_an_inspection_closing_the_lead_brings_the_risk_back_down(client, clinic, health_officer, session):
    submit(client, {"institution_id": clinic["id"]}, category="illegal_practice")
    service.refresh_institution_credit(session=session, institution=session.get(Institution, clinic["id"]))
    session.commit()
    assert credit(health_officer, clinic["id"])["risk_level"] == "high"

    _inspect(health_officer, clinic["id"])

    assert credit(health_officer, clinic["id"])["risk_level"] == "low"


def test_a_suspended_licence_turns_the_scan_red_without_changing_the_grade(admin, client, clinic):
    response = admin.patch(f"/api/v1/institutions/{clinic['id']}", json={"status": "suspended"})
    assert response.status_code == 200, response.get_json()

    profile = scan(client, clinic)
    assert (profile["colour"], profile["institution"]["credit"]["grade"]) == ("red", "B")
    assert RED_HEX in _image(client, clinic)


# ---- the black-list decision --------------------------------------------------------------------

def test_a_black_list_decision_makes_the_grade_d_and_the_scan_and_the_image_red(supervisor, client, clinic,
                                                                               health_officer):
    assert scan(client, clinic)["colour"] == "green"
    assert GREEN_HEX in _image(client, clinic)

    response = black_decision(supervisor, clinic["id"], reason="伪造病历骗取医保基金")

    assert response.status_code == 201, response.get_json()
    entry = response.get_json()
    assert (entry["institution_id"], entry["list"]) == (clinic["id"], "black")
    assert "伪造病历骗取医保基金" in entry["reason"] and entry["listed_at"]
    found = credit(health_officer, clinic["id"])
    assert (found["grade"], found["points"], found["colour"]) == ("D", 0, "red")
    assert (found["supervision_mode"], found["risk_level"], found["lists"]) == ("stationed", "high", ["black"])
    profile = scan(client, clinic)
    assert profile["colour"] == "red"
    assert profile["institution"]["credit"] == {"grade": "D", "colour": "red", "supervision_mode": "stationed",
                                                "lists": ["black"], "graded_risk_level": None}
    image = _image(client, clinic)
    assert RED_HEX in image and GREEN_HEX not in image


def test_lifting_the_decision_restores_the_credit(supervisor, client, clinic, clinic_account, health_officer):
    _sign(clinic_account)
    assert credit(health_officer, clinic["id"])["grade"] == "A"
    assert black_decision(supervisor, clinic["id"]).status_code == 201
    assert credit(health_officer, clinic["id"])["grade"] == "D"

    response = lift(supervisor, clinic["id"], reason="已整改到位，撤销决定")

    assert response.status_code == 200, response.get_json()
    assert (response.get_json()["grade"], response.get_json()["lists"]) == ("A", [])
    found = credit(health_officer, clinic["id"])
    assert (found["grade"], found["colour"], found["supervision_mode"], found["lists"]) == (
        "A", "green", "commitment", [])
    profile = scan(client, clinic)
    assert (profile["colour"], profile["institution"]["credit"]["lists"]) == ("green", [])
    image = _image(client, clinic)
    assert GREEN_HEX in image and RED_HEX not in image


def test_lifting_the_decision_leaves_an_institution_with_twelve_points_on_the_black_list(
        supervisor, health_officer, clinic, session):
    final_violation(health_officer, session, clinic["id"], RULE_10)
    final_violation(health_officer, session, clinic["id"], RULE_2)
    assert black_decision(supervisor, clinic["id"]).status_code == 201

    assert lift(supervisor, clinic["id"]).status_code == 200

    found = credit(health_officer, clinic["id"])
    assert (found["grade"], found["lists"], found["colour"]) == ("D", ["black"], "red")


def test_a_second_black_list_decision_is_refused(supervisor, clinic, session):
    assert black_decision(supervisor, clinic["id"]).status_code == 201

    assert_error(black_decision(supervisor, clinic["id"], reason="再次决定"), 409, "INVALID_TRANSITION")
    assert session.scalar(select(func.count()).select_from(ListEntry).where(ListEntry.list == "black")) == 1


def test_lifting_without_a_decision_in_force_is_not_found(supervisor, clinic):
    assert_error(lift(supervisor, clinic["id"]), 404, "NOT_FOUND")


def test_a_black_list_decision_about_an_unknown_institution_is_not_found(supervisor):
    assert_error(black_decision(supervisor, 987_654), 404, "NOT_FOUND")


def test_an_officer_neither_decides_nor_lifts_a_black_listing(health_officer, supervisor, clinic):
    assert_error(black_decision(health_officer, clinic["id"]), 403, "FORBIDDEN")
    assert credit(health_officer, clinic["id"])["grade"] == "B"
    assert black_decision(supervisor, clinic["id"]).status_code == 201

    assert_error(lift(health_officer, clinic["id"]), 403, "FORBIDDEN")
    assert credit(health_officer, clinic["id"])["grade"] == "D"


# ---- history ------------------------------------------------------------------------------------

def test_history_rows_are_added_only_when_the_credit_changes(health_officer, supervisor, clinic, session):
    assert _history(health_officer, clinic["id"]) == []

    pending = recorded(health_officer, clinic["id"], RULE_6)
    assert _history(health_officer, clinic["id"]) == []  # a pending violation changes nothing yet

    end_window(session, pending["id"])
    history = _history(health_officer, clinic["id"])
    assert [(row["points"], row["grade"], row["risk"], row["lists"]) for row in history] == [(6, "C", "medium", [])]
    assert history[0]["cycle"] == today_shanghai().year and history[0]["computed_at"]
    assert _history(health_officer, clinic["id"]) == history  # reading again adds nothing

    service.refresh_institution_credit(session=session, institution=session.get(Institution, clinic["id"]))
    session.commit()
    assert _history(health_officer, clinic["id"]) == history  # recomputing unchanged inputs adds nothing

    assert black_decision(supervisor, clinic["id"]).status_code == 201
    history = _history(health_officer, clinic["id"])
    assert [(row["points"], row["grade"], row["lists"]) for row in history] == [(6, "D", ["black"]), (6, "C", [])]
    assert history[0]["reason"]


# ---- a commitment breach ------------------------------------------------------------------------

def test_a_commitment_breach_adds_an_ins_crd_01_violation_and_grade_a_is_lost(clinic, clinic_account, health_officer,
                                                                            session):
    signed = _sign(clinic_account)
    assert credit(health_officer, clinic["id"])["grade"] == "A"

    response = health_officer.post(f"/api/v1/commitments/{signed['id']}/breach", json={"reason": "虚假宣传"})

    assert response.status_code == 200, response.get_json()
    listed = health_officer.get(VIOLATIONS, query_string={"institution_id": clinic["id"]}).get_json()
    assert [(v["rule_code"], v["status"], v["points"]) for v in listed["items"]] == [("INS-CRD-01", "pending", 6)]
    found = credit(health_officer, clinic["id"])
    assert (found["grade"], found["points"], found["supervision_mode"]) == ("B", 0, "one_code")

    end_window(session, listed["items"][0]["id"])
    found = credit(health_officer, clinic["id"])
    assert (found["grade"], found["points"]) == ("C", 6)


def test_a_breach_costs_grade_a_for_the_year_even_when_its_points_are_cancelled(
        clinic, clinic_account, health_officer, supervisor):
    signed = _sign(clinic_account)
    health_officer.post(f"/api/v1/commitments/{signed['id']}/breach", json={"reason": "虚假宣传"})
    violation_id = health_officer.get(VIOLATIONS, query_string={"institution_id": clinic["id"]}).get_json()[
        "items"][0]["id"]
    assert clinic_account.post(f"{VIOLATIONS}/{violation_id}/objection", json={"reason": "未违诺"}).status_code == 200
    assert supervisor.post(f"{VIOLATIONS}/{violation_id}/decision",
                           json={"decision": "cancelled", "note": "撤销记分"}).status_code == 200
    _sign(clinic_account)  # a new commitment in force

    found = credit(health_officer, clinic["id"])

    assert (found["points"], found["grade"]) == (0, "B")


# ---- recomputing many institutions --------------------------------------------------------------

def _institutions(admin, serials) -> list[int]:
    return [new_institution(admin, serial)["id"] for serial in serials]


def _add_final_violations(session, institution_ids, rules=((RULE_10, 10), (RULE_2, 2))) -> None:
    """Violations written straight to the table (no per-institution recomputation), windows ended."""
    past = utcnow() - dt.timedelta(days=1)
    for institution_id in institution_ids:
        for code, points in rules:
            session.add(Violation(subject_type="institution", institution_id=institution_id, rule_code=code,
                                  rule_description="测试", points=points, occurred_on=today_shanghai(),
                                  public=True, status="pending", objection_due_at=past))
    session.commit()


def test_recompute_issues_the_same_number_of_statements_for_5_or_50_institutions(admin, session):
    few = _institutions(admin, range(1, 6))
    _add_final_violations(session, few)
    session.expire_all()
    with counting_statements() as for_few:
        changed_few = credit_module.recompute(session=session)
    session.commit()

    many = _institutions(admin, range(6, 51))
    _add_final_violations(session, many)
    session.expire_all()
    with counting_statements() as for_many:
        changed_many = credit_module.recompute(session=session)
    session.commit()

    assert (changed_few, changed_many) == (5, 45)
    assert len(for_few) == len(for_many), (for_few, for_many)
    assert len(for_many) <= 25
    stored = session.execute(select(Institution.credit_points, Institution.credit_grade, Institution.credit_lists)).all()
    assert len(stored) == 50
    assert {(points, grade, tuple(lists)) for points, grade, lists in stored} == {(12, "D", ("black",))}
    assert session.scalar(select(func.count()).select_from(CreditRecord)) == 50
    open_entries = select(ListEntry.list, func.count()).where(ListEntry.removed_at.is_(None)).group_by(ListEntry.list)
    assert dict(session.execute(open_entries).all()) == {"black": 50, "key": 50}  # black-listed: key supervision

    with counting_statements() as unchanged:
        assert credit_module.recompute(session=session) == 0
    assert len(unchanged) <= len(for_many)
    assert session.scalar(select(func.count()).select_from(CreditRecord)) == 50


@pytest.mark.parametrize(("later", "still_listed"), [
    (lambda listed: dt.datetime(listed.year + 1, 1, 2, 9, tzinfo=SHANGHAI), True),  # points lapse, the term runs
    (lambda listed: listed + dt.timedelta(days=366), False),  # the term has ended
])
def test_recompute_issues_the_same_number_of_statements_for_5_or_50_listings_at_the_new_cycle_or_the_terms_end(
        admin, session, later, still_listed):
    counts = []
    for serials in (range(1, 6), range(6, 56)):
        ids = _institutions(admin, serials)
        _add_final_violations(session, ids)
        credit_module.recompute(session=session, institution_ids=ids)
        session.commit()
        session.expire_all()
        when = later(dt.datetime.now(SHANGHAI))

        with counting_statements() as statements:
            changed = credit_module.recompute(session=session, institution_ids=ids, today=when.date(),
                                              now=when.astimezone(dt.UTC))
        session.commit()
        assert changed == len(ids)  # 0 points in the new cycle either way
        open_black = session.scalar(select(func.count()).select_from(ListEntry).where(
            ListEntry.institution_id.in_(ids), ListEntry.list == "black", ListEntry.removed_at.is_(None)))
        assert open_black == (len(ids) if still_listed else 0)
        counts.append(len(statements))

    assert counts[0] == counts[1], counts

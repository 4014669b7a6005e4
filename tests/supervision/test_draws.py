"""Random inspection draws (双随机): reproducible from the published seed and inputs, per-grade ratios,
high-priority leads always drawn, inspectors drawn from the department's officers skipping declared
conflicts; and the declaration of conflicts (回避)."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import pytest
from sqlalchemy import func, select

from api.database import today_shanghai
from selfcheck import commitments
from supervision import draws
from supervision.models import InspectionDraw
from tests.api.helpers import assert_error
from tests.complaints.helpers import assert_validation_error
from tests.complaints.workflow_helpers import submit
from tests.supervision.helpers import DRAWS, black_decision, counting_statements, credit, new_institution

ALL = {"A": 1.0, "B": 1.0, "C": 1.0, "D": 1.0}
NONE = {"A": 0.0, "B": 0.0, "C": 0.0, "D": 0.0}
NO_GRADED = {"low": 0.0, "medium": 0.0, "high": 0.0}  # cosmetic and dental go by these, not by grade
ALL_GRADED = {"low": 1.0, "medium": 1.0, "high": 1.0}
SEEDS = ["s", "t", "u", "v", "w", "x", "y", "z"]


def _draw(persona, ratios=None, inspectors_per_target=1, department="health", **extra):
    """A single department's draw, or a joint one when `departments` is given."""
    body = {"ratios": ratios or ALL, "inspectors_per_target": inspectors_per_target, **extra}
    if "departments" not in extra:
        body["department"] = department
    return persona.post(DRAWS, json=body)


def _drawn(persona, ratios=None, inspectors_per_target=1, **extra) -> dict:
    response = _draw(persona, ratios, inspectors_per_target, **extra)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _published(client, draw_id) -> dict:
    response = client.get(f"{DRAWS}/{draw_id}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _count(session) -> int:
    return session.scalar(select(func.count()).select_from(InspectionDraw))


def _conflict(persona, account_id, **body):
    return persona.post(f"/api/v1/inspectors/{account_id}/conflicts", json=body)


def _by_institution(draw) -> dict[int, dict]:
    return {target["institution_id"]: target for target in draw["targets"]}


@pytest.fixture
def officers(login) -> list:
    return [login("officer", department="health") for _ in range(3)]


@pytest.fixture
def directory(admin, clinic) -> list[dict]:
    """Twelve institutions (grade B), on two streets."""
    others = [new_institution(admin, serial, street="山大路街道" if serial % 2 else "洪家楼街道")
              for serial in range(2, 13)]
    return [clinic, *others]


# ---- reproducibility ----------------------------------------------------------------------------

def test_the_same_seed_over_the_same_directory_gives_the_same_targets(supervisor, officers, directory):
    ratios = {"A": 0.05, "B": 0.5, "C": 0.3, "D": 1.0}

    first = _drawn(supervisor, ratios, 2, seed="s")
    second = _drawn(supervisor, ratios, 2, seed="s")

    assert first["id"] != second["id"]
    assert (first["seed"], second["seed"]) == ("s", "s")
    assert len(first["targets"]) == 6  # half of 12, rounded up
    assert first["targets"] == second["targets"]


def test_another_seed_gives_another_draw(supervisor, officers, directory):
    ratios = {"A": 0.05, "B": 0.5, "C": 0.3, "D": 1.0}
    results = [_drawn(supervisor, ratios, 2, seed=seed)["targets"] for seed in SEEDS[:4]]

    assert any(result != results[0] for result in results[1:])


def test_the_published_draw_is_re_run_from_its_inputs_to_the_same_targets(client, supervisor, officers, directory):
    drawn = _drawn(supervisor, {"A": 0.05, "B": 0.4, "C": 0.3, "D": 1.0}, 2, seed="s")

    published = _published(client, drawn["id"])

    assert (published["seed"], published["targets"], published["algorithm"]) == ("s", drawn["targets"],
                                                                                 draws.ALGORITHM)
    inputs = json.loads(json.dumps(published["inputs"]))
    assert inputs["seed"] == "s"
    assert sorted(i for i, _, _ in inputs["institutions"]) == sorted(i["id"] for i in directory)
    assert sorted(inputs["inspectors"]) == sorted(o.account.id for o in officers)
    assert draws.run(inputs) == draws.drawn_part(drawn["targets"])


def test_a_draw_without_a_seed_gets_one_and_publishes_it(client, supervisor, officers, directory):
    drawn = _drawn(supervisor, {"A": 0.05, "B": 0.4, "C": 0.3, "D": 1.0})

    assert drawn["seed"]
    published = _published(client, drawn["id"])
    assert published["inputs"]["seed"] == drawn["seed"]
    assert draws.run(published["inputs"]) == draws.drawn_part(drawn["targets"])


def test_draws_never_touch_the_global_random_state(supervisor, officers, directory, client):
    random.seed(1)
    expected = [random.random() for _ in range(3)]

    random.seed(1)
    drawn = _drawn(supervisor, {"A": 0.05, "B": 0.5, "C": 0.3, "D": 1.0}, 2, seed="s")
    after_draw = [random.random() for _ in range(3)]

    random.seed(1)
    draws.run(_published(client, drawn["id"])["inputs"])
    after_run = [random.random() for _ in range(3)]

    assert after_draw == expected
    assert after_run == expected


def test_the_global_random_state_does_not_change_a_draw(supervisor, officers, directory):
    random.seed(1)
    first = _drawn(supervisor, {"A": 0.05, "B": 0.5, "C": 0.3, "D": 1.0}, 2, seed="s")
    random.seed(2)
    second = _drawn(supervisor, {"A": 0.05, "B": 0.5, "C": 0.3, "D": 1.0}, 2, seed="s")

    assert first["targets"] == second["targets"]


# ---- what is drawn ------------------------------------------------------------------------------

def test_a_ratio_of_one_for_d_takes_every_d_institution_and_nothing_else(supervisor, officers, directory):
    grade_d = [directory[1]["id"], directory[4]["id"], directory[7]["id"]]
    for institution_id in grade_d:
        assert black_decision(supervisor, institution_id).status_code == 201

    drawn = _drawn(supervisor, {"A": 0.0, "B": 0.0, "C": 0.0, "D": 1.0}, seed="s")

    assert [(t["institution_id"], t["reason"]) for t in drawn["targets"]] == [(i, "random:D") for i in sorted(grade_d)]


def test_a_ratio_is_taken_of_each_grade_rounding_up(supervisor, officers, directory):
    grade_d = [directory[0]["id"], directory[1]["id"]]
    for institution_id in grade_d:
        assert black_decision(supervisor, institution_id).status_code == 201

    drawn = _drawn(supervisor, {"A": 0.0, "B": 0.25, "C": 0.0, "D": 0.5}, seed="s")

    reasons = [t["reason"] for t in drawn["targets"]]
    assert sorted(reasons) == ["random:B"] * 3 + ["random:D"]  # ceil(0.25 × 10), ceil(0.5 × 2)
    drawn_d = [t["institution_id"] for t in drawn["targets"] if t["reason"] == "random:D"]
    assert set(drawn_d) <= set(grade_d)


def test_ratios_of_zero_draw_nothing(supervisor, officers, directory):
    assert _drawn(supervisor, NONE, seed="s")["targets"] == []


def test_an_institution_with_an_open_high_priority_lead_is_always_drawn(client, supervisor, officers, directory):
    flagged = directory[5]
    submit(client, {"institution_id": flagged["id"]}, category="illegal_practice")  # a lead scored 40
    for _ in range(3):  # a normal-priority lead (30) elsewhere
        submit(client, {"institution_id": directory[6]["id"]})

    for seed in SEEDS[:3]:
        drawn = _drawn(supervisor, NONE, seed=seed)
        assert [(t["institution_id"], t["reason"]) for t in drawn["targets"]] == [(flagged["id"], "lead")]

    drawn = _drawn(supervisor, {"A": 0.0, "B": 0.1, "C": 0.0, "D": 0.0}, seed="s")
    assert flagged["id"] in _by_institution(drawn)


# ---- inspectors and conflicts -------------------------------------------------------------------

def test_each_target_gets_the_asked_number_of_distinct_department_officers(supervisor, officers, directory,
                                                                           market_officer):
    drawn = _drawn(supervisor, ALL, 2, seed="s")

    ids = {o.account.id for o in officers}
    assert len(drawn["targets"]) == len(directory)
    for target in drawn["targets"]:
        assert len(set(target["inspector_ids"])) == 2
        assert set(target["inspector_ids"]) <= ids
        assert supervisor.account.id not in target["inspector_ids"]


def test_an_inspector_who_declared_an_institution_is_never_drawn_for_it(supervisor, officers, directory, clinic):
    conflicted = officers[0]
    assert _conflict(conflicted, conflicted.account.id, institution_id=clinic["id"]).status_code == 201
    others = sorted(o.account.id for o in officers[1:])

    for seed in SEEDS:
        drawn = _drawn(supervisor, ALL, 2, seed=seed)
        assert _by_institution(drawn)[clinic["id"]]["inspector_ids"] == others


def test_an_inspector_who_declared_a_street_is_never_drawn_for_an_institution_there(supervisor, officers,
                                                                                    directory):
    conflicted = officers[0]
    assert _conflict(supervisor, conflicted.account.id, street="山大路街道").status_code == 201
    streets = {i["id"]: i["street"] for i in directory}
    assert set(streets.values()) == {"山大路街道", "洪家楼街道"}

    assigned_elsewhere = 0
    for seed in SEEDS:
        drawn = _drawn(supervisor, ALL, 1, seed=seed)
        for target in drawn["targets"]:
            if conflicted.account.id in target["inspector_ids"]:
                assert streets[target["institution_id"]] != "山大路街道", (seed, target)
                assigned_elsewhere += 1
    assert assigned_elsewhere > 0  # the inspector is still drawn for the other street


def test_too_few_inspectors_for_the_asked_number_is_refused(supervisor, officers, directory, session):
    response = _draw(supervisor, ALL, 4, seed="s")

    assert "inspectors_per_target" in assert_error(response, 422, "VALIDATION_FAILED")["fields"]
    assert _count(session) == 0


def test_too_few_inspectors_left_after_conflicts_is_refused(supervisor, officers, directory, clinic, session):
    for officer in officers[:2]:
        assert _conflict(officer, officer.account.id, institution_id=clinic["id"]).status_code == 201

    response = _draw(supervisor, ALL, 2, seed="s")

    body = assert_error(response, 422, "VALIDATION_FAILED")
    assert "inspectors_per_target" in body["fields"]
    assert str(clinic["id"]) in " ".join(body["fields"]["inspectors_per_target"]) + body["message"]
    assert _count(session) == 0
    assert _draw(supervisor, ALL, 1, seed="s").status_code == 201  # one left is enough for one


def test_a_department_without_officers_cannot_draw(login, officers, directory, session):
    market_supervisor = login("supervisor", department="market")

    response = _draw(market_supervisor, ALL, 1, department="market", seed="s")

    assert "department" in assert_error(response, 422, "VALIDATION_FAILED")["fields"]
    assert _count(session) == 0


def test_inactive_officers_are_not_inspectors(supervisor, officers, directory, session):
    from api.models import Account

    for officer in officers[1:]:
        session.get(Account, officer.account.id).active = False
    session.commit()

    drawn = _drawn(supervisor, ALL, 1, seed="s")

    assert {i for t in drawn["targets"] for i in t["inspector_ids"]} == {officers[0].account.id}
    assert_error(_draw(supervisor, ALL, 2, seed="s"), 422, "VALIDATION_FAILED")


# ---- who draws, and what is accepted -------------------------------------------------------------

@pytest.mark.parametrize("ratios", [
    {"A": -0.1, "B": 0.1, "C": 0.3, "D": 1.0},
    {"A": 0.05, "B": 1.5, "C": 0.3, "D": 1.0},
    {"A": 0.05, "B": 0.1, "C": 0.3},
    {"A": 0.05, "B": 0.1, "C": 0.3, "D": 1.0, "E": 0.5},
])
def test_ratios_outside_zero_to_one_or_not_per_grade_are_refused(supervisor, officers, directory, session, ratios):
    assert_error(_draw(supervisor, ratios, seed="s"), 422, "VALIDATION_FAILED")
    assert _count(session) == 0


def test_an_officer_cannot_draw(officers, directory, session):
    assert_error(_draw(officers[0], ALL, seed="s"), 403, "FORBIDDEN")
    assert _count(session) == 0


def test_a_supervisor_draws_only_for_their_own_department(login, officers, directory, session, market_officer):
    market_supervisor = login("supervisor", department="market")

    response = _draw(market_supervisor, ALL, 1, department="health", seed="s")

    assert "department" in assert_error(response, 422, "VALIDATION_FAILED")["fields"]
    assert _count(session) == 0


def test_an_admin_draws_for_any_department(admin, officers, directory):
    assert _drawn(admin, NONE, seed="s")["targets"] == []


def test_a_published_draw_is_public(client, supervisor, officers, directory):
    drawn = _drawn(supervisor, ALL, 1, seed="s")

    published = _published(client, drawn["id"])

    assert published["id"] == drawn["id"] and published["inputs"]
    listed = client.get(DRAWS).get_json()
    assert [item["id"] for item in listed["items"]] == [drawn["id"]]


def test_an_unknown_draw_is_not_found(client):
    assert_error(client.get(f"{DRAWS}/987654"), 404, "NOT_FOUND")


def test_drawing_needs_a_login(client, officers, directory):
    response = client.post(DRAWS, json={"department": "health", "ratios": ALL, "inspectors_per_target": 1})

    assert_error(response, 401, "UNAUTHORIZED")


# ---- declaring conflicts ------------------------------------------------------------------------

def test_an_officer_declares_and_lists_its_own_conflicts(officers, clinic):
    officer = officers[0]

    by_institution = _conflict(officer, officer.account.id, institution_id=clinic["id"])
    by_street = _conflict(officer, officer.account.id, street="洪家楼街道")

    assert by_institution.status_code == 201, by_institution.get_json()
    assert by_street.status_code == 201, by_street.get_json()
    listed = officer.get(f"/api/v1/inspectors/{officer.account.id}/conflicts").get_json()
    assert [(c["account_id"], c["institution_id"], c["street"]) for c in listed] == [
        (officer.account.id, clinic["id"], None), (officer.account.id, None, "洪家楼街道")]


def test_a_supervisor_of_the_officers_department_declares_for_it(supervisor, officers, clinic):
    response = _conflict(supervisor, officers[0].account.id, institution_id=clinic["id"])

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["account_id"] == officers[0].account.id


@pytest.mark.parametrize("who", ["another officer", "another department's officer", "another department's supervisor"])
def test_nobody_else_declares_or_reads_an_officers_conflicts(login, officers, clinic, who):
    persona = {
        "another officer": lambda: officers[1],
        "another department's officer": lambda: login("officer", department="market"),
        "another department's supervisor": lambda: login("supervisor", department="market"),
    }[who]()
    path = f"/api/v1/inspectors/{officers[0].account.id}/conflicts"

    assert_error(_conflict(persona, officers[0].account.id, institution_id=clinic["id"]), 404, "NOT_FOUND")
    assert_error(persona.get(path), 404, "NOT_FOUND")
    assert officers[0].get(path).get_json() == []


def test_an_institution_account_may_not_use_the_inspectors_endpoints_at_all(login, officers, clinic):
    institution = login("institution", institution_id=clinic["id"])

    assert_error(_conflict(institution, officers[0].account.id, institution_id=clinic["id"]), 403, "FORBIDDEN")
    assert_error(institution.get(f"/api/v1/inspectors/{officers[0].account.id}/conflicts"), 403, "FORBIDDEN")


@pytest.mark.parametrize("caller", ["market officer", "market supervisor", "health officer"])
def test_every_inspector_the_caller_may_not_act_for_answers_like_an_unknown_id(login, officers, clinic, caller):
    """Whether an id is another department's officer, an officer of one's own department, an
    institution's account, a supervisor or nobody, the caller learns nothing: one answer for all."""
    role, department = caller.split()[1], {"market": "market", "health": "health"}[caller.split()[0]]
    persona = login(role, department=department)
    others = {
        "health officer": officers[0].account.id,
        "market officer": login("officer", department="market").account.id,
        "institution account": login("institution", institution_id=clinic["id"]).account.id,
        "health supervisor": login("supervisor", department="health").account.id,
        "unknown id": 987_654,
    }
    if caller == "market supervisor":
        del others["market officer"]  # its own officer: it may

    answers = {}
    for name, account_id in others.items():
        read = persona.get(f"/api/v1/inspectors/{account_id}/conflicts")
        declared = _conflict(persona, account_id, institution_id=clinic["id"])
        answers[name] = [(r.status_code, json.dumps(r.get_json(), sort_keys=True)) for r in (read, declared)]

    assert_error(persona.get("/api/v1/inspectors/987654/conflicts"), 404, "NOT_FOUND")
    assert all(answer == answers["unknown id"] for answer in answers.values()), answers


@pytest.mark.parametrize("kind", ["neither", "both null", "both"])
def test_a_conflict_names_either_an_institution_or_a_street(officers, clinic, kind):
    body = {"neither": {}, "both null": {"institution_id": None, "street": None},
            "both": {"institution_id": clinic["id"], "street": "洪家楼街道"}}[kind]

    assert_error(_conflict(officers[0], officers[0].account.id, **body), 422, "VALIDATION_FAILED")
    assert officers[0].get(f"/api/v1/inspectors/{officers[0].account.id}/conflicts").get_json() == []


def test_a_conflict_declared_twice_is_a_conflict(officers, clinic):
    assert _conflict(officers[0], officers[0].account.id, street="洪家楼街道").status_code == 201

    assert_error(_conflict(officers[0], officers[0].account.id, street="洪家楼街道"), 409, "CONFLICT")


def test_a_conflict_with_an_unknown_institution_is_refused(officers):
    assert_error(_conflict(officers[0], officers[0].account.id, institution_id=987_654), 422, "VALIDATION_FAILED")


def test_conflicts_of_someone_who_is_not_an_officer_are_not_found(supervisor, admin):
    assert_error(_conflict(admin, supervisor.account.id, street="洪家楼街道"), 404, "NOT_FOUND")


# ---- key sectors in full (Licheng: "在医疗美容机构、中医备案诊所、口腔医疗机构等重点行业做到执法检查全覆盖") -----

def _inspected(persona, institution_id, on) -> None:
    response = persona.post("/api/v1/inspections", json={"institution_id": institution_id, "inspected_on": str(on),
                                                         "result": "pass", "summary": "现场检查", "public": True})
    assert response.status_code == 201, response.get_json()


def _signed(login, institution) -> None:
    """Grade A: a commitment in force and no points."""
    text = commitments.current_text()
    response = login("institution", institution_id=institution["id"]).post(
        "/api/v1/commitments", json={"version": text["version"], "signer_name": "王某", "signer_title": "法定代表人",
                                     "agree": True})
    assert response.status_code == 201, response.get_json()


@pytest.fixture
def key_sector(admin, login, directory) -> dict[str, dict]:
    """One institution of each key category besides the twelve clinics (grade B); the dental one grade A."""
    found = {category: new_institution(admin, serial, category=category, name=f"重点行业{serial}")
             for serial, category in ((20, "cosmetic"), (21, "tcm_clinic"), (22, "dental"))}
    _signed(login, found["dental"])
    return found


def test_every_key_sector_institution_not_inspected_this_year_is_drawn_whatever_its_grade(
        supervisor, health_officer, officers, key_sector, directory, session):
    assert credit(health_officer, key_sector["dental"]["id"])["grade"] == "A"

    drawn = _drawn(supervisor, NONE, seed="s", graded_ratios=NO_GRADED)

    assert [(t["institution_id"], t["reason"]) for t in drawn["targets"]] == [
        (institution["id"], "key_sector") for institution in key_sector.values()]
    assert drawn["inputs"]["key_sector_institutions"] == [i["id"] for i in key_sector.values()]
    assert (drawn["inputs"]["key_categories"], drawn["inputs"]["year"]) == (
        ["cosmetic", "tcm_clinic", "dental"], today_shanghai().year)


def test_a_key_sector_institution_inspected_by_this_department_this_year_is_not_forced_in(
        supervisor, health_officer, officers, key_sector):
    _inspected(health_officer, key_sector["cosmetic"]["id"], today_shanghai())

    drawn = _drawn(supervisor, NONE, seed="s", graded_ratios=NO_GRADED)

    assert sorted(_by_institution(drawn)) == [key_sector["tcm_clinic"]["id"], key_sector["dental"]["id"]]


def test_an_inspection_by_another_department_or_last_year_does_not_count(
        supervisor, health_officer, market_officer, officers, key_sector):
    _inspected(market_officer, key_sector["cosmetic"]["id"], today_shanghai())
    _inspected(health_officer, key_sector["dental"]["id"], dt.date(today_shanghai().year - 1, 12, 31))

    drawn = _drawn(supervisor, NONE, seed="s", graded_ratios=NO_GRADED)

    assert {t["institution_id"]: t["reason"] for t in drawn["targets"]} == {
        institution["id"]: "key_sector" for institution in key_sector.values()}


def test_an_inactive_key_sector_institution_is_not_drawn(admin, supervisor, officers, key_sector):
    response = admin.patch(f"/api/v1/institutions/{key_sector['tcm_clinic']['id']}", json={"status": "closed"})
    assert response.status_code == 200, response.get_json()

    drawn = _drawn(supervisor, NONE, seed="s", graded_ratios=NO_GRADED)

    assert key_sector["tcm_clinic"]["id"] not in _by_institution(drawn)


def test_a_key_sector_institution_drawn_at_random_keeps_its_random_reason(supervisor, officers, key_sector,
                                                                          directory):
    drawn = _drawn(supervisor, ALL, seed="s", graded_ratios=ALL_GRADED)

    reasons = {t["institution_id"]: t["reason"] for t in drawn["targets"]}
    assert reasons[key_sector["cosmetic"]["id"]] == "random:graded-low"  # sampled by level, not grade
    assert reasons[key_sector["dental"]["id"]] == "random:graded-low"
    assert reasons[key_sector["tcm_clinic"]["id"]] == "random:B"
    assert len(reasons) == len(directory) + 3


def test_a_draw_with_key_sector_targets_is_re_run_from_its_published_inputs(client, supervisor, officers,
                                                                            key_sector, directory):
    drawn = _drawn(supervisor, {"A": 0.0, "B": 0.3, "C": 0.3, "D": 1.0}, 2, seed="t")

    published = _published(client, drawn["id"])

    assert published["algorithm"] == draws.ALGORITHM == "onecode-draw-v3"
    assert {i["id"] for i in key_sector.values()} <= set(_by_institution(drawn))
    assert draws.run(json.loads(json.dumps(published["inputs"]))) == draws.drawn_part(drawn["targets"])


def test_the_inputs_of_a_draw_made_before_key_sectors_re_run_as_they_did(client, supervisor, officers, key_sector,
                                                                        directory):
    drawn = _drawn(supervisor, {"A": 0.0, "B": 0.3, "C": 0.3, "D": 1.0}, 2, seed="t")
    inputs = dict(_published(client, drawn["id"])["inputs"])
    for key in ("key_sector_institutions", "graded_institutions", "graded_ratios"):
        del inputs[key]  # as stored by onecode-draw-v1

    targets = draws.run(inputs)

    assert {t["reason"] for t in targets} <= {"random:A", "random:B", "random:C", "random:D", "lead"}
    assert targets == draws.run(inputs)


@pytest.mark.parametrize("who", ["market supervisor", "institution", "citizen"])
def test_nobody_but_the_departments_supervisor_draws_its_key_sectors(login, officers, key_sector, session, who):
    persona = {"market supervisor": lambda: login("supervisor", department="market"),
               "institution": lambda: login("institution", institution_id=key_sector["dental"]["id"]),
               "citizen": lambda: login("citizen")}[who]()

    response = _draw(persona, NONE, seed="s")

    if who == "market supervisor":
        assert_error(response, 422, "VALIDATION_FAILED")
    else:
        assert_error(response, 403, "FORBIDDEN")
    assert _count(session) == 0


# ---- cosmetic and dental by quantified risk level (issue 17, correction 4) ------------------------

def _inspected_with(officer, institution, result: str) -> None:
    response = officer.post("/api/v1/inspections", json={
        "institution_id": institution["id"], "inspected_on": str(today_shanghai()), "result": result,
        "summary": "现场检查", "public": True})
    assert response.status_code == 201, response.get_json()


@pytest.fixture
def graded_pair(admin, officers, directory) -> dict[str, dict]:
    """A dental clinic found wanting this year (quantified risk medium) and a cosmetic one found sound
    (low): both inspected by health this year, so no longer key-sector targets of its draws."""
    pair = {"medium": new_institution(admin, 30, category="dental"), "low": new_institution(admin, 31, category="cosmetic")}
    _inspected_with(officers[0], pair["medium"], "rectify")
    _inspected_with(officers[0], pair["low"], "pass")
    return pair


def test_graded_institutions_are_sampled_by_their_risk_level_not_their_grade(supervisor, officers, graded_pair,
                                                                           health_officer):
    assert credit(health_officer, graded_pair["medium"]["id"])["graded_risk_level"] == "medium"

    drawn = _drawn(supervisor, ALL, seed="s", graded_ratios={"low": 0.0, "medium": 1.0, "high": 1.0})

    reasons = {t["institution_id"]: t["reason"] for t in drawn["targets"]}
    assert reasons[graded_pair["medium"]["id"]] == "random:graded-medium"
    assert graded_pair["low"]["id"] not in reasons  # grade B at ratio 1, but its level's ratio is 0
    assert drawn["inputs"]["graded_ratios"] == {"low": 0.0, "medium": 1.0, "high": 1.0}
    assert sorted(drawn["inputs"]["graded_institutions"]) == sorted(
        [[graded_pair["medium"]["id"], "medium"], [graded_pair["low"]["id"], "low"]])


def test_graded_ratios_default_to_the_policy_and_re_run_from_the_published_inputs(client, supervisor, officers,
                                                                                  graded_pair):
    drawn = _drawn(supervisor, NONE, seed="t")

    assert drawn["inputs"]["graded_ratios"] == {"low": 0.1, "medium": 0.3, "high": 1.0}  # policy v1
    assert drawn["algorithm"] == "onecode-draw-v3"
    published = _published(client, drawn["id"])
    assert draws.run(published["inputs"]) == draws.drawn_part(drawn["targets"])


def test_graded_ratios_that_fall_as_the_risk_rises_are_refused(supervisor, officers, graded_pair, session):
    before = _count(session)

    response = _draw(supervisor, ALL, graded_ratios={"low": 0.5, "medium": 0.2})

    assert_validation_error(response, "graded_ratios")
    assert _count(session) == before


# ---- stored draws re-run to their stored targets, whatever the version ------------------------------

VECTORS = json.loads((Path(__file__).parent / "draw_vectors.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("version", sorted(VECTORS))
def test_stored_inputs_of_every_version_re_run_to_their_stored_targets(version):
    """v1–v3 vectors were made by the code before joint draws (commit 5099651), v4 when it was written:
    a change that altered any stored draw's result fails here."""
    assert draws.run(VECTORS[version]["inputs"]) == VECTORS[version]["targets"]


# ---- joint draws (issue 18): a team with inspectors of every department ----------------------------

@pytest.fixture
def market_officers(login) -> list:
    return [login("officer", department="market") for _ in range(2)]


@pytest.fixture
def market_supervisor(login):
    return login("supervisor", department="market")


def _team(target) -> dict[str, list[int]]:
    team: dict[str, list[int]] = {}
    for member in target["inspectors"]:
        team.setdefault(member["department"], []).append(member["account_id"])
    return team


def _plan(persona, **overrides) -> dict:
    body = {"year": today_shanghai().year, "name": "联合检查计划", "departments": ["health", "market"],
            "items": [{"department": "health", "code": "H-01", "text": "执业许可"},
                      {"department": "market", "code": "M-01", "text": "明码标价"}],
            "due_on": f"{today_shanghai().year}-12-31", **overrides}
    response = persona.post("/api/v1/inspection-plans", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_a_joint_draw_gives_every_target_inspectors_of_every_department(supervisor, officers, market_officers,
                                                                        directory):
    drawn = _drawn(supervisor, ALL, 1, seed="s", departments=["health", "market"])

    health = {o.account.id for o in officers}
    market = {o.account.id for o in market_officers}
    assert drawn["algorithm"] == draws.JOINT_ALGORITHM == "onecode-draw-v4"
    assert (drawn["departments"], drawn["department"], drawn["plan_id"]) == (["health", "market"], "health", None)
    assert len(drawn["targets"]) == len(directory)
    for target in drawn["targets"]:
        team = _team(target)
        assert list(team) == ["health", "market"]
        assert len(team["health"]) == 1 and set(team["health"]) <= health
        assert len(team["market"]) == 1 and set(team["market"]) <= market
        assert target["inspector_ids"] == sorted(team["health"] + team["market"])
        assert (target["status"], target["inspection_id"]) == ("pending", None)


def test_inspectors_per_target_counts_per_department_in_a_joint_draw(supervisor, officers, market_officers,
                                                                     directory):
    drawn = _drawn(supervisor, ALL, 2, seed="s", departments=["health", "market"])

    for target in drawn["targets"]:
        assert {department: len(ids) for department, ids in _team(target).items()} == {"health": 2, "market": 2}
        assert len(set(target["inspector_ids"])) == 4


def test_the_order_of_the_departments_asked_does_not_change_a_joint_draw(supervisor, officers, market_officers,
                                                                         directory):
    first = _drawn(supervisor, {"A": 0, "B": 0.5, "C": 0, "D": 1}, 1, seed="s", departments=["health", "market"])
    second = _drawn(supervisor, {"A": 0, "B": 0.5, "C": 0, "D": 1}, 1, seed="s", departments=["market", "health"])

    assert first["targets"] == second["targets"]
    assert second["inputs"]["departments"] == ["health", "market"]


def test_a_supervisor_of_either_department_and_an_admin_may_draw_jointly(market_supervisor, admin, officers,
                                                                         market_officers, directory):
    by_market = _drawn(market_supervisor, NONE, 1, seed="s", departments=["health", "market"])
    by_admin = _drawn(admin, NONE, 1, seed="s", departments=["health", "market"])

    assert by_market["department"] == "market"  # who drew
    assert by_admin["department"] == "health"  # the first: the lead
    assert by_market["targets"] == by_admin["targets"]


def test_a_supervisor_of_none_of_the_departments_cannot_draw_jointly(login, officers, market_officers, directory,
                                                                     session):
    login("officer", department="ecology")
    ecology_supervisor = login("supervisor", department="ecology")

    response = _draw(ecology_supervisor, ALL, 1, seed="s", departments=["health", "market"])

    assert_error(response, 403, "FORBIDDEN")  # as plans, findings and legal review answer it
    assert _count(session) == 0


@pytest.mark.parametrize("who", ["health officer", "institution", "citizen"])
def test_an_officer_an_institution_or_a_citizen_cannot_draw_jointly(login, officers, market_officers, clinic,
                                                                    session, who):
    persona = {"health officer": lambda: officers[0],
               "institution": lambda: login("institution", institution_id=clinic["id"]),
               "citizen": lambda: login("citizen")}[who]()

    assert_error(_draw(persona, ALL, 1, seed="s", departments=["health", "market"]), 403, "FORBIDDEN")
    assert _count(session) == 0


def test_a_department_without_officers_is_named(supervisor, officers, market_officers, directory, session):
    response = _draw(supervisor, ALL, 1, seed="s", departments=["health", "market", "ecology"])

    body = assert_error(response, 422, "VALIDATION_FAILED")
    assert list(body["fields"]) == ["departments.ecology"]
    assert "ecology" in body["message"] and "生态环境局" in body["message"]
    assert _count(session) == 0


def test_a_department_with_fewer_officers_than_asked_is_named(supervisor, officers, market_officers, directory,
                                                              session):
    response = _draw(supervisor, ALL, 3, seed="s", departments=["health", "market"])  # market has two

    body = assert_error(response, 422, "VALIDATION_FAILED")
    assert list(body["fields"]) == ["departments.market"] and "market" in body["message"]
    assert _count(session) == 0


def test_too_few_of_a_department_left_after_conflicts_names_the_department_and_the_target(
        supervisor, officers, market_officers, directory, clinic, session):
    for officer in market_officers:
        assert _conflict(officer, officer.account.id, institution_id=clinic["id"]).status_code == 201

    body = assert_error(_draw(supervisor, ALL, 1, seed="s", departments=["health", "market"]), 422,
                        "VALIDATION_FAILED")

    assert list(body["fields"]) == ["departments.market"]
    assert str(clinic["id"]) in body["fields"]["departments.market"][0]
    assert "market" in body["message"] and str(clinic["id"]) in body["message"]
    assert _count(session) == 0


def test_a_conflicted_inspector_is_never_on_a_joint_team_for_that_institution(supervisor, officers,
                                                                              market_officers, directory, clinic):
    conflicted = market_officers[0]
    assert _conflict(conflicted, conflicted.account.id, institution_id=clinic["id"]).status_code == 201

    for seed in SEEDS[:4]:
        drawn = _drawn(supervisor, ALL, 1, seed=seed, departments=["health", "market"])
        assert _team(_by_institution(drawn)[clinic["id"]])["market"] == [market_officers[1].account.id]


@pytest.mark.parametrize("body", [
    {"department": "health", "departments": ["health", "market"]},
    {},
    {"departments": ["health"]},
    {"departments": ["health", "health"]},
    {"departments": ["health", "forestry"]},
])
def test_exactly_one_department_or_two_or_more_departments_are_asked(supervisor, officers, market_officers,
                                                                     directory, session, body):
    response = supervisor.post(DRAWS, json={"ratios": ALL, "inspectors_per_target": 1, **body})

    fields = assert_error(response, 422, "VALIDATION_FAILED")["fields"]
    assert [name.split(".")[0] for name in fields] == ["departments"]
    assert _count(session) == 0


def test_an_unknown_plan_is_refused(supervisor, officers, market_officers, directory, session):
    response = _draw(supervisor, ALL, 1, seed="s", departments=["health", "market"], plan_id=987_654)

    assert list(assert_error(response, 422, "VALIDATION_FAILED")["fields"]) == ["plan_id"]
    assert _count(session) == 0


def test_a_department_not_on_the_plan_is_refused(login, supervisor, officers, market_officers, directory, session):
    login("officer", department="ecology")
    plan = _plan(supervisor)

    response = _draw(supervisor, ALL, 1, seed="s", departments=["health", "ecology"], plan_id=plan["id"])

    body = assert_error(response, 422, "VALIDATION_FAILED")
    assert "ecology" in body["fields"]["departments"][0]
    assert _count(session) == 0


def test_a_plans_draw_lists_only_the_plans_institutions(admin, supervisor, officers, market_officers, directory):
    cosmetic = new_institution(admin, 50, category="cosmetic", street="洪家楼街道")
    dental = new_institution(admin, 51, category="dental", street="山大路街道")
    plan = _plan(supervisor, categories=["cosmetic", "dental", "clinic"], streets=["洪家楼街道"])

    drawn = _drawn(supervisor, ALL, 1, seed="s", departments=["health", "market"], plan_id=plan["id"],
                   graded_ratios=ALL_GRADED)

    in_scope = sorted([cosmetic["id"]] + [i["id"] for i in directory if i["street"] == "洪家楼街道"])
    assert drawn["plan_id"] == plan["id"]
    assert sorted(i for i, _, _ in drawn["inputs"]["institutions"]) == in_scope
    assert sorted(_by_institution(drawn)) == in_scope
    assert dental["id"] not in _by_institution(drawn)
    assert drawn["inputs"]["scope"] == {"categories": ["cosmetic", "dental", "clinic"], "streets": ["洪家楼街道"]}
    single = _drawn(supervisor, ALL, 1, seed="s", plan_id=plan["id"], graded_ratios=ALL_GRADED)  # one department
    assert (single["algorithm"], sorted(_by_institution(single))) == (draws.ALGORITHM, in_scope)


# ---- key sectors in a joint draw, and joint records in a single department's ------------------------

def _joint_record(session, institution_id: int, departments: tuple[str, ...]) -> None:
    """A joint record of this year, as POST /inspections with departments (another branch's work) writes
    it: the lead's department on the record, every department in inspection_departments."""
    from supervision.models import Inspection, InspectionDepartment

    inspection = Inspection(institution_id=institution_id, inspected_on=today_shanghai(), result="pass",
                            summary="联合检查", department=departments[0])
    session.add(inspection)
    session.flush()
    session.add_all([InspectionDepartment(inspection_id=inspection.id, department=d) for d in departments])
    session.commit()


def test_a_key_sector_institution_stays_in_a_joint_draw_until_every_department_inspected_it(
        supervisor, health_officer, officers, market_officers, key_sector, session):
    _inspected(health_officer, key_sector["cosmetic"]["id"], today_shanghai())  # health alone
    _joint_record(session, key_sector["dental"]["id"], ("health", "market"))  # both, on one record
    _inspected(health_officer, key_sector["tcm_clinic"]["id"], today_shanghai())
    _joint_record(session, key_sector["tcm_clinic"]["id"], ("market",))  # both, on two records

    drawn = _drawn(supervisor, NONE, 1, seed="s", graded_ratios=NO_GRADED, departments=["health", "market"])

    assert drawn["inputs"]["key_sector_institutions"] == [key_sector["cosmetic"]["id"]]
    assert [(t["institution_id"], t["reason"]) for t in drawn["targets"]] == [(key_sector["cosmetic"]["id"],
                                                                               "key_sector")]


def test_a_single_departments_draw_counts_a_joint_record_it_was_on(supervisor, officers, market_officers,
                                                                   key_sector, session):
    _joint_record(session, key_sector["dental"]["id"], ("market", "health"))  # led by market, health on it

    drawn = _drawn(supervisor, NONE, 1, seed="s", graded_ratios=NO_GRADED)

    assert key_sector["dental"]["id"] not in drawn["inputs"]["key_sector_institutions"]
    assert sorted(_by_institution(drawn)) == [key_sector["cosmetic"]["id"], key_sector["tcm_clinic"]["id"]]


# ---- status of the targets, and verifying a published joint draw --------------------------------

def test_a_target_is_inspected_once_a_record_names_the_draw_with_the_earliest_record(
        client, supervisor, officers, market_officers, directory, clinic):
    second_clinic = directory[1]
    drawn = _drawn(supervisor, ALL, 1, seed="s", departments=["health", "market"])
    other = _drawn(supervisor, ALL, 1, seed="t", departments=["health", "market"])
    today = today_shanghai()

    def record(institution_id, draw_id, on):
        response = officers[0].post("/api/v1/inspections", json={
            "institution_id": institution_id, "inspected_on": str(on), "result": "pass", "summary": "联合检查",
            "public": True, "draw_id": draw_id})
        assert response.status_code == 201, response.get_json()
        return response.get_json()["id"]

    later = record(clinic["id"], drawn["id"], today)
    earlier = record(clinic["id"], drawn["id"], today - dt.timedelta(days=1))
    record(second_clinic["id"], other["id"], today)  # another draw's

    targets = _by_institution(_published(client, drawn["id"]))
    assert (targets[clinic["id"]]["status"], targets[clinic["id"]]["inspection_id"]) == ("inspected", earlier)
    assert later != earlier
    assert (targets[second_clinic["id"]]["status"], targets[second_clinic["id"]]["inspection_id"]) == ("pending", None)
    listed = {d["id"]: d for d in client.get(DRAWS).get_json()["items"]}
    assert _by_institution(listed[drawn["id"]])[clinic["id"]]["inspection_id"] == earlier
    assert _by_institution(listed[other["id"]])[second_clinic["id"]]["status"] == "inspected"
    assert _by_institution(listed[other["id"]])[clinic["id"]]["status"] == "pending"


def test_the_draw_list_reads_the_statuses_of_a_page_in_one_query(client, supervisor, officers, market_officers,
                                                                 directory):
    _drawn(supervisor, ALL, 1, seed="s", departments=["health", "market"])
    with counting_statements() as one:
        client.get(DRAWS)
    for seed in SEEDS[:3]:
        _drawn(supervisor, ALL, 1, seed=seed, departments=["health", "market"])
    with counting_statements() as four:
        assert len(client.get(DRAWS).get_json()["items"]) == 4

    assert len(four) == len(one)


def test_a_published_joint_draw_is_verified_by_the_documented_recipe(client, supervisor, officers,
                                                                     market_officers, directory, key_sector):
    """docs/draws.md, "Re-running a draw": the public JSON, the derived fields dropped, run(inputs)."""
    drawn = _drawn(supervisor, {"A": 0.05, "B": 0.4, "C": 0.3, "D": 1.0}, 2, seed="verify-me",
                   departments=["market", "health"])
    body = client.get(f"{DRAWS}/{drawn['id']}").get_data(as_text=True)  # no login

    published = json.loads(body)
    drawn_part = [{k: v for k, v in t.items() if k not in ("status", "inspection_id")} for t in published["targets"]]
    assert draws.run(published["inputs"]) == drawn_part
    assert published["algorithm"] == published["inputs"]["algorithm"] == "onecode-draw-v4"
    assert {i["id"] for i in key_sector.values()} <= {t["institution_id"] for t in drawn_part}
    tampered = dict(published["inputs"], seed="another")
    assert draws.run(tampered) != drawn_part

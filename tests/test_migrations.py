"""The migrations are the schema: they match the models and run down and up again cleanly."""

import datetime as dt

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import JSON, column, inspect, select, table, text

from api.database import db


def test_the_migrations_match_the_models(app):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == []


def test_the_migrations_go_down_to_nothing_and_up_again(app):
    downgrade(revision="base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    upgrade()
    assert {"institutions", "staff", "codes", "accounts"} <= set(inspect(db.engine).get_table_names())


def test_lead_reasons_move_from_the_json_column_to_rows_and_back(app, clinic):
    """42ba2e995d27 copies each lead's JSON reasons into lead_reasons (a repeated ref once) and back."""
    db.session.remove()  # the fixtures' reads hold locks (PostgreSQL) that the downgrades' DDL would wait for
    downgrade(revision="e51e71ec0e15")
    reasons = [
        {"kind": "complaint", "detail": "TS20261101000001 收费", "at": "2026-11-01T02:00:00+00:00",
         "ref": "TS20261101000001"},
        {"kind": "commitment_breach", "detail": "违背承诺", "at": "2026-11-02T03:00:00+00:00"},
        {"kind": "complaint", "detail": "again", "at": "2026-11-03T04:00:00+00:00", "ref": "TS20261101000001"},
    ]
    leads = table("leads", column("id"), column("institution_id"), column("status"), column("score"),
                  column("reasons", JSON), column("opened_at"))
    with db.engine.begin() as connection:
        connection.execute(leads.insert().values(institution_id=clinic["id"], status="open", score=20,
                                                 reasons=reasons, opened_at=dt.datetime.now(dt.UTC)))

    upgrade()
    with db.engine.connect() as connection:
        rows = connection.execute(text("SELECT kind, detail, ref FROM lead_reasons ORDER BY at")).all()
    assert [tuple(row) for row in rows] == [("complaint", "TS20261101000001 收费", "TS20261101000001"),
                                            ("commitment_breach", "违背承诺", None)]

    downgrade(revision="e51e71ec0e15")
    with db.engine.connect() as connection:
        kept = connection.execute(select(leads.c.reasons)).scalar_one()
    assert [(r["kind"], r.get("ref")) for r in kept] == [("complaint", "TS20261101000001"), ("commitment_breach", None)]
    assert dt.datetime.fromisoformat(kept[0]["at"]) == dt.datetime(2026, 11, 1, 2, tzinfo=dt.UTC)
    upgrade()


def test_anonymous_intake_entries_stored_with_an_account_are_cleared(app, client, clinic, login):
    """7a3c51d0b9e2 clears the `submit` entry's actor of anonymous cases filed by a logged-in citizen
    (stored so before the intake stopped writing it); named cases keep theirs, every case its account."""
    citizen = login("citizen")
    citizen_id = citizen.account.id
    for anonymous in (True, False):
        body = {"category": "medical_quality", "content": "输液后出现过敏反应，医生未做皮试。", "anonymous": anonymous,
                "target": {"institution_id": clinic["id"]}}
        if not anonymous:
            body |= {"contact_name": "张三", "contact_phone": "13800138000"}
        response = citizen.post("/api/v1/complaints", json=body)
        assert response.status_code == 201, response.get_json()
    db.session.remove()
    downgrade(revision="42ba2e995d27")
    with db.engine.begin() as connection:
        connection.execute(text("UPDATE complaint_events SET actor_id = :id WHERE action = 'submit'"),
                           {"id": citizen_id})

    upgrade()
    with db.engine.connect() as connection:
        stored = dict(connection.execute(text(
            "SELECT c.anonymous, e.actor_id FROM complaint_events e JOIN complaints c ON c.id = e.complaint_id"
            " WHERE e.action = 'submit'")).all())
        accounts = set(connection.execute(text("SELECT account_id FROM complaints")).scalars())
    assert stored == {True: None, False: citizen_id}
    assert accounts == {citizen_id}


def test_idempotency_keys_stored_before_5d1c0e7a9b3f_are_hashed_so_a_retry_still_finds_its_case(app):
    import hashlib
    import uuid

    from tests.complaints.helpers import complaint_body

    key = str(uuid.uuid4())
    client = app.test_client()
    first = client.post("/api/v1/complaints", json=complaint_body(), headers={"Idempotency-Key": key})
    assert first.status_code == 201, first.get_json()
    downgrade(revision="7a3c51d0b9e2")
    with db.engine.begin() as connection:  # as the code before the upgrade stored it
        connection.execute(text("UPDATE complaints SET idempotency_key = :key"), {"key": key})

    upgrade()

    with db.engine.connect() as connection:
        stored = connection.execute(text("SELECT idempotency_key FROM complaints")).scalar_one()
    assert stored == hashlib.sha256(key.encode()).hexdigest()
    again = client.post("/api/v1/complaints", json=complaint_body(), headers={"Idempotency-Key": key})
    assert again.status_code == 201 and again.get_json() == first.get_json()


def _categories() -> dict[str, tuple]:
    with db.engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM complaint_categories")).mappings().all()
    return {row["code"]: (row["department"], sorted(_json(row["also_departments"])), bool(row.get("retired")))
            for row in rows}


def _json(value):
    import json

    return json.loads(value) if isinstance(value, str) else value


def test_the_seeds_routing_reroutes_the_categories_and_keeps_older_cases_readable(app, client, clinic, login):
    """16bf5ad4755d: illegal practice led by health (police, market, ecology alongside), licences health's
    (approval alongside), waste split in two; cases filed before it keep their category and department,
    and every department concerned reads them."""
    from tests.complaints.workflow_helpers import act, case_url, ids, submit
    from tests.exchange.helpers import export

    health, police, approval, ecology = (login("officer", department=d)
                                         for d in ("health", "public_security", "approval", "ecology"))
    cases = {category: submit(client, {"institution_id": clinic["id"]}, category=category)
             for category in ("medical_quality", "illegal_practice", "licences")}
    waste, illegal, licence = (cases[c]["tracking_no"] for c in ("medical_quality", "illegal_practice", "licences"))
    db.session.remove()
    downgrade(revision="5d1c0e7a9b3f")
    before = _categories()
    assert before["illegal_practice"] == ("public_security", ["health"], False)
    assert before["licences"] == ("approval", [], False)
    assert before["medical_waste"] == ("ecology", [], False)
    assert "medical_waste_transfer" not in before
    with db.engine.begin() as connection:  # as the code before the upgrade filed and routed them
        for number, category, department in ((waste, "medical_waste", "ecology"),
                                             (illegal, "illegal_practice", "public_security"),
                                             (licence, "licences", "approval")):
            connection.execute(text("UPDATE complaints SET category = :category, department = :department"
                                    " WHERE tracking_no = :number"),
                               {"category": category, "department": department, "number": number})
            connection.execute(text("UPDATE complaint_events SET department = :department WHERE complaint_id ="
                                    " (SELECT id FROM complaints WHERE tracking_no = :number)"),
                               {"department": department, "number": number})

    upgrade()

    after = _categories()
    assert after["illegal_practice"] == ("health", ["ecology", "market", "public_security"], False)
    assert after["licences"] == ("health", ["approval"], False)
    assert after["medical_waste_in_institution"] == ("health", [], False)
    assert after["medical_waste_transfer"] == ("ecology", [], False)
    assert after["medical_waste"] == ("ecology", [], True)
    assert {code: values for code, values in after.items() if code in before and code not in (
        "illegal_practice", "licences", "medical_waste")} == {code: values for code, values in before.items()
                                                             if code not in ("illegal_practice", "licences",
                                                                             "medical_waste")}
    # The old waste case: its category and name, with ecology, which still handles it.
    old = ecology.get(case_url(waste)).get_json()
    assert (old["category"], old["category_name"], old["department"]) == ("medical_waste", "医疗废物处置", "ecology")
    tracked = client.get("/api/v1/complaints/track", query_string={
        "tracking_no": waste, "query_code": cases["medical_quality"]["query_code"]}).get_json()
    assert (tracked["category"], tracked["category_name"]) == ("medical_waste", "医疗废物处置")
    assert {row["受理编号"]: row["投诉类别"] for row in export(ecology, "/api/v1/complaints/export",
                                                          category="medical_waste")} == {waste: "医疗废物处置"}
    assert ids(ecology.get("/api/v1/complaints", query_string={"category": "medical_waste"}).get_json()) == [waste]
    assert act(ecology, waste, "accept").status_code == 200
    # Older illegal-practice and licence cases stay with their holders; health, now the lead, sees them.
    for number, holder, department in ((illegal, police, "public_security"), (licence, approval, "approval")):
        assert number in ids(health.get("/api/v1/complaints").get_json())
        assert health.get(case_url(number)).get_json()["contact"] is None
        assert act(health, number, "accept").status_code == 403
        accepted = act(holder, number, "accept").get_json()
        assert (accepted["status"], accepted["department"]) == ("accepted", department)
    # New cases follow the new routing; the retired category takes none.
    assert submit(client, {"institution_id": clinic["id"]}, category="illegal_practice")["department"] == "health"
    refused = client.post("/api/v1/complaints", json={
        "category": "medical_waste", "content": "诊所把用过的针头和生活垃圾混在一起扔掉。", "anonymous": True,
        "target": {"institution_id": clinic["id"]}})
    assert (refused.status_code, list(refused.get_json()["fields"])) == (422, ["category"])


def test_going_below_16bf5ad4755d_files_the_split_waste_cases_under_the_old_category(app, client, clinic, login):
    from tests.complaints.workflow_helpers import act, advance, submit

    health = login("supervisor", department="health")
    inside = submit(client, {"institution_id": clinic["id"]}, category="medical_waste_in_institution")["tracking_no"]
    transfer = submit(client, {"institution_id": clinic["id"]}, category="medical_waste_transfer")["tracking_no"]
    advance(health, inside, "accepted", handler_id=health.account.id)
    assert act(health, inside, "refer", referred_to="public_security").status_code == 200
    db.session.remove()

    downgrade(revision="5d1c0e7a9b3f")

    with db.engine.connect() as connection:
        stored = dict(connection.execute(text("SELECT tracking_no, category FROM complaints")).all())
        refer_entries = connection.scalar(text("SELECT count(*) FROM complaint_events WHERE action = 'refer'"))
        tables = set(inspect(connection).get_table_names())
    assert stored == {inside: "medical_waste", transfer: "medical_waste"}
    assert set(_categories()) == {"medical_quality", "attitude_ethics", "prices_charges", "drugs_devices",
                                  "advertising", "insurance_fraud", "medical_waste", "radiation",
                                  "illegal_practice", "medical_violence", "licences"}
    assert "complaint_referrals" not in tables and refer_entries == 1
    upgrade()
    assert _categories()["medical_waste"][2] is True


def test_modes_are_recomputed_after_d94e1b7c3a20_under_the_record_rules(app, clinic, health_officer):
    """d94e1b7c3a20 adds the record and the quantified risk to the snapshot and marks every snapshot
    stale, so an institution migrated with a 10-point offence last year reads as stationed at once."""
    db.session.remove()  # the fixtures' reads hold locks (PostgreSQL) that the downgrades' DDL would wait for
    downgrade(revision="d4e8c2a7f913")
    last_year = dt.date(dt.date.today().year - 1, 6, 15)
    now = dt.datetime.now(dt.UTC)
    violations = table("violations", column("subject_type"), column("institution_id"), column("rule_code"),
                       column("rule_description"), column("points"), column("occurred_on"), column("public"),
                       column("status"), column("recorded_at"), column("objection_due_at"),
                       column("policy_version"))
    with db.engine.begin() as connection:
        connection.execute(violations.insert().values(
            subject_type="institution", institution_id=clinic["id"], rule_code="INS-LIC-01", rule_description="出租科室",
            points=10, occurred_on=last_year, public=True, status="upheld", recorded_at=now,
            objection_due_at=now - dt.timedelta(days=1), policy_version=1))
        connection.execute(text("UPDATE institutions SET credit_stale_after = NULL"))

    upgrade()

    found = health_officer.get(f"/api/v1/institutions/{clinic['id']}/credit").get_json()
    assert (found["supervision_mode"], found["grade"]) == ("stationed", "B")
    assert "严重违法" in found["mode_reason"]

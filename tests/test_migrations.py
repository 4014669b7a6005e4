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

"""Helpers shared by the supervision tests (violations, credit, lists, inspections, draws).

Their fixtures are in tests/supervision/conftest.py (`supervisor`, shared with other packages, in
tests/conftest.py).
"""

from __future__ import annotations

import contextlib
import datetime as dt

from sqlalchemy import event

from api.database import db, today_shanghai, utcnow
from registry.models import Institution
from supervision.models import Violation
from tests.conftest import institution_payload

VIOLATIONS = "/api/v1/violations"
INSPECTIONS = "/api/v1/inspections"
DRAWS = "/api/v1/inspection-draws"
BLACK_DECISIONS = "/api/v1/lists/black/decisions"

# Institution rules of the v1 table by points (supervision/rules/violations-v1.json).
RULE_1, RULE_2, RULE_4, RULE_6, RULE_10 = "INS-LIC-06", "INS-LIC-05", "INS-LIC-04", "INS-LIC-02", "INS-LIC-01"
STAFF_RULE = "STF-LIC-01"


def new_institution(admin, serial: int, **overrides) -> dict:
    response = admin.post("/api/v1/institutions", json=institution_payload(serial, **overrides))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def violation_body(subject_id: int, rule_code: str = RULE_2, *, subject_type: str = "institution",
                   occurred_on: dt.date | None = None, public: bool = True, **extra) -> dict:
    return {"subject_type": subject_type, "subject_id": subject_id, "rule_code": rule_code,
            "occurred_on": str(occurred_on or today_shanghai()), "public": public, **extra}


def record(persona, subject_id: int, rule_code: str = RULE_2, **kwargs):
    """POST a violation; returns the response."""
    return persona.post(VIOLATIONS, json=violation_body(subject_id, rule_code, **kwargs))


def recorded(persona, subject_id: int, rule_code: str = RULE_2, **kwargs) -> dict:
    """POST a violation that must be accepted; returns its body."""
    response = record(persona, subject_id, rule_code, **kwargs)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def object_to(persona, violation_id: int, reason: str = "记分事实不清，申请复核"):
    return persona.post(f"{VIOLATIONS}/{violation_id}/objection", json={"reason": reason})


def decide(persona, violation_id: int, decision: str, note: str = "经复核"):
    return persona.post(f"{VIOLATIONS}/{violation_id}/decision", json={"decision": decision, "note": note})


def violation(persona, violation_id: int) -> dict:
    response = persona.get(f"{VIOLATIONS}/{violation_id}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def end_window(session, *violation_ids: int) -> None:
    """Let the objection windows of these violations end, as the passing of time would: the window
    closes a minute ago, and so does the moment their institutions' stored credit goes stale."""
    past = utcnow() - dt.timedelta(minutes=1)
    for violation_id in violation_ids:
        found = session.get(Violation, violation_id)
        found.objection_due_at = past
        session.get(Institution, found.institution_id).credit_stale_after = past
    session.commit()


def final_violation(persona, session, subject_id: int, rule_code: str = RULE_2, **kwargs) -> dict:
    """A violation recorded and left unobjected until its window ended: final."""
    body = recorded(persona, subject_id, rule_code, **kwargs)
    end_window(session, body["id"])
    return body


def credit(persona, institution_id: int) -> dict:
    response = persona.get(f"/api/v1/institutions/{institution_id}/credit")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def scan(client, institution: dict) -> dict:
    response = client.get(f"/api/v1/scan/{institution['code']['token']}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def black_decision(persona, institution_id: int, reason: str = "多次拒不整改，性质恶劣"):
    return persona.post(BLACK_DECISIONS, json={"institution_id": institution_id, "reason": reason})


def lift(persona, institution_id: int, reason: str = "已整改到位"):
    return persona.post(f"{BLACK_DECISIONS}/{institution_id}/lift", json={"reason": reason})


@contextlib.contextmanager
def counting_statements():
    """Every SQL statement sent to the database inside the block (an executemany counts once)."""
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def inspected(officer, institution_id: int, result: str, *, reviewer=None, on: dt.date | None = None, **extra) -> dict:
    """POST a single-department inspection that must be accepted; a penalty is approved in legal review
    by `reviewer` (a supervisor of the officer's department who did not inspect) when given. Returns the
    record."""
    response = officer.post(INSPECTIONS, json={"institution_id": institution_id,
                                               "inspected_on": str(on or today_shanghai()), "result": result,
                                               "summary": "现场检查", "public": True, **extra})
    assert response.status_code == 201, response.get_json()
    record = response.get_json()
    if result == "penalty" and reviewer is not None:
        response = reviewer.post(f"{INSPECTIONS}/{record['id']}/legal-review",
                                 json={"decision": "approved", "note": "事实清楚，证据确凿，程序合法"})
        assert response.status_code == 200, response.get_json()
        record = response.get_json()
    return record

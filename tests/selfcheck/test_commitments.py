"""Credit commitments (信用承诺): the standard text, signing, one in force at a time, what the scan and
the grade make of it, breach, lapse, and the printable document."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from api.database import today_shanghai, utcnow
from registry.models import Institution
from selfcheck import commitments
from selfcheck.models import Commitment
from tests.api.helpers import assert_error
from tests.conftest import staff_payload

TEMPLATE = "/api/v1/commitments/template"
COMMITMENTS = "/api/v1/commitments"
V1 = json.loads((commitments.TEXT_DIR / "v1.json").read_text(encoding="utf-8"))


def _body(**overrides) -> dict:
    return {"version": V1["version"], "signer_name": "王某", "signer_title": "法定代表人", "agree": True, **overrides}


def _sign(persona, **overrides):
    return persona.post(COMMITMENTS, json=_body(**overrides))


def _signed(persona, **overrides) -> dict:
    response = _sign(persona, **overrides)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _breach(persona, commitment_id, **data):
    return persona.post(f"{COMMITMENTS}/{commitment_id}/breach", json=data)


def _scan(client, institution) -> dict:
    response = client.get(f"/api/v1/scan/{institution['code']['token']}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()["institution"]


def _credit(admin, institution) -> dict:
    response = admin.get(f"/api/v1/institutions/{institution['id']}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()["credit"]


def _document(client_or_persona, commitment_id):
    return client_or_persona.get(f"{COMMITMENTS}/{commitment_id}/document")


def _lapse(session, commitment_id, valid_to: dt.date) -> None:
    """Move a commitment's validity so that it ends on `valid_to`, as the passing of time would."""
    commitment = session.get(Commitment, commitment_id)
    commitment.valid_from = valid_to - dt.timedelta(days=commitments.VALID_DAYS - 1)
    commitment.valid_to = valid_to
    institution = session.get(Institution, commitment.institution_id)
    institution.commitment_valid_to = valid_to
    session.commit()


@pytest.fixture
def signed(clinic_account) -> dict:
    return _signed(clinic_account)


@pytest.fixture
def newer_text(tmp_path, monkeypatch):
    """A second version of the standard text next to the first: version 2 becomes current."""
    folder = tmp_path / "commitment-texts"
    folder.mkdir()
    (folder / "v1.json").write_text(json.dumps(V1, ensure_ascii=False), encoding="utf-8")
    v2 = V1 | {"version": 2, "text": V1["text"] + "\n十一、新增条款：按时完成依法执业自查。"}
    (folder / "v2.json").write_text(json.dumps(v2, ensure_ascii=False), encoding="utf-8")
    monkeypatch.setattr(commitments, "TEXT_DIR", folder)
    commitments.texts.cache_clear()
    yield v2
    commitments.texts.cache_clear()


# ---- the text ---------------------------------------------------------------------------------

def test_the_template_is_the_current_text_with_its_sha256(client):
    response = client.get(TEMPLATE)

    assert response.status_code == 200
    body = response.get_json()
    assert (body["version"], body["text"]) == (V1["version"], V1["text"])
    assert body["sha256"] == hashlib.sha256(V1["text"].encode("utf-8")).hexdigest()


def test_the_template_follows_the_newest_version(client, newer_text):
    body = client.get(TEMPLATE).get_json()

    assert (body["version"], body["text"]) == (2, newer_text["text"])
    assert body["sha256"] == hashlib.sha256(newer_text["text"].encode("utf-8")).hexdigest()


# ---- signing ----------------------------------------------------------------------------------

def test_signing_gives_an_active_commitment_valid_one_year(session, clinic, clinic_account):
    response = _sign(clinic_account)

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["status"], body["in_force"], body["institution_id"]) == ("active", True, clinic["id"])
    valid_from = dt.date.fromisoformat(body["valid_from"])
    assert valid_from == today_shanghai()
    assert dt.date.fromisoformat(body["valid_to"]) == valid_from + dt.timedelta(days=364)
    assert body["text_sha256"] == hashlib.sha256(V1["text"].encode("utf-8")).hexdigest()
    assert (body["signer_name"], body["signer_title"], body["version"]) == ("王某", "法定代表人", 1)
    assert dt.datetime.fromisoformat(body["signed_at"]).utcoffset() is not None
    stored = session.get(Commitment, body["id"])
    assert stored.text == V1["text"]
    assert hashlib.sha256(stored.text.encode("utf-8")).hexdigest() == stored.text_sha256


@pytest.mark.parametrize("agree", [False, None, "missing"])
def test_signing_without_agreeing_is_refused(session, clinic_account, agree):
    body = _body()
    if agree == "missing":
        del body["agree"]
    else:
        body["agree"] = agree

    response = clinic_account.post(COMMITMENTS, json=body)

    assert_error(response, 422, "VALIDATION_FAILED")
    assert session.scalars(select(Commitment)).all() == []


@pytest.mark.parametrize("version", [0, 2, "1"])
def test_signing_a_version_that_is_not_the_current_one_is_refused(session, clinic_account, version):
    assert_error(_sign(clinic_account, version=version), 422, "VALIDATION_FAILED")
    assert session.scalars(select(Commitment)).all() == []


def test_signing_a_superseded_text_version_is_refused(session, clinic_account, newer_text):
    body = assert_error(_sign(clinic_account, version=1), 422, "VALIDATION_FAILED")
    assert "version" in body["fields"]
    assert session.scalars(select(Commitment)).all() == []

    signed = _signed(clinic_account, version=2)
    assert signed["text_sha256"] == hashlib.sha256(newer_text["text"].encode("utf-8")).hexdigest()


@pytest.mark.parametrize("signer", ["张三", "王某某"])
def test_a_signer_other_than_the_principal_or_legal_representative_is_refused(session, clinic_account, signer):
    body = assert_error(_sign(clinic_account, signer_name=signer), 422, "VALIDATION_FAILED")

    assert "signer_name" in body["fields"]
    assert session.scalars(select(Commitment)).all() == []


def test_a_second_signature_while_one_is_in_force_is_a_conflict(session, clinic_account, signed):
    assert_error(_sign(clinic_account), 409, "CONFLICT")

    assert [(c.id, c.status) for c in session.scalars(select(Commitment))] == [(signed["id"], "active")]


@pytest.mark.parametrize("role, department", [("citizen", None), ("officer", "health"), ("supervisor", "health"),
                                              ("admin", None)])
def test_only_an_institution_signs(session, login, clinic, role, department):
    persona = login(role, department=department)

    assert_error(_sign(persona), 403, "FORBIDDEN")
    assert session.scalars(select(Commitment)).all() == []


def test_signing_needs_a_login(client, clinic):
    assert_error(client.post(COMMITMENTS, json=_body()), 401, "UNAUTHORIZED")


def test_a_commitment_ending_within_30_days_is_renewed_and_superseded(session, clinic_account, signed):
    _lapse(session, signed["id"], today_shanghai() + dt.timedelta(days=10))

    renewed = _signed(clinic_account)

    assert renewed["id"] != signed["id"] and renewed["status"] == "active"
    assert dt.date.fromisoformat(renewed["valid_from"]) == today_shanghai()
    old = clinic_account.get(f"{COMMITMENTS}/{signed['id']}").get_json()
    assert (old["status"], old["in_force"]) == ("superseded", False)


def test_a_commitment_ending_in_31_days_is_not_renewed_yet(session, clinic_account, signed):
    _lapse(session, signed["id"], today_shanghai() + dt.timedelta(days=31))

    assert_error(_sign(clinic_account), 409, "CONFLICT")


def test_the_database_refuses_two_active_commitments(session, clinic, signed):
    today = today_shanghai()
    session.add(Commitment(institution_id=clinic["id"], version=1, text=V1["text"], text_sha256="0" * 64,
                           signer_name="王某", signer_title="法定代表人", signed_at=utcnow(), valid_from=today,
                           valid_to=today + dt.timedelta(days=364), status="active"))

    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


# ---- what signing does to the scan and the grade ----------------------------------------------

def test_without_a_commitment_the_scan_shows_none_and_grade_b(client, admin, clinic):
    institution = _scan(client, clinic)

    assert institution["commitment"] is None
    assert (institution["credit"]["grade"], institution["credit"]["supervision_mode"]) == ("B", "one_code")
    assert _credit(admin, clinic)["grade"] == "B"


def test_the_scan_shows_the_commitment_and_grade_a_with_commitment_supervision(client, admin, clinic, signed):
    institution = _scan(client, clinic)

    shown = institution["commitment"]
    assert shown is not None
    assert (shown["signed_at"], shown["valid_from"], shown["valid_to"]) == (
        signed["signed_at"], signed["valid_from"], signed["valid_to"])
    assert shown["signer_name"] == "王某" and shown["text_sha256"] == signed["text_sha256"]
    assert shown["document_url"] == f"https://code.example.org/api/v1/commitments/{signed['id']}/document"
    assert institution["credit"]["grade"] == "A"
    assert institution["credit"]["supervision_mode"] == "commitment"
    assert institution["credit"]["colour"] == "green"
    credit = _credit(admin, clinic)
    assert (credit["grade"], credit["points"], credit["supervision_mode"]) == ("A", 0, "commitment")


def test_a_signature_shows_as_grade_a_in_the_list_filtered_by_grade_at_once(admin, health_officer, clinic, signed):
    """Signing marks the credit snapshot stale (selfcheck sits below supervision); a list that filters on
    the stored grade recomputes stale snapshots first, so it does not wait for the daily job."""
    for persona in (admin, health_officer):
        listed = persona.get("/api/v1/institutions?grade=A&page_size=100")
        assert listed.status_code == 200, listed.get_json()
        assert [item["id"] for item in listed.get_json()["items"]] == [clinic["id"]]
        assert clinic["id"] not in [item["id"] for item in persona.get("/api/v1/institutions?grade=B").get_json()["items"]]


def test_the_commitment_never_shows_on_a_staff_members_scan(client, admin, clinic, signed):
    staff = admin.post(f"/api/v1/institutions/{clinic['id']}/staff", json=staff_payload(1)).get_json()

    body = client.get(f"/api/v1/scan/{staff['code']['token']}").get_json()

    assert body["type"] == "staff" and "commitment" not in body["staff"]


def test_a_commitment_with_final_points_does_not_give_grade_a(client, admin, clinic, clinic_account,
                                                               health_officer, health_supervisor):
    recorded = health_officer.post("/api/v1/violations", json={
        "subject_type": "institution", "subject_id": clinic["id"], "rule_code": "INS-LIC-06",
        "occurred_on": str(today_shanghai()), "public": False})
    assert recorded.status_code == 201, recorded.get_json()
    violation_id = recorded.get_json()["id"]
    assert clinic_account.post(f"/api/v1/violations/{violation_id}/objection",
                               json={"reason": "有异议"}).status_code == 200
    upheld = health_supervisor.post(f"/api/v1/violations/{violation_id}/decision",
                                    json={"decision": "upheld", "note": "维持"})
    assert upheld.status_code == 200, upheld.get_json()

    _signed(clinic_account)

    assert _scan(client, clinic)["credit"]["grade"] == "B"
    assert _scan(client, clinic)["commitment"] is not None
    credit = _credit(admin, clinic)
    assert (credit["grade"], credit["points"]) == ("B", 1)


# ---- breach -----------------------------------------------------------------------------------

def test_a_health_officer_records_a_breach_and_the_commitment_ends(client, admin, clinic, clinic_account,
                                                                   health_officer, signed):
    response = _breach(health_officer, signed["id"], reason="超范围执业，违背承诺第一条")

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["status"], body["in_force"], body["breach_reason"]) == ("breached", False, "超范围执业，违背承诺第一条")
    assert body["breached_at"] is not None
    institution = _scan(client, clinic)
    assert institution["commitment"] is None
    assert (institution["credit"]["grade"], institution["credit"]["supervision_mode"]) == ("B", "one_code")
    assert _credit(admin, clinic)["grade"] == "B"
    assert clinic_account.get(f"{COMMITMENTS}/{signed['id']}").get_json()["status"] == "breached"


def test_a_breach_is_a_lead_reason(clinic, health_officer, signed):
    _breach(health_officer, signed["id"], reason="虚假宣传")

    leads = health_officer.get("/api/v1/leads").get_json()["items"]

    (lead,) = leads
    assert lead["institution_id"] == clinic["id"]
    assert [r["kind"] for r in lead["reasons"]] == ["commitment_breach"]
    assert "虚假宣传" in lead["reasons"][0]["detail"]


def test_a_breach_cannot_be_recorded_twice(health_officer, signed):
    assert _breach(health_officer, signed["id"], reason="第一次").status_code == 200

    assert_error(_breach(health_officer, signed["id"], reason="第二次"), 409, "INVALID_TRANSITION")
    assert health_officer.get(f"{COMMITMENTS}/{signed['id']}").get_json()["breach_reason"] == "第一次"


@pytest.mark.parametrize("data", [{}, {"reason": ""}, {"reason": "   "}], ids=["missing", "empty", "blank"])
def test_a_breach_needs_a_reason(health_officer, signed, data):
    assert_error(_breach(health_officer, signed["id"], **data), 422, "VALIDATION_FAILED")
    assert health_officer.get(f"{COMMITMENTS}/{signed['id']}").get_json()["status"] == "active"


@pytest.mark.parametrize("who", ["institution", "citizen"])
def test_only_a_regulator_records_a_breach(login, clinic, clinic_account, signed, who):
    persona = clinic_account if who == "institution" else login("citizen")

    assert_error(_breach(persona, signed["id"], reason="自己违诺"), 403, "FORBIDDEN")
    assert clinic_account.get(f"{COMMITMENTS}/{signed['id']}").get_json()["status"] == "active"


def test_breaching_an_unknown_commitment_is_not_found(health_officer, clinic):
    assert_error(_breach(health_officer, 987654, reason="无"), 404, "NOT_FOUND")


def test_after_a_breach_a_new_commitment_is_signed_but_the_grade_stays_b_this_year(client, admin, clinic,
                                                                                   clinic_account,
                                                                                   health_officer, signed):
    _breach(health_officer, signed["id"], reason="违诺")

    again = _signed(clinic_account)

    assert again["status"] == "active" and again["in_force"] is True
    institution = _scan(client, clinic)
    assert institution["commitment"]["valid_to"] == again["valid_to"]
    assert institution["credit"]["grade"] == "B"
    assert institution["credit"]["supervision_mode"] == "one_code"
    assert _credit(admin, clinic)["grade"] == "B"


# ---- lapse ------------------------------------------------------------------------------------

def test_a_lapsed_commitment_leaves_the_scan_and_grade_a_turns_b(session, client, admin, clinic, signed):
    _lapse(session, signed["id"], today_shanghai() - dt.timedelta(days=1))

    institution = _scan(client, clinic)

    assert institution["commitment"] is None
    assert (institution["credit"]["grade"], institution["credit"]["supervision_mode"]) == ("B", "one_code")
    assert _credit(admin, clinic)["grade"] == "B"


def test_a_commitment_ending_today_is_still_in_force(session, client, clinic, signed):
    _lapse(session, signed["id"], today_shanghai())

    institution = _scan(client, clinic)

    assert institution["commitment"]["valid_to"] == str(today_shanghai())
    assert institution["credit"]["grade"] == "A"


def test_a_lapsed_commitment_cannot_be_breached_but_a_new_one_can_be_signed(session, health_officer,
                                                                           clinic_account, signed):
    _lapse(session, signed["id"], today_shanghai() - dt.timedelta(days=1))

    assert_error(_breach(health_officer, signed["id"], reason="过期后违诺"), 409, "INVALID_TRANSITION")
    renewed = _signed(clinic_account)
    assert renewed["status"] == "active"
    assert clinic_account.get(f"{COMMITMENTS}/{signed['id']}").get_json()["status"] == "superseded"


# ---- reading commitments ----------------------------------------------------------------------

def test_an_institution_reads_and_lists_only_its_own_commitments(clinic_account, other_account, signed):
    theirs = _signed(other_account)

    assert_error(other_account.get(f"{COMMITMENTS}/{signed['id']}"), 404, "NOT_FOUND")
    assert [c["id"] for c in clinic_account.get(COMMITMENTS).get_json()["items"]] == [signed["id"]]
    assert [c["id"] for c in other_account.get(COMMITMENTS).get_json()["items"]] == [theirs["id"]]


@pytest.fixture
def breached_other(other_account, health_officer) -> dict:
    theirs = _signed(other_account)
    assert _breach(health_officer, theirs["id"], reason="违诺").status_code == 200
    return theirs


def _commitment_ids(persona, **query) -> list[int]:
    response = persona.get(COMMITMENTS, query_string=query)
    assert response.status_code == 200, response.get_json()
    return sorted(c["id"] for c in response.get_json()["items"])


def test_regulators_list_commitments_by_status(health_officer, signed, breached_other):
    assert _commitment_ids(health_officer) == sorted([signed["id"], breached_other["id"]])
    assert _commitment_ids(health_officer, status="breached") == [breached_other["id"]]
    assert _commitment_ids(health_officer, status="active") == [signed["id"]]


def test_regulators_list_commitments_by_institution(clinic, other_clinic, health_officer, signed, breached_other):
    assert _commitment_ids(health_officer, institution_id=clinic["id"]) == [signed["id"]]
    assert _commitment_ids(health_officer, institution_id=other_clinic["id"]) == [breached_other["id"]]


# ---- the printable document -------------------------------------------------------------------

def test_the_document_is_a_printable_page_with_the_code(client, clinic, signed):
    response = _document(client, signed["id"])

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert clinic["name"] in html
    assert "王某" in html and "法定代表人" in html
    assert signed["valid_to"] in html and signed["valid_from"] in html
    assert "<svg" in html
    assert signed["text_sha256"] in html
    assert V1["text"].splitlines()[1][:20] in html
    assert "不再有效" not in html


def test_after_a_breach_the_document_is_hidden_from_the_public(client, clinic_account, other_account,
                                                               health_officer, signed):
    _breach(health_officer, signed["id"], reason="违诺")

    assert_error(_document(client, signed["id"]), 404, "NOT_FOUND")
    for persona in (clinic_account, health_officer):
        response = _document(persona, signed["id"])
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        assert "不再有效" in html and "违背" in html
        assert signed["text_sha256"] in html
    assert_error(_document(other_account, signed["id"]), 404, "NOT_FOUND")


def test_a_lapsed_commitments_document_carries_the_banner(session, client, clinic_account, signed):
    _lapse(session, signed["id"], today_shanghai() - dt.timedelta(days=1))

    assert_error(_document(client, signed["id"]), 404, "NOT_FOUND")
    html = _document(clinic_account, signed["id"]).get_data(as_text=True)
    assert "不再有效" in html


def test_an_unknown_document_is_not_found(client, clinic):
    assert_error(_document(client, 987654), 404, "NOT_FOUND")

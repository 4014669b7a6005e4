"""Ready profiles (issue 19): each code's answer is stored ready to send, and every kind of change to what
it shows reaches the next scan in every worker.

"Every worker" is two apps on one database: `client` (the test's app) and `served` (a second app with
its own engine and sessions, as a second gunicorn worker has). The passing of time is played by moving
the stored dates and moments back (plain SQL on its own connection, so no writer marks anything), the
ready document's `valid_until` included: that is what a later clock would see.
"""

from __future__ import annotations

import datetime as dt

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import delete, select, update

from api import policy
from api.database import SHANGHAI, db, today_shanghai, utcnow
from codes.models import Code
from public import profile
from registry import ready_profiles
from registry.models import Institution
from registry.ready_profiles import ReadyProfile
from selfcheck.models import Commitment
from supervision import credit, grades
from supervision.models import Inspection, Violation
from tests.conftest import institution_payload, staff_payload
from tests.supervision.helpers import RULE_2, black_decision, recorded

TODAY = today_shanghai()



@pytest.fixture(autouse=True)
def _today_of_this_test():
    """TODAY as of this test, not of the collection: a run may cross midnight in Beijing (16:00 UTC)
    between the two (conftest's guard only keeps a test from starting in its last minute)."""
    global TODAY
    TODAY = today_shanghai()


def _scan(client, token, **kw):
    response = client.get(f"/api/v1/scan/{token}", **kw)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _everywhere(client, served, token) -> dict:
    """The answer both workers give (they must agree)."""
    first, second = _scan(client, token), _scan(served, token)
    assert first == second
    return first


def _document(token) -> ReadyProfile:
    with db.engine.connect() as connection:
        return connection.execute(select(ReadyProfile.__table__).join(Code.__table__)
                                  .where(Code.token == token)).one()


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=SHANGHAI)


def _set(model, key, **values) -> None:
    """Change stored values behind every writer's back (no mark), on a connection of its own."""
    with db.engine.begin() as connection:
        connection.execute(update(model.__table__).where(model.__table__.c.id == key).values(**values))


def _documents_age(institution_id: int, by: dt.timedelta) -> None:
    """The institution's documents were built `by` earlier: their valid_until comes that much sooner."""
    table = ReadyProfile.__table__
    with db.engine.begin() as connection:
        for code_id, until in connection.execute(select(table.c.code_id, table.c.valid_until)
                                                 .where(table.c.institution_id == institution_id)).all():
            connection.execute(update(table).where(table.c.code_id == code_id).values(valid_until=until - by))


@pytest.fixture
def member(admin, clinic) -> dict:
    response = admin.post(f"/api/v1/institutions/{clinic['id']}/staff", json=staff_payload(1, name="张医生"))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


# ---- the stored answer -----------------------------------------------------------------------------

def test_the_first_scan_stores_the_answer_and_the_next_ones_send_those_bytes(client, served, clinic):
    token = clinic["code"]["token"]
    assert _document(token).built_version is None  # issued unbuilt

    first = client.get(f"/api/v1/scan/{token}")
    stored = _document(token)
    again = served.get(f"/api/v1/scan/{token}")

    assert stored.built_version == stored.version and stored.body == first.get_data() == again.get_data()
    assert first.headers["ETag"] == again.headers["ETag"] == f'"{stored.etag}"'
    assert served.get(f"/c/{token}").get_data() == stored.page


def test_a_rebuild_that_changes_nothing_keeps_the_etag_so_304_still_answers(client, served, session, clinic):
    token = clinic["code"]["token"]
    etag = client.get(f"/api/v1/scan/{token}").headers["ETag"]
    ready_profiles.mark_stale(session, [clinic["id"]])  # as a writer whose change the profile does not show
    session.commit()
    assert _document(token).built_version != _document(token).version

    again = served.get(f"/api/v1/scan/{token}", headers={"If-None-Match": etag})

    assert again.status_code == 304
    assert _document(token).built_version == _document(token).version


def test_a_code_stored_without_its_document_gets_one_on_its_first_scan(client, served, clinic):
    token = clinic["code"]["token"]
    with db.engine.begin() as connection:
        connection.execute(delete(ReadyProfile.__table__))

    assert _scan(served, token)["institution"]["name"] == clinic["name"]
    assert _document(token).institution_id == clinic["id"]
    assert _document(token).built_version == _document(token).version


def test_a_worker_with_another_public_base_url_builds_its_own_answer(make_app, client, clinic):
    token = clinic["code"]["token"]
    _scan(client, token)
    other = make_app(PUBLIC_BASE_URL="https://other.example.org").test_client()

    assert _scan(other, token)["complaint_url"].startswith("https://other.example.org/")
    assert _scan(client, token)["complaint_url"].startswith("https://code.example.org/")


def test_a_build_that_read_before_a_concurrent_change_is_answered_but_not_kept(monkeypatch, client, served, admin,
                                                                                clinic):
    token = clinic["code"]["token"]
    real_scan = profile.scan

    def scan_while_someone_renames(**kwargs):
        shown = real_scan(**kwargs)  # read the old name, then another worker commits a change
        assert admin.on(served).patch(f"/api/v1/institutions/{clinic['id']}", json={"name": "同时改名"}).status_code == 200
        return shown

    monkeypatch.setattr(profile, "scan", scan_while_someone_renames)
    assert _scan(client, token)["institution"]["name"] == clinic["name"]
    monkeypatch.setattr(profile, "scan", real_scan)

    assert _document(token).built_version != _document(token).version
    assert _everywhere(client, served, token)["institution"]["name"] == "同时改名"


# ---- changes reach the next scan in every worker ------------------------------------------------------

def test_an_institution_change_shows_on_its_own_and_its_staffs_next_scans(client, served, admin, clinic, member):
    for token in (clinic["code"]["token"], member["code"]["token"]):
        _everywhere(client, served, token)

    admin.patch(f"/api/v1/institutions/{clinic['id']}", json={"name": "改名后的诊所", "address": "新地址 9 号"})

    institution = _everywhere(client, served, clinic["code"]["token"])["institution"]
    assert (institution["name"], institution["address"]) == ("改名后的诊所", "新地址 9 号")
    assert _everywhere(client, served, member["code"]["token"])["staff"]["institution"]["name"] == "改名后的诊所"


def test_a_suspended_licence_turns_both_profiles_red_at_once(client, served, admin, clinic, member):
    for token in (clinic["code"]["token"], member["code"]["token"]):
        assert _everywhere(client, served, token)["colour"] == "green"

    admin.patch(f"/api/v1/institutions/{clinic['id']}", json={"status": "suspended"})

    shown = _everywhere(client, served, clinic["code"]["token"])
    assert (shown["colour"], shown["institution"]["licence_status"]) == ("red", "suspended")
    assert _everywhere(client, served, member["code"]["token"])["colour"] == "red"


def test_staff_added_changed_and_leaving_show_on_the_next_scans(client, served, admin, clinic):
    token = clinic["code"]["token"]
    assert _everywhere(client, served, token)["institution"]["staff"] == []

    added = admin.post(f"/api/v1/institutions/{clinic['id']}/staff", json=staff_payload(1, name="李医生")).get_json()
    assert [s["name"] for s in _everywhere(client, served, token)["institution"]["staff"]] == ["李医生"]
    _everywhere(client, served, added["code"]["token"])

    admin.patch(f"/api/v1/staff/{added['id']}", json={"title": "副主任医师"})
    assert _everywhere(client, served, token)["institution"]["staff"][0]["title"] == "副主任医师"
    assert _everywhere(client, served, added["code"]["token"])["staff"]["title"] == "副主任医师"

    admin.patch(f"/api/v1/staff/{added['id']}", json={"status": "left"})
    assert _everywhere(client, served, token)["institution"]["staff"] == []
    assert _everywhere(client, served, added["code"]["token"])["staff"]["status"] == "left"


def test_a_revoked_code_answers_410_on_the_very_next_scan_in_every_worker(client, served, admin, clinic, member):
    old = clinic["code"]["token"]
    _everywhere(client, served, old)
    assert _everywhere(client, served, member["code"]["token"])["staff"]["institution"]["code_url"].endswith(old)

    new = admin.post(f"/api/v1/codes/{old}/revoke", json={"reason": "海报被盗"}).get_json()["token"]

    for worker in (client, served):
        assert worker.get(f"/api/v1/scan/{old}").status_code == 410
        assert worker.get(f"/c/{old}").status_code == 410
        assert _scan(worker, new)["institution"]["name"] == clinic["name"]
    assert _everywhere(client, served, member["code"]["token"])["staff"]["institution"]["code_url"].endswith(new)


def test_a_staff_members_new_code_shows_in_the_institutions_staff_list(client, served, admin, clinic, member):
    _everywhere(client, served, clinic["code"]["token"])

    new = admin.post(f"/api/v1/codes/{member['code']['token']}/revoke", json={"reason": "胸牌遗失"}).get_json()

    staff = _everywhere(client, served, clinic["code"]["token"])["institution"]["staff"]
    assert staff[0]["code_url"] == new["url"]


def test_a_signed_and_then_breached_commitment_shows_and_goes(client, served, clinic, clinic_account, health_officer):
    token = clinic["code"]["token"]
    assert _everywhere(client, served, token)["institution"]["commitment"] is None

    signed = clinic_account.post("/api/v1/commitments", json={"version": 1, "signer_name": "王某",
                                                             "signer_title": "法定代表人", "agree": True}).get_json()
    shown = _everywhere(client, served, token)["institution"]
    assert shown["commitment"]["valid_to"] == signed["valid_to"]
    assert shown["credit"]["grade"] == "A"

    assert health_officer.post(f"/api/v1/commitments/{signed['id']}/breach", json={"reason": "违诺"}).status_code == 200
    shown = _everywhere(client, served, token)["institution"]
    assert shown["commitment"] is None
    assert shown["credit"]["grade"] == "B"


def test_a_recorded_inspection_and_an_approved_penalty_show_on_the_next_scan(client, served, clinic, health_officer,
                                                                              health_supervisor):
    token = clinic["code"]["token"]
    _everywhere(client, served, token)

    body = {"institution_id": clinic["id"], "inspected_on": str(TODAY), "summary": "消毒记录不全", "public": True,
            "result": "penalty"}
    inspection = health_officer.post("/api/v1/inspections", json=body).get_json()
    assert _everywhere(client, served, token)["institution"]["inspections"] == []  # awaiting legal review

    review = {"decision": "approved", "note": "合法", "decision_no": "卫罚〔2026〕1号"}
    health_supervisor.post(f"/api/v1/inspections/{inspection['id']}/legal-review", json=review)
    shown = _everywhere(client, served, token)["institution"]
    assert [i["summary"] for i in shown["inspections"]] == ["消毒记录不全"]
    assert [p["decision_no"] for p in shown["penalties"]] == ["卫罚〔2026〕1号"]


def test_a_black_list_decision_turns_the_code_red_on_the_next_scan(client, served, clinic, supervisor):
    token = clinic["code"]["token"]
    assert _everywhere(client, served, token)["colour"] == "green"

    assert black_decision(supervisor, clinic["id"]).status_code == 201

    shown = _everywhere(client, served, token)
    assert shown["colour"] == "red" and shown["institution"]["credit"]["lists"] == ["black"]


def test_the_daily_credit_recomputation_marks_the_profiles_it_changes(client, served, clinic, health_officer):
    """A violation's window ends unnoticed (plain SQL: nothing marks it), then the set-based recompute
    finds it final: the profiles of the institution it changed show it on their next scan."""
    token = clinic["code"]["token"]
    violation = recorded(health_officer, clinic["id"], RULE_2, public=True)
    assert _everywhere(client, served, token)["institution"]["penalties"] == []
    _set(Violation, violation["id"], objection_due_at=utcnow() - dt.timedelta(minutes=1))
    assert _scan(served, token)["institution"]["penalties"] == []  # nothing marked it, its moment has not come

    assert credit.recompute(session=db.session, reason="daily recomputation") >= 1
    db.session.commit()

    shown = _everywhere(client, served, token)["institution"]
    assert [p["summary"] for p in shown["penalties"]] == [violation["description"]]
    assert shown["credit"]["grade"] == "B"


# ---- the date alone changes a profile: valid_until -----------------------------------------------------

def test_a_licence_turning_expiring_shows_the_day_it_does(admin, client, served):
    created = admin.post("/api/v1/institutions", json=institution_payload(
        3, licence_valid_to=str(TODAY + dt.timedelta(days=31)))).get_json()
    token = created["code"]["token"]
    assert _everywhere(client, served, token)["institution"]["licence_status"] == "valid"
    assert _document(token).valid_until == _midnight(TODAY + dt.timedelta(days=1))  # 30 days before its last

    _set(Institution, created["id"], licence_valid_to=TODAY + dt.timedelta(days=30))  # a day passes
    _documents_age(created["id"], dt.timedelta(days=1))

    shown = _scan(served, token)
    assert (shown["institution"]["licence_status"], shown["colour"]) == ("expiring", "green")


def test_a_licence_expiring_today_is_red_tomorrow(admin, client, served):
    created = admin.post("/api/v1/institutions", json=institution_payload(
        4, licence_valid_to=str(TODAY))).get_json()
    token = created["code"]["token"]
    assert _everywhere(client, served, token)["institution"]["licence_status"] == "expiring"
    assert _document(token).valid_until == _midnight(TODAY + dt.timedelta(days=1))

    _set(Institution, created["id"], licence_valid_to=TODAY - dt.timedelta(days=1))
    _documents_age(created["id"], dt.timedelta(days=1))

    shown = _scan(served, token)
    assert (shown["institution"]["licence_status"], shown["colour"]) == ("expired", "red")


def test_a_commitment_lapsing_leaves_the_profile_the_day_after_its_last(session, client, served, clinic,
                                                                         clinic_account):
    token = clinic["code"]["token"]
    signed = clinic_account.post("/api/v1/commitments", json={"version": 1, "signer_name": "王某",
                                                             "signer_title": "法定代表人", "agree": True}).get_json()
    commitment = session.get(Commitment, signed["id"])  # its last day is today (through the ORM: marked)
    commitment.valid_from, commitment.valid_to = TODAY - dt.timedelta(days=364), TODAY
    institution = session.get(Institution, clinic["id"])
    institution.commitment_valid_to, institution.credit_stale_after = TODAY, utcnow()
    session.commit()
    assert _everywhere(client, served, token)["institution"]["credit"]["grade"] == "A"
    assert _document(token).valid_until == _midnight(TODAY + dt.timedelta(days=1))

    day = dt.timedelta(days=1)  # a day passes
    _set(Commitment, signed["id"], valid_from=TODAY - dt.timedelta(days=365), valid_to=TODAY - day)
    stale_after = session.scalar(select(Institution.credit_stale_after).where(Institution.id == clinic["id"]))
    _set(Institution, clinic["id"], commitment_valid_to=TODAY - day, credit_stale_after=stale_after - day)
    _documents_age(clinic["id"], day)

    shown = _scan(served, token)["institution"]
    assert shown["commitment"] is None
    assert shown["credit"]["grade"] == "B"


def test_a_public_violation_shows_as_a_penalty_once_its_objection_window_ends(session, client, served, clinic,
                                                                               health_officer):
    token = clinic["code"]["token"]
    violation = recorded(health_officer, clinic["id"], RULE_2, public=True)
    assert _everywhere(client, served, token)["institution"]["penalties"] == []
    due = dt.datetime.fromisoformat(violation["objection_due_at"])
    assert _document(token).valid_until <= due  # the credit snapshot's moment: the window's end

    passed = due - utcnow() + dt.timedelta(minutes=1)  # the window ends
    _set(Violation, violation["id"], objection_due_at=due - passed)
    stale_after = session.scalar(select(Institution.credit_stale_after).where(Institution.id == clinic["id"]))
    _set(Institution, clinic["id"], credit_stale_after=stale_after - passed)
    _documents_age(clinic["id"], passed)

    assert [p["summary"] for p in _scan(served, token)["institution"]["penalties"]] == [violation["description"]]


def test_an_inspection_leaves_the_profile_when_it_leaves_the_public_window(client, served, clinic, health_officer):
    token = clinic["code"]["token"]
    oldest_shown = grades.years_before(TODAY, policy.in_force(TODAY).public_years)  # its last day shown
    body = {"institution_id": clinic["id"], "inspected_on": str(oldest_shown), "summary": "五年前的检查",
            "public": True, "result": "pass"}
    inspection = health_officer.post("/api/v1/inspections", json=body).get_json()
    assert [i["summary"] for i in _everywhere(client, served, token)["institution"]["inspections"]] == ["五年前的检查"]
    assert _document(token).valid_until == _midnight(TODAY + dt.timedelta(days=1))

    _set(Inspection, inspection["id"], inspected_on=oldest_shown - dt.timedelta(days=1))  # a day passes
    _documents_age(clinic["id"], dt.timedelta(days=1))

    assert _scan(served, token)["institution"]["inspections"] == []


# ---- the migration ------------------------------------------------------------------------------------

def test_the_migration_gives_every_existing_code_an_unbuilt_document(app, client, clinic, member):
    db.session.remove()
    downgrade(revision="fae1888035f1")
    upgrade()

    with db.engine.connect() as connection:
        rows = connection.execute(select(ReadyProfile.__table__.c.code_id, ReadyProfile.__table__.c.institution_id,
                                         ReadyProfile.__table__.c.built_version)).all()
        codes = connection.execute(select(Code.__table__.c.id)).scalars().all()
    assert sorted(row.code_id for row in rows) == sorted(codes)
    assert {row.institution_id for row in rows} == {clinic["id"]}
    assert all(row.built_version is None for row in rows)
    assert _scan(client, member["code"]["token"])["staff"]["name"] == "张医生"


def test_build_profiles_builds_every_document_not_current_and_scans_then_read_them(app, client, clinic, member):
    token = clinic["code"]["token"]
    result = app.test_cli_runner().invoke(args=["build-profiles"])

    assert result.exit_code == 0, result.output
    assert result.output.strip() == "2 profile(s) built"
    assert _document(token).built_version == _document(token).version
    assert _document(member["code"]["token"]).built_version == _document(member["code"]["token"]).version
    assert app.test_cli_runner().invoke(args=["build-profiles"]).output.strip() == "0 profile(s) built"
    assert _scan(client, token)["institution"]["staff"][0]["name"] == "张医生"

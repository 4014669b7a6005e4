"""Every export, in both formats, as each persona that may use it and each that may not, served as in
production (issue 15, defect 2): each request its own session, torn down before the streamed body is
read. The whole body is read back and must hold every row the persona's list shows; the complainant's
contact goes only to the handling department, and an export that carried it is audited once, when it
has been delivered."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from api.audit import AuditEntry
from api.database import today_shanghai
from selfcheck import periods
from selfcheck import templates as template_files
from tests.complaints.workflow_helpers import complaint_body
from tests.conftest import institution_payload
from tests.exchange.helpers import BOM, as_dicts, read_csv, read_xlsx

COMPLAINTS = "/api/v1/complaints/export"
# export -> (the list it must match, the list's id field, the export's id column)
EXPORTS = {
    COMPLAINTS: ("/api/v1/complaints", "tracking_no", "受理编号"),
    "/api/v1/institutions/export": ("/api/v1/institutions", "id", "机构编号"),
    "/api/v1/leads/export": ("/api/v1/leads", "id", "线索编号"),
    "/api/v1/selfchecks/export": ("/api/v1/selfchecks", "id", "自查编号"),
    "/api/v1/lists/black/export": ("/api/v1/lists/black", "institution_id", "机构编号"),
    "/api/v1/lists/red/export": ("/api/v1/lists/red", "institution_id", "机构编号"),
}
ALLOWED = ("admin", "health_officer", "health_supervisor", "market_officer")
NAMED_CONTACT = ("张三", "13800138000")


@pytest.fixture
def world(client, session, admin, clinic, clinic_account, citizen, health_supervisor) -> dict:
    """Named and anonymous complaints (one anonymous case filed by a logged-in citizen, one serious
    one that opens a lead), a black-listed institution, and a self-inspection filing."""
    def complain(persona, **kwargs) -> str:
        response = persona.post("/api/v1/complaints", json=complaint_body({"institution_id": clinic["id"]}, **kwargs))
        assert response.status_code == 201, response.get_json()
        return response.get_json()["tracking_no"]

    cases = {
        "health_named": complain(client),
        "health_anonymous": complain(citizen, anonymous=True),
        "market_named": complain(client, category="prices_charges"),
        "serious_anonymous": complain(citizen, category="insurance_fraud", anonymous=True),
    }
    listed = admin.post("/api/v1/institutions", json=institution_payload(2, name="黑名单诊所")).get_json()
    response = health_supervisor.post("/api/v1/lists/black/decisions",
                                      json={"institution_id": listed["id"], "reason": "多次无证执业，拒不整改"})
    assert response.status_code == 201, response.get_json()
    template_files.load_files(session=session)
    session.commit()
    (template,) = client.get("/api/v1/selfcheck/templates", query_string={"category": "clinic"}).get_json()
    general = next(item["code"] for item in template["items"] if item["tier"] == "general")
    due = str(today_shanghai() + dt.timedelta(days=30))
    answers = [{"item_code": item["code"], "result": "compliant"} if item["code"] != general else
               {"item_code": general, "result": "non_compliant", "note": "未做到",
                "rectification": {"plan": "立即整改", "owner": "张某", "due_date": due}} for item in template["items"]]
    response = clinic_account.post("/api/v1/selfchecks", json={
        "template_id": template["id"], "period": periods.quarter_of(today_shanghai()).label, "answers": answers,
        "signer_name": "王某"})
    assert response.status_code == 201, response.get_json()
    return cases


def _listed(persona, path: str, key: str) -> set[str]:
    """Every id of `path` (a paged list) as `persona` sees it, as text."""
    found, page = set(), 1
    while True:
        response = persona.get(path, query_string={"page": page, "page_size": 100})
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        found |= {str(item[key]) for item in body["items"]}
        if page * 100 >= body["total"]:
            return found
        page += 1


def _read(response, fmt: str) -> list[dict]:
    """The whole body, parsed: every row as {header: text}."""
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    body = response.get_data()
    if fmt == "csv":
        assert body.endswith(b"\r\n")  # not cut after a row
        return as_dicts(read_csv(body))
    return [{k: "" if v is None else str(v) for k, v in row.items()} for row in as_dicts(read_xlsx(body)[0])]


def _contact_exports(session, account_id: int) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "export_contacts", AuditEntry.account_id == account_id))


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
@pytest.mark.parametrize("path", list(EXPORTS))
@pytest.mark.parametrize("who", ALLOWED)
def test_every_export_is_delivered_whole_to_each_regulator(request, served, world, path, fmt, who):
    persona = request.getfixturevalue(who)
    list_path, key, column = EXPORTS[path]

    rows = _read(persona.on(served).get(path, query_string={"format": fmt}), fmt)

    assert rows or path.endswith("/red/export")
    assert {row[column] for row in rows} == _listed(persona, list_path, key)


# The contact each persona's complaints export carries, per case; every other visible case has none.
CONTACTS = {
    "admin": {},
    "health_officer": {"health_named": NAMED_CONTACT},
    "health_supervisor": {"health_named": NAMED_CONTACT},
    "market_officer": {"market_named": NAMED_CONTACT},
}


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
@pytest.mark.parametrize("who", ALLOWED)
def test_the_complaints_export_gives_contacts_to_the_handling_department_only_and_audits_once(
        request, served, session, world, fmt, who):
    persona = request.getfixturevalue(who)

    rows = {row["受理编号"]: row for row in _read(persona.on(served).get(COMPLAINTS, query_string={"format": fmt}), fmt)}

    expected = {case: CONTACTS[who].get(case, ("", "")) for case, number in world.items() if number in rows}
    assert {case: (rows[world[case]]["投诉人"], rows[world[case]]["联系电话"]) for case in expected} == expected
    assert _contact_exports(session, persona.account.id) == (1 if CONTACTS[who] else 0)


def test_the_audit_entry_is_written_once_the_export_has_been_delivered(served, session, world, health_officer):
    response = health_officer.on(served).get(COMPLAINTS, query_string={"format": "csv"}, buffered=False)
    before = _contact_exports(session, health_officer.account.id)

    body = b"".join(response.response)
    response.close()

    assert before == 0
    assert body.startswith(BOM) and world["health_named"].encode() in body
    assert _contact_exports(session, health_officer.account.id) == 1


def test_an_export_abandoned_before_any_contact_left_is_not_audited(served, session, world, health_officer):
    response = health_officer.on(served).get(COMPLAINTS, query_string={"format": "csv"}, buffered=False)

    header = next(iter(response.response))
    response.close()

    assert header.startswith(BOM)
    assert _contact_exports(session, health_officer.account.id) == 0


def test_an_export_cut_short_after_a_contact_left_is_audited_as_such(served, session, world, health_officer):
    response = health_officer.on(served).get(COMPLAINTS, query_string={"format": "csv"}, buffered=False)
    chunks = iter(response.response)

    received = b"".join(next(chunks) for _ in range(3))  # the header and both of health's cases
    response.close()  # before asking for the end

    assert world["health_named"].encode() in received
    (entry,) = session.scalars(select(AuditEntry).where(AuditEntry.action == "export_contacts")).all()
    assert (entry.account_id, entry.detail) == (health_officer.account.id, "1（传输中断）")


@pytest.mark.parametrize("path", list(EXPORTS))
@pytest.mark.parametrize(("who", "status"), [("clinic_account", 403), ("citizen", 403), (None, 401)])
def test_no_one_else_may_export(request, served, world, path, who, status):
    caller = request.getfixturevalue(who).on(served) if who else served

    for fmt in ("xlsx", "csv"):
        response = caller.get(path, query_string={"format": fmt})

        assert response.status_code == status
        assert response.get_json()["code"] == ("FORBIDDEN" if status == 403 else "UNAUTHORIZED")

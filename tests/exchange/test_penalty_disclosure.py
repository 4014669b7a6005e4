"""双公示: approved public penalties in the national disclosure fields, as JSON, CSV and XLSX, with
`since` for increments; regulators and API clients with credit:read only."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import openpyxl
import pytest
from sqlalchemy import select, update

from api.database import db, today_shanghai, utcnow
from exchange import penalties
from exchange.models import PenaltyDetails
from supervision.models import Inspection, InspectionFinding
from tests.supervision.helpers import new_institution

FEED, INSPECTIONS = "/api/v1/exports/penalties", "/api/v1/inspections"
AUTHORITIES = json.dumps({"health": {"name": "济南市历下区卫生健康委员会", "uscc": "11370102MB00000017"}})


def penalised(officer, reviewer, institution_id: int, decision_no: str, *, public: bool = True) -> dict:
    response = officer.post(INSPECTIONS, json={"institution_id": institution_id, "inspected_on": str(today_shanghai()),
                                               "result": "penalty", "summary": "使用非卫生技术人员从事诊疗活动",
                                               "public": public})
    assert response.status_code == 201, response.get_json()
    record = response.get_json()
    response = reviewer.post(f"{INSPECTIONS}/{record['id']}/legal-review",
                             json={"decision": "approved", "note": "事实清楚，证据确凿，程序合法", "decision_no": decision_no})
    assert response.status_code == 200, response.get_json()
    settle()
    return response.get_json()


def settle(by: dt.timedelta = penalties.SETTLE + dt.timedelta(minutes=1)) -> None:
    """Move what changed within the feed's settle window back by `by`, in the database, as if that time
    had passed (the feed holds back rows changed within penalties.SETTLE)."""
    recent = utcnow() - penalties.SETTLE - dt.timedelta(seconds=1)
    for inspection in db.session.scalars(select(Inspection)):
        for name in ("penalty_approved_at", "published_at"):
            if (value := getattr(inspection, name)) is not None and value > recent:
                setattr(inspection, name, value - by)
    for details in db.session.scalars(select(PenaltyDetails).where(PenaltyDetails.updated_at > recent)):
        details.updated_at -= by
    db.session.commit()


def put_details(officer, inspection_id: int, details: dict | None = None):
    response = officer._call("put", f"{INSPECTIONS}/{inspection_id}/penalty-details", json=details or DETAILS)
    settle()
    return response


DETAILS = {"violation_type": "使用非卫生技术人员从事医疗卫生技术工作",
           "facts": "经查，该诊所使用未取得执业资格人员从事诊疗活动", "basis": "《医疗机构管理条例》第四十七条",
           "kinds": ["warning", "fine"], "content": "警告，并处罚款人民币伍仟元", "fine_yuan": "5000.00"}


@pytest.fixture
def feed_app(make_app):
    app = make_app(PENALTY_AUTHORITIES=AUTHORITIES)
    with app.app_context():
        yield app


def test_an_approved_public_penalty_is_on_the_feed_with_the_national_fields(
        admin, clinic, health_officer, health_supervisor, market_officer):
    record = penalised(health_officer, health_supervisor, clinic["id"], "历卫医罚〔2026〕12号")
    details = put_details(health_officer, record["id"])
    assert details.status_code == 200, details.get_json()
    response = market_officer.get(FEED)
    assert response.status_code == 200
    [item] = response.get_json()["items"]
    assert item["subject_name"] == clinic["name"] and item["uscc"] == clinic["uscc"]
    assert item["legal_representative"] == "王某" and item["decision_no"] == "历卫医罚〔2026〕12号"
    assert item["penalty_category"] == "警告；罚款" and item["fine_amount_wan"] == "0.500000"
    assert item["basis"] == DETAILS["basis"] and item["decided_on"] == str(today_shanghai())
    assert item["valid_until"] == "2099-12-31"
    assert item["publish_until"] == str(today_shanghai().replace(year=today_shanghai().year + 5))
    assert item["authority"] == "卫生健康委" and item["source"] == "卫生健康委"
    assert item["complete"] is False  # no authority USCC configured


def test_the_authority_and_its_code_come_from_the_settings(feed_app, login, health_officer):
    client = feed_app.test_client()
    admin = login("admin").on(client)
    institution = new_institution(admin, 7)
    officer = login("officer", department="health").on(client)
    reviewer = login("supervisor", department="health").on(client)
    record = penalised(officer, reviewer, institution["id"], "历卫医罚〔2026〕13号")
    put_details(officer, record["id"])
    [item] = admin.get(FEED).get_json()["items"]
    assert item["authority"] == "济南市历下区卫生健康委员会" and item["authority_uscc"] == "11370102MB00000017"
    assert item["complete"] is True


def test_pending_returned_and_non_public_penalties_are_not_on_the_feed(admin, clinic, second_clinic, health_officer,
                                                                       health_supervisor):
    response = health_officer.post(INSPECTIONS, json={"institution_id": clinic["id"], "inspected_on": str(today_shanghai()),
                                                      "result": "penalty", "summary": "待审核", "public": True})
    assert response.status_code == 201
    penalised(health_officer, health_supervisor, second_clinic["id"], "历卫医罚〔2026〕14号", public=False)
    assert admin.get(FEED).get_json()["items"] == []


def test_since_returns_only_what_changed_after_it_oldest_first(admin, clinic, second_clinic, health_officer,
                                                               health_supervisor):
    first = penalised(health_officer, health_supervisor, clinic["id"], "历卫医罚〔2026〕15号")
    page = admin.get(FEED).get_json()
    assert [item["id"] for item in page["items"]] == [first["id"]]
    since = page["next_since"]
    second = penalised(health_officer, health_supervisor, second_clinic["id"], "历卫医罚〔2026〕16号")
    increment = admin.get(FEED, query_string={"since": since}).get_json()
    assert [item["id"] for item in increment["items"]] == [second["id"]]
    put_details(health_officer, first["id"])
    later = admin.get(FEED, query_string={"since": increment["next_since"]}).get_json()
    assert [item["id"] for item in later["items"]] == [first["id"]] and later["items"][0]["penalty_content"]
    assert admin.get(FEED, query_string={"since": later["next_since"]}).get_json() == {"items": [], "next_since": None}
    assert admin.get(FEED, query_string={"since": "yesterday"}).status_code == 422


def test_csv_and_xlsx_carry_the_national_field_names(admin, clinic, health_officer, health_supervisor):
    penalised(health_officer, health_supervisor, clinic["id"], "历卫医罚〔2026〕17号")
    response = admin.get(FEED, query_string={"format": "csv"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0][:4] == ["行政相对人名称", "统一社会信用代码", "法定代表人", "行政处罚决定书文号"]
    assert "罚款金额（万元）" in rows[0] and "处罚机关统一社会信用代码" in rows[0]
    assert rows[1][0] == clinic["name"] and rows[1][3] == "历卫医罚〔2026〕17号"
    workbook = openpyxl.load_workbook(io.BytesIO(admin.get(FEED, query_string={"format": "xlsx"}).data))
    sheet = workbook.active
    assert sheet.cell(1, 1).value == "行政相对人名称" and sheet.cell(2, 1).value == clinic["name"]
    assert admin.get(FEED, query_string={"format": "pdf"}).status_code == 422


@pytest.mark.parametrize("persona", ["citizen", "clinic_account"])
def test_citizens_institutions_and_anonymous_callers_may_not_read_it(request, client, persona):
    assert request.getfixturevalue(persona).get(FEED).status_code == 403
    assert client.get(FEED).status_code == 401


def test_details_are_written_by_the_deciding_department_for_an_approved_penalty_only(
        clinic, health_officer, health_supervisor, market_officer):
    record = penalised(health_officer, health_supervisor, clinic["id"], "历卫医罚〔2026〕18号")
    path = f"{INSPECTIONS}/{record['id']}/penalty-details"
    assert market_officer._call("put", path, json=DETAILS).status_code == 403
    assert health_officer._call("put", path, json={**DETAILS, "kinds": ["warning"]}).status_code == 422  # fine given
    assert health_officer._call("put", path, json={**DETAILS, "kinds": ["fine"], "fine_yuan": None}).status_code == 422
    assert health_officer._call("put", path, json={**DETAILS, "kinds": ["jail"]}).status_code == 422
    passed = health_officer.post(INSPECTIONS, json={"institution_id": clinic["id"], "inspected_on": str(today_shanghai()),
                                                    "result": "pass", "summary": "合格", "public": True}).get_json()
    response = health_officer._call("put", f"{INSPECTIONS}/{passed['id']}/penalty-details", json=DETAILS)
    assert response.status_code == 409


@pytest.mark.parametrize("since", ["0001-01-01T00:00:00", "9999-12-31T23:59:59-01:00", "1999-12-31T23:59:59+00:00",
                                   "2101-01-02T00:00:00"])
def test_a_since_outside_the_years_2000_to_2100_is_422(admin, since):
    response = admin.get(FEED, query_string={"since": since})
    assert response.status_code == 422 and "since" in response.get_json()["fields"]


def test_until_details_are_filled_in_the_facts_are_the_public_summary_never_the_findings_notes(
        admin, clinic, health_officer, health_supervisor, session):
    record = penalised(health_officer, health_supervisor, clinic["id"], "历卫医罚〔2026〕19号")
    internal = "内部：举报人系该诊所前员工，线索来自其家属"
    session.execute(update(InspectionFinding).where(InspectionFinding.inspection_id == record["id"])
                    .values(note=internal))
    session.add(InspectionFinding(inspection_id=record["id"], department="health", result="penalty", note=internal,
                                  review="approved"))
    session.commit()
    [item] = admin.get(FEED).get_json()["items"]
    assert item["facts"] == "使用非卫生技术人员从事诊疗活动" and item["complete"] is False
    csv_text = admin.get(FEED, query_string={"format": "csv"}).data.decode("utf-8-sig")
    assert internal not in csv_text and "使用非卫生技术人员从事诊疗活动" in csv_text


def test_a_row_changed_within_the_settle_window_is_held_back_until_it_has_settled(
        admin, clinic, second_clinic, health_officer, health_supervisor):
    first = penalised(health_officer, health_supervisor, clinic["id"], "历卫医罚〔2026〕20号")
    second = penalised(health_officer, health_supervisor, second_clinic["id"], "历卫医罚〔2026〕21号")
    just_now = utcnow() - penalties.SETTLE + dt.timedelta(minutes=1)
    db.session.execute(update(Inspection).where(Inspection.id == second["id"]).values(published_at=just_now))
    db.session.commit()
    page = admin.get(FEED).get_json()
    assert [item["id"] for item in page["items"]] == [first["id"]]
    settle()
    later = admin.get(FEED, query_string={"since": page["next_since"]}).get_json()
    assert [item["id"] for item in later["items"]] == [second["id"]]


@pytest.mark.parametrize("format", ["csv", "xlsx"])
def test_a_file_answers_the_next_since_in_a_header(admin, clinic, second_clinic, health_officer, health_supervisor,
                                                   format):
    penalised(health_officer, health_supervisor, clinic["id"], "历卫医罚〔2026〕22号")
    response = admin.get(FEED, query_string={"format": format})
    assert response.status_code == 200 and response.data  # a streamed body: read it before the next call
    next_since = response.headers["X-Next-Since"]
    assert next_since == admin.get(FEED).get_json()["next_since"]
    second = penalised(health_officer, health_supervisor, second_clinic["id"], "历卫医罚〔2026〕23号")
    assert [item["id"] for item in admin.get(FEED, query_string={"since": next_since}).get_json()["items"]] == [second["id"]]
    empty = admin.get(FEED, query_string={"format": format, "since": admin.get(FEED).get_json()["next_since"]})
    assert empty.status_code == 200 and empty.data and "X-Next-Since" not in empty.headers

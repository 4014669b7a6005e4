"""The complaints export: the list's visibility and filters, Chinese headers, injection-safe cells,
and the complainant's contact only for the handling department (audited)."""

from __future__ import annotations

import io

import openpyxl
import pytest
from sqlalchemy import select

from api.audit import AuditEntry
from tests.exchange.helpers import export, read_csv, read_xlsx

EXPORT = "/api/v1/complaints/export"
INJECTION = "=cmd|' /C calc'!A0 收费不明，请核查"


def _submit(client, clinic, category: str, *, content: str = "收费明显高于公示价格，且拒绝出具发票。", named: bool = True):
    body = {"category": category, "content": content, "target": {"institution_id": clinic["id"]},
            "anonymous": not named}
    if named:
        body |= {"contact_name": "张三丰", "contact_phone": "13912345678"}
    response = client.post("/api/v1/complaints", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@pytest.fixture
def cases(client, clinic) -> dict[str, dict]:
    """Named cases for health (its own), market, and ecology (radiation: health sees it too), and an
    anonymous one for health."""
    return {
        "health": _submit(client, clinic, "medical_quality", content="输液后出现过敏反应，医生未做皮试。"),
        "health_anonymous": _submit(client, clinic, "medical_quality", named=False),
        "market": _submit(client, clinic, "prices_charges", content=INJECTION),
        "ecology": _submit(client, clinic, "radiation", content="放射科门未关，候诊区无防护提示。"),
    }


def _by_number(rows: list[dict]) -> dict[str, dict]:
    return {row["受理编号"]: row for row in rows}


def _audits(session):
    session.expire_all()
    return session.scalars(select(AuditEntry).where(AuditEntry.action == "export_contacts")).all()


def test_the_export_has_chinese_headers_and_the_cases_content(admin, cases, clinic):
    response = admin.get(EXPORT, query_string={"format": "csv"})

    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    table = read_csv(response.get_data())
    assert table[0][:4] == ["受理编号", "投诉类别", "状态", "承办部门"]
    row = _by_number([dict(zip(table[0], r, strict=True)) for r in table[1:]])[cases["health"]["tracking_no"]]
    assert row["投诉类别"] == "医疗质量与安全"
    assert row["状态"] == "待受理"
    assert row["承办部门"] == "卫生健康委"
    assert row["被投诉机构/场所"] == clinic["name"]
    assert row["投诉内容"] == "输液后出现过敏反应，医生未做皮试。"
    assert row["匿名"] == "否"
    assert row["是否超期"] == "否"
    assert len(row["提交时间"]) == len("2026-01-31 09:30")  # Beijing time, to the minute


def test_the_csv_starts_with_a_bom_so_excel_reads_it_as_utf_8(admin, cases):
    body = admin.get(EXPORT, query_string={"format": "csv"}).get_data()

    assert body.startswith(b"\xef\xbb\xbf\xe5\x8f\x97")  # BOM, then 受


def test_xlsx_is_the_default_with_widths_and_a_frozen_header(admin, cases):
    response = admin.get(EXPORT)

    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    values, sheet = read_xlsx(response.get_data())
    assert values[0][0] == "受理编号"
    assert len(values) == 1 + 4
    assert sheet.column_dimensions["A"].width == 20
    assert sheet.column_dimensions["I"].width == 60  # 投诉内容
    assert sheet.freeze_panes == "A2"


def test_the_body_is_streamed(admin, cases):
    response = admin.get(EXPORT, query_string={"format": "csv"}, buffered=False)

    assert response.is_streamed
    response.close()


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_formula_in_a_complaints_text_is_exported_as_text(admin, cases, fmt):
    rows = _by_number(export(admin, EXPORT, fmt))

    assert rows[cases["market"]["tracking_no"]]["投诉内容"] == "'" + INJECTION


def test_an_xlsx_cell_starting_with_equals_is_a_string_not_a_formula(admin, cases):
    workbook = openpyxl.load_workbook(io.BytesIO(admin.get(EXPORT).get_data()))
    cells = [cell for row in workbook.active.iter_rows(min_row=2) for cell in row]
    workbook.close()
    assert not [cell for cell in cells if cell.data_type == "f"]


def test_the_handling_department_gets_the_contact_of_its_named_cases(health_officer, cases):
    rows = _by_number(export(health_officer, EXPORT, "csv"))

    own = rows[cases["health"]["tracking_no"]]
    assert (own["投诉人"], own["联系电话"]) == ("张三丰", "13912345678")
    anonymous = rows[cases["health_anonymous"]["tracking_no"]]
    assert (anonymous["投诉人"], anonymous["联系电话"], anonymous["匿名"]) == ("", "", "是")


def test_a_case_seen_but_handled_by_another_department_has_no_contact(health_officer, cases):
    rows = _by_number(export(health_officer, EXPORT, "csv"))

    co_handled = rows[cases["ecology"]["tracking_no"]]  # radiation: ecology handles, health sees
    assert co_handled["承办部门"] == "生态环境局"
    assert (co_handled["投诉人"], co_handled["联系电话"]) == ("", "")


def test_an_officer_exports_only_what_its_list_shows(health_officer, market_officer, cases):
    health = set(_by_number(export(health_officer, EXPORT, "csv")))
    market = _by_number(export(market_officer, EXPORT, "xlsx"))

    assert health == {cases[k]["tracking_no"] for k in ("health", "health_anonymous", "ecology")}
    assert set(market) == {cases["market"]["tracking_no"]}
    assert market[cases["market"]["tracking_no"]]["投诉人"] == "张三丰"


def test_an_admin_exports_every_case_without_any_contact(admin, cases, session):
    rows = export(admin, EXPORT, "csv")

    assert len(rows) == 4
    assert {(row["投诉人"], row["联系电话"]) for row in rows} == {("", "")}
    assert _audits(session) == []


def test_exporting_contacts_writes_one_audit_entry_with_the_row_count(health_officer, cases, session):
    export(health_officer, EXPORT, "csv")

    (entry,) = _audits(session)
    assert entry.account_id == health_officer.account.id
    assert entry.detail == "1"  # one named case of its own; the anonymous and co-handled ones carry none


def test_an_export_without_contacts_writes_no_audit_entry(health_officer, cases, session):
    export(health_officer, EXPORT, "csv", category="radiation")

    assert _audits(session) == []


@pytest.mark.parametrize(("query", "expected"), [
    ({"category": "medical_quality"}, {"health", "health_anonymous"}),
    ({"department": "ecology"}, {"ecology"}),
    ({"status": "accepted"}, set()),
    ({"overdue": "false"}, {"health", "health_anonymous", "market", "ecology"}),
])
def test_the_lists_filters_apply(admin, cases, query, expected):
    rows = _by_number(export(admin, EXPORT, "csv", **query))

    assert set(rows) == {cases[k]["tracking_no"] for k in expected}


def test_an_export_holds_every_row_whatever_the_paging_arguments(admin, cases):
    rows = export(admin, EXPORT, "csv", page=2, page_size=1)

    assert len(rows) == 4


def test_an_unknown_format_is_refused(admin):
    response = admin.get(EXPORT, query_string={"format": "pdf"})

    assert response.status_code == 422
    assert "format" in response.get_json()["fields"]


def test_an_institution_account_may_not_export(clinic_account, cases):
    response = clinic_account.get(EXPORT)

    assert response.status_code == 403
    assert response.get_json()["code"] == "FORBIDDEN"


def test_an_anonymous_caller_may_not_export(client):
    assert client.get(EXPORT).status_code == 401

"""Exports of the directory (with credit and lists), leads, self-inspection findings and the lists."""

from __future__ import annotations

import datetime as dt

import pytest

from api.database import today_shanghai, utcnow
from leads import service as leads
from selfcheck import periods
from selfcheck import templates as template_files
from tests.conftest import institution_payload, valid_uscc
from tests.exchange.helpers import export, read_xlsx

INSTITUTIONS = "/api/v1/institutions/export"
LEADS = "/api/v1/leads/export"
SELFCHECKS = "/api/v1/selfchecks/export"
INJECTION = "=cmd|' /C calc'!A0"


def _register(admin, serial: int, **overrides) -> dict:
    response = admin.post("/api/v1/institutions", json=institution_payload(serial, **overrides))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@pytest.fixture
def black_listed(admin, supervisor) -> dict:
    institution = _register(admin, 2, name="黑名单诊所", street="洪家楼街道", category="dental")
    response = supervisor.post("/api/v1/lists/black/decisions",
                               json={"institution_id": institution["id"], "reason": "多次无证执业，拒不整改"})
    assert response.status_code == 201, response.get_json()
    return institution


# ---- institutions ---------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_directory_export_carries_licence_status_credit_and_lists(admin, clinic, black_listed, fmt):
    rows = {row["统一社会信用代码"]: row for row in export(admin, INSTITUTIONS, fmt)}

    ordinary, listed = rows[valid_uscc(1)], rows[valid_uscc(2)]
    assert ordinary["名称"] == "测试诊所1"
    assert ordinary["类别"] == "诊所"
    assert ordinary["诊疗科目"] == "内科、外科"
    assert ordinary["许可证状态"] == "有效"
    assert (ordinary["信用等级"], ordinary["码色"], ordinary["执业状态"]) == ("B", "绿码", "正常执业")
    assert ordinary["码链接"] == clinic["code"]["url"]
    assert ordinary["有效期至"] == clinic["licence_valid_to"]
    assert (listed["信用等级"], listed["码色"], listed["名单"]) == ("D", "红码", "黑名单")
    assert listed["监管方式"] == "驻点监管"
    assert listed["风险等级"] == "高"


def test_the_directory_export_starts_with_the_import_templates_columns(admin, clinic):
    from directory.imports import INSTITUTION_COLUMNS

    values, sheet = read_xlsx(admin.get(INSTITUTIONS).get_data())

    assert values[0][:len(INSTITUTION_COLUMNS)] == [chinese for chinese, _ in INSTITUTION_COLUMNS.values()]
    assert sheet.column_dimensions["A"].width == 30
    assert sheet.freeze_panes == "A2"


def test_the_directory_export_takes_the_lists_filters(admin, clinic, black_listed):
    assert [r["名称"] for r in export(admin, INSTITUTIONS, street="洪家楼街道")] == ["黑名单诊所"]
    assert [r["名称"] for r in export(admin, INSTITUTIONS, grade="B")] == ["测试诊所1"]
    assert [r["名称"] for r in export(admin, INSTITUTIONS, category="dental")] == ["黑名单诊所"]
    assert [r["名称"] for r in export(admin, INSTITUTIONS, q="测试诊所")] == ["测试诊所1"]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_an_institution_name_starting_with_equals_is_escaped(admin, fmt):
    _register(admin, 3, name=INJECTION)

    (row,) = export(admin, INSTITUTIONS, fmt)

    assert row["名称"] == "'" + INJECTION


def test_an_institution_account_may_not_export_the_directory(clinic_account):
    assert clinic_account.get(INSTITUTIONS).status_code == 403


# ---- the lists ------------------------------------------------------------------------------------

def test_the_black_list_export_names_who_why_and_since_when(admin, black_listed):
    (row,) = export(admin, "/api/v1/lists/black/export", "xlsx")

    assert (row["机构名称"], row["名单"], row["信用等级"]) == ("黑名单诊所", "黑名单", "D")
    assert "多次无证执业" in row["列入原因"]
    assert export(admin, "/api/v1/lists/red/export") == []


def test_the_list_export_is_for_regulators(client, clinic_account):
    assert client.get("/api/v1/lists/black/export").status_code == 401
    assert clinic_account.get("/api/v1/lists/black/export").status_code == 403


# ---- leads ----------------------------------------------------------------------------------------

@pytest.fixture
def lead_reasons(session, clinic, black_listed):
    now = utcnow()
    leads.add_reasons(session=session, institution_id=clinic["id"], reasons=[
        leads.reason("complaint", "投诉 TS20260101000001：收费问题", now, ref="c1"),
        leads.reason("serious_complaint", "投诉 TS20260101000002：非法行医", now, ref="c2"),
    ])
    leads.add_reasons(session=session, institution_id=black_listed["id"], reasons=[
        leads.reason("missed_selfcheck", "2026-Q1 未按期自查", now, ref="m1"),
    ])
    leads.add_reasons(session=session, place_name="无名诊所", place_address="测试路 99 号", reasons=[
        leads.reason("serious_complaint", "非法行医", now, ref="p1"),
    ])
    session.commit()


def test_the_leads_export_has_one_row_per_lead_with_its_reasons(admin, lead_reasons):
    rows = {row["机构/场所名称"]: row for row in export(admin, LEADS, "csv")}

    assert list(rows) == ["测试诊所1", "无名诊所", "黑名单诊所"]  # highest score first
    clinic = rows["测试诊所1"]
    assert (clinic["分值"], clinic["优先级"], clinic["状态"], clinic["线索来源数"]) == ("50", "高", "待处理", "2")
    assert "严重类别投诉：投诉 TS20260101000002：非法行医" in clinic["线索来源"]
    assert rows["无名诊所"]["无证场所"] == "是"


def test_the_leads_export_takes_the_lists_filters(admin, lead_reasons):
    assert [r["机构/场所名称"] for r in export(admin, LEADS, min_score=30)] == ["测试诊所1", "无名诊所"]
    assert export(admin, LEADS, status="dismissed") == []


def test_an_institution_account_may_not_export_leads(clinic_account):
    assert clinic_account.get(LEADS).status_code == 403


# ---- self-inspections -----------------------------------------------------------------------------

@pytest.fixture
def template(client, session) -> dict:
    template_files.load_files(session=session)
    session.commit()
    (found,) = client.get("/api/v1/selfcheck/templates", query_string={"category": "clinic"}).get_json()
    return found


def _file(persona, template: dict, non_compliant: list[str]) -> dict:
    due = str(today_shanghai() + dt.timedelta(days=30))
    answers = [{"item_code": item["code"], "result": "compliant"} if item["code"] not in non_compliant else
               {"item_code": item["code"], "result": "non_compliant", "note": f"{item['code']} 未做到",
                "rectification": {"plan": "立即整改", "owner": "张某", "due_date": due}}
               for item in template["items"]]
    response = persona.post("/api/v1/selfchecks", json={
        "template_id": template["id"], "period": periods.quarter_of(today_shanghai()).label, "answers": answers,
        "signer_name": "王某"})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@pytest.fixture
def filings(login, admin, clinic, clinic_account, template) -> dict:
    codes = [item["code"] for item in template["items"] if item["tier"] == "general"][:2]
    first = _file(clinic_account, template, codes)
    done = clinic_account.post(f"/api/v1/selfchecks/{first['id']}/rectifications",
                               json={"item_code": codes[0], "done_on": str(today_shanghai()), "note": "已整改完毕"})
    assert done.status_code == 201, done.get_json()
    other = _register(admin, 4, name="全部合格诊所")
    second = _file(login("institution", institution_id=other["id"]), template, [])
    return {"first": first, "second": second, "codes": codes}


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_selfcheck_export_has_a_row_per_non_compliant_item_and_one_per_clean_filing(admin, filings, fmt):
    rows = export(admin, SELFCHECKS, fmt)

    by_filing: dict[str, list[dict]] = {}
    for row in rows:
        by_filing.setdefault(row["机构名称"], []).append(row)
    assert {name: len(found) for name, found in by_filing.items()} == {"测试诊所1": 2, "全部合格诊所": 1}
    first, second = by_filing["测试诊所1"]
    assert [first["条目编号"], second["条目编号"]] == filings["codes"]
    assert (first["条目等级"], first["整改措施"], first["整改责任人"]) == ("一般", "立即整改", "张某")
    assert first["整改完成日期"] == str(today_shanghai())
    assert first["整改情况"] == "已整改完毕"
    assert second["整改完成日期"] in ("", None)
    assert (first["状态"], first["签署人"], first["签署人身份"]) == ("待审核", "王某", "法定代表人")
    assert str(first["不符合项数"]) == "2"
    clean = by_filing["全部合格诊所"][0]
    assert str(clean["不符合项数"]) == "0"
    assert clean["条目编号"] in ("", None)


def test_the_selfcheck_export_takes_the_lists_filters(admin, filings, clinic):
    rows = export(admin, SELFCHECKS, institution_id=clinic["id"])

    assert {row["机构名称"] for row in rows} == {"测试诊所1"}
    assert export(admin, SELFCHECKS, status="accepted") == []


def test_an_institution_account_may_not_export_filings(clinic_account):
    assert clinic_account.get(SELFCHECKS).status_code == 403

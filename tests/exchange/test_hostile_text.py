"""Hostile text in exports, imports and posters (issue 15, defects 3 and 5): data stored before these
characters were refused still exports to an .xlsx that opens and a poster that parses, file names
carry no bidi controls, and import rows with such characters are rejected naming the field."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
import zipfile
from urllib.parse import unquote

import pytest
import sqlalchemy as sa

from api.database import db
from complaints.models import Complaint
from registry.models import Institution
from tests.exchange.helpers import (
    INSTITUTION_HEADERS,
    INSTITUTION_IMPORT,
    as_dicts,
    csv_file,
    imported,
    institution_row,
    read_csv,
    read_xlsx,
    rows,
    xlsx,
)

BIDI = "\u202e"
UNSTORABLE = "\uffff\ufffe\x01\x08\x1f"  # what XML 1.0 cannot hold and SQLite and PostgreSQL both store


def _store(model, object_id: int, **values) -> None:
    """Put a value in the database as an older version of the API would have let it in."""
    with db.engine.begin() as connection:
        connection.execute(sa.update(model).where(model.id == object_id).values(**values))


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_a_stored_name_no_spreadsheet_can_hold_still_exports_to_a_file_that_opens(admin, clinic, fmt):
    _store(Institution, clinic["id"], name=f"诊所{UNSTORABLE}名", address=f"测试路{BIDI}1 号")

    response = admin.get("/api/v1/institutions/export", query_string={"format": fmt})

    assert response.status_code == 200
    table = read_xlsx(response.get_data())[0] if fmt == "xlsx" else read_csv(response.get_data())
    (row,) = as_dicts(table)
    assert row["名称"] == "诊所\ufffd\ufffd\ufffd\ufffd\ufffd名"
    assert row["地址"] == f"测试路{BIDI}1 号"  # what is stored, shown as stored: the export is a record


def test_stored_complaint_content_no_spreadsheet_can_hold_still_exports(admin, client, clinic):
    receipt = client.post("/api/v1/complaints", json={"category": "medical_quality", "anonymous": True,
                                                      "content": "输液后出现过敏反应，医生未做皮试。",
                                                      "target": {"institution_id": clinic["id"]}}).get_json()
    with db.engine.begin() as connection:
        connection.execute(sa.update(Complaint).where(Complaint.tracking_no == receipt["tracking_no"])
                           .values(content="输液后\uffff出现过敏反应\x0b医生未做皮试。"))

    response = admin.get("/api/v1/complaints/export", query_string={"format": "xlsx"})

    assert response.status_code == 200
    (row,) = as_dicts(read_xlsx(response.get_data())[0])
    assert "输液后\ufffd出现过敏反应\ufffd医生未做皮试。" in row.values()


def test_a_stored_name_with_a_bidi_override_gives_a_poster_file_name_without_it(admin, clinic):
    _store(Institution, clinic["id"], name=f"诊所{BIDI}gvs.exe")

    response = admin.get(f"/api/v1/institutions/{clinic['id']}/code/poster")

    assert response.status_code == 200
    file_name = unquote(response.headers["Content-Disposition"].split("''", 1)[1])
    assert file_name == f"{clinic['id']}-诊所gvs.exe-公示牌.svg"
    texts = [e.text for e in ET.fromstring(response.get_data()).iter("{http://www.w3.org/2000/svg}text")]
    assert "诊所gvs.exe" in texts and not any(BIDI in (t or "") for t in texts)


def test_a_stored_name_no_xml_can_hold_still_gives_a_poster_that_parses(admin, clinic):
    _store(Institution, clinic["id"], name=f"诊所{UNSTORABLE}")

    response = admin.get(f"/api/v1/institutions/{clinic['id']}/code/poster")

    assert response.status_code == 200
    ET.fromstring(response.get_data())  # well-formed
    assert "\uffff" not in unquote(response.headers["Content-Disposition"])


def test_a_streets_posters_have_file_names_without_bidi_controls(admin, clinic):
    _store(Institution, clinic["id"], name=f"诊所{BIDI}\u200bgvs.exe\uffff")

    response = admin.get("/api/v1/codes/posters", query_string={"street": clinic["street"]})

    assert response.status_code == 200
    (name,) = zipfile.ZipFile(io.BytesIO(response.get_data())).namelist()
    assert name == f"{clinic['id']}-诊所gvs.exe_-公示牌.svg"


@pytest.mark.parametrize("make", [xlsx, csv_file])
@pytest.mark.parametrize(("column", "field", "value"), [
    ("名称", "name", f"正规诊所{BIDI}所诊黑"), ("地址", "address", "测试路\u200b1 号"),
    ("街道", "street", "\ufeff山大路街道"), ("法定代表人", "legal_representative", "王\u2028某"),
    ("名称", "name", "诊所\uffff"),
])
def test_an_imported_row_with_a_name_that_lies_or_cannot_be_stored_is_rejected_naming_the_field(
        admin, make, column, field, value):
    good, bad = institution_row(1), institution_row(2)
    bad[INSTITUTION_HEADERS.index(column)] = value
    if make is xlsx and "\uffff" in value:
        pytest.skip("an .xlsx cannot hold U+FFFF in the first place")

    result = imported(admin, INSTITUTION_IMPORT, make(INSTITUTION_HEADERS, [good, bad]),
                      filename="名录.xlsx" if make is xlsx else "名录.csv")

    assert [(r["row"], list(r["fields"])) for r in result["rejected"]] == [(3, [field])]
    assert rows("institutions") == 0


def test_imported_names_are_stored_nfc_normalised(admin):
    row = institution_row(1)
    row[INSTITUTION_HEADERS.index("名称")] = "Cafe\u0301 诊所"

    imported(admin, INSTITUTION_IMPORT, csv_file(INSTITUTION_HEADERS, [row]), filename="名录.csv")

    assert db.session.scalar(sa.select(Institution.name)) == "Café 诊所"

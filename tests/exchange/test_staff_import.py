"""Importing staff: each row names its institution by 统一社会信用代码; a person is matched by 身份证号
within that institution."""

from __future__ import annotations

import io

import openpyxl

from tests.conftest import institution_payload, valid_id_number, valid_uscc
from tests.exchange.helpers import (
    STAFF_HEADERS,
    STAFF_IMPORT,
    csv_file,
    imported,
    rows,
    staff_row,
    upload,
    xlsx,
)


def _staff(admin, institution_id: int) -> list[dict]:
    response = admin.get(f"/api/v1/institutions/{institution_id}/staff")
    assert response.status_code == 200
    return response.get_json()["items"]


def test_the_staff_template_has_the_chinese_headers(admin):
    response = admin.get("/api/v1/staff/import/template.xlsx")

    workbook = openpyxl.load_workbook(io.BytesIO(response.get_data()))
    headers = [cell.value for cell in workbook.active[1]]
    workbook.close()
    assert headers == STAFF_HEADERS


def test_staff_are_created_at_the_institution_named_by_its_uscc_with_chinese_role_names(admin, clinic):
    data = xlsx(STAFF_HEADERS, [staff_row(1), staff_row(2, role="nurse")])

    answer = imported(admin, STAFF_IMPORT, data)

    assert (answer["created"], answer["rejected"]) == (2, []), answer
    staff = {s["name"]: s for s in _staff(admin, clinic["id"])}
    assert (staff["医生1"]["role"], staff["医生2"]["role"]) == ("physician", "nurse")  # 医师, 护士
    assert all(s["code"]["status"] == "active" for s in staff.values())


def test_the_same_person_is_updated_not_added_again(admin, clinic):
    imported(admin, STAFF_IMPORT, xlsx(STAFF_HEADERS, [staff_row(1)]))

    answer = imported(admin, STAFF_IMPORT, xlsx(STAFF_HEADERS, [staff_row(1, title="副主任医师")]))

    assert (answer["created"], answer["updated"]) == (0, 1)
    (person,) = _staff(admin, clinic["id"])
    assert person["title"] == "副主任医师"


def test_the_same_person_at_a_second_institution_is_a_second_record(admin, clinic):
    other = admin.post("/api/v1/institutions", json=institution_payload(2)).get_json()
    data = xlsx(STAFF_HEADERS, [staff_row(1, institution_serial=1), staff_row(1, institution_serial=2)])

    answer = imported(admin, STAFF_IMPORT, data)

    assert answer["created"] == 2, answer
    assert len(_staff(admin, other["id"])) == 1


def test_an_unknown_institution_rejects_the_row(admin, clinic):
    data = csv_file(STAFF_HEADERS, [staff_row(1), staff_row(2, institution_serial=99)])

    answer = imported(admin, STAFF_IMPORT, data, filename="人员.csv")

    assert answer["written"] is False
    assert [r["row"] for r in answer["rejected"]] == [3]
    assert "请先导入机构" in answer["rejected"][0]["fields"]["institution_uscc"][0]
    assert rows("staff") == 0


def test_an_invalid_id_number_is_rejected_naming_the_field(admin, clinic):
    bad = staff_row(1, id_number=valid_id_number(1)[:-1] + ("0" if valid_id_number(1)[-1] != "0" else "1"))

    answer = imported(admin, STAFF_IMPORT, xlsx(STAFF_HEADERS, [bad]))

    assert list(answer["rejected"][0]["fields"]) == ["id_number"]


def test_an_unknown_role_name_is_rejected_with_the_chinese_choices(admin, clinic):
    answer = imported(admin, STAFF_IMPORT, xlsx(STAFF_HEADERS, [staff_row(1, role="护工")]))

    assert "医师" in answer["rejected"][0]["fields"]["role"][0]


def test_the_same_person_twice_in_a_file_rejects_the_later_row(admin, clinic):
    data = xlsx(STAFF_HEADERS, [staff_row(1), staff_row(1, name="又一次")])

    answer = imported(admin, STAFF_IMPORT, data, partial=True)

    assert answer["created"] == 1
    assert answer["rejected"] == [{"row": 3, "fields": {"id_number": ["与第 2 行重复"]}}]


def test_the_institution_uscc_column_is_required(admin, clinic):
    headers = STAFF_HEADERS[:-1]

    response = upload(admin, STAFF_IMPORT, xlsx(headers, [staff_row(1)[:-1]]))

    assert response.status_code == 422
    assert "机构统一社会信用代码" in response.get_json()["fields"]["file"][0]


def test_an_institution_account_may_not_import_staff(clinic_account):
    response = upload(clinic_account, STAFF_IMPORT, xlsx(STAFF_HEADERS, [staff_row(1)]))

    assert response.status_code == 403
    assert rows("staff") == 0


def test_a_dry_run_of_staff_writes_nothing(admin, clinic):
    answer = imported(admin, STAFF_IMPORT, xlsx(STAFF_HEADERS, [staff_row(1)]), dry_run=True)

    assert (answer["created"], answer["dry_run"], answer["written"]) == (1, True, False)
    assert rows("staff") == 0
    assert valid_uscc(1) == clinic["uscc"]

"""Shared pieces of the data-exchange tests: spreadsheets built in memory, uploads, read-backs and
committed row counts."""

from __future__ import annotations

import csv
import datetime as dt
import io
from urllib.parse import quote

import openpyxl
import sqlalchemy as sa

from api.database import db
from directory.imports import INSTITUTION_COLUMNS, STAFF_COLUMNS
from registry.models import CATEGORIES, STAFF_ROLES
from tests.conftest import institution_payload, staff_payload, valid_uscc

INSTITUTION_IMPORT = "/api/v1/institutions/import"
STAFF_IMPORT = "/api/v1/staff/import"
INSTITUTION_HEADERS = [chinese for chinese, _ in INSTITUTION_COLUMNS.values()]
STAFF_HEADERS = [chinese for chinese, _ in STAFF_COLUMNS.values()]
BOM = b"\xef\xbb\xbf"
FROM, TO = dt.date(2025, 1, 1), dt.date(2029, 1, 31)


def institution_row(serial: int, **overrides) -> list:
    """An institution as a spreadsheet row under INSTITUTION_HEADERS: Chinese category, scope joined
    with 、, dates as text, 否 for the monitoring flag."""
    payload = institution_payload(serial, licence_valid_from=FROM.isoformat(), licence_valid_to=TO.isoformat(),
                                  **overrides)
    payload["category"] = CATEGORIES.get(payload["category"], payload["category"])
    payload["scope"] = "、".join(payload["scope"]) if isinstance(payload["scope"], list) else payload["scope"]
    if isinstance(payload["remote_monitoring"], bool):
        payload["remote_monitoring"] = "是" if payload["remote_monitoring"] else "否"
    return [payload[name] for name in INSTITUTION_COLUMNS]


def staff_row(serial: int, institution_serial: int = 1, **overrides) -> list:
    payload = staff_payload(serial, **overrides)
    payload["role"] = STAFF_ROLES.get(payload["role"], payload["role"])
    payload.setdefault("institution_uscc", valid_uscc(institution_serial))
    return [payload.get(name) for name in STAFF_COLUMNS]


def xlsx(headers: list[str], rows: list[list]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    workbook.close()
    return out.getvalue()


def csv_file(headers: list[str], rows: list[list], *, encoding: str = "utf-8", bom: bool = False) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(headers)
    writer.writerows(rows)
    return (BOM if bom else b"") + out.getvalue().encode(encoding)


def multipart(data: bytes, filename: str, field: str = "file") -> tuple[bytes, str]:
    """A multipart/form-data body with one file, built here: the test client's own encoder spools
    large bodies to a temporary file it never closes."""
    boundary = "onecode-test-boundary-7c1f"
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="upload"; '
            f"filename*=UTF-8''{quote(filename)}\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def upload(persona, path: str, data: bytes, filename: str = "名录.xlsx", **query):
    query = {k: str(v).lower() if isinstance(v, bool) else v for k, v in query.items()}
    body, content_type = multipart(data, filename)
    return persona.post(path, data=body, query_string=query, content_type=content_type)


def imported(persona, path: str, data: bytes, filename: str = "名录.xlsx", **query) -> dict:
    """An import that must answer 200; its body."""
    response = upload(persona, path, data, filename, **query)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def rows(table: str) -> int:
    """Committed rows of `table`, counted on a connection of its own."""
    with db.engine.connect() as connection:
        return connection.scalar(sa.select(sa.func.count()).select_from(sa.table(table)))


def read_xlsx(body: bytes) -> tuple[list[list], openpyxl.worksheet.worksheet.Worksheet]:
    """The values of the first sheet, and the sheet (widths, panes); the workbook is closed."""
    workbook = openpyxl.load_workbook(io.BytesIO(body))
    sheet = workbook.worksheets[0]
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    workbook.close()
    return values, sheet


def read_csv(body: bytes) -> list[list[str]]:
    assert body.startswith(BOM)
    return list(csv.reader(io.StringIO(body[len(BOM):].decode("utf-8"), newline="")))


def as_dicts(table: list[list]) -> list[dict]:
    headers, *data = table
    return [dict(zip(headers, row, strict=True)) for row in data]


def export(persona, path: str, fmt: str = "csv", **query) -> list[dict]:
    """GET an export in `fmt`; its rows as {header: value}."""
    response = persona.get(path, query_string={"format": fmt, **query})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_data()
    table = read_csv(body) if fmt == "csv" else read_xlsx(body)[0]
    return as_dicts(table)

"""Spreadsheets in and out: reading regulators' .xlsx and .csv files safely, writing exports in a
stream.

Reading decides the format by content, not by name: a ZIP container is .xlsx (checked against zip
bombs before openpyxl opens it), anything else must be text: UTF-8 (with or without BOM) or GB18030.
Formulas are never evaluated: a formula cell is reported, not read. Writing streams: CSV row by row;
.xlsx through openpyxl's write-only mode into a temporary file that is then sent in chunks, so neither
holds the whole export in memory. Text cells starting with = + - @ (or a tab/CR) are prefixed with an
apostrophe against CSV/formula injection; characters XML 1.0 cannot hold (stored before the API refused
them) are written as U+FFFD, so an export always opens.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from api.database import SHANGHAI
from api.errors import ValidationFailed
from api.text import xml_safe

MAX_UNCOMPRESSED = 200 * 1024 * 1024  # an .xlsx that inflates beyond this is refused
MAX_RATIO = 200  # a member that inflates more than this many times is refused (zip bomb)
MAX_ROWS = 50_000  # data rows of an import answered in the request (more than 2,000 go to a job anyway)
JOB_MAX_ROWS = 200_000  # data rows of an import run as a job (a city's directory)
_INJECTION = ("=", "+", "-", "@", "\t", "\r")


class NotASpreadsheet(ValidationFailed):
    default_message = "文件不是可识别的表格（支持 .xlsx，或 UTF-8 / GB18030 编码的 .csv）"


@dataclass
class Table:
    headers: list[str]
    rows: Iterator[tuple[int, list]]  # (the spreadsheet's own row number, cell values)
    size: int | None = None  # data rows the file declares (blank ones included), if it says; for progress


def _bad(message: str) -> NotASpreadsheet:
    return NotASpreadsheet(fields={"file": [message]})


def read(data: bytes) -> Table:
    """The header row and an iterator over the data rows of an .xlsx or .csv file given as bytes."""
    if not data:
        raise _bad("文件为空")
    if data.startswith(b"PK\x03\x04"):
        return _read_xlsx(data)
    return _read_csv(data)


def _read_csv(data: bytes) -> Table:
    if b"\x00" in data[:4096]:
        raise _bad("不是文本或 .xlsx 文件")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise _bad("无法识别文件编码，请另存为 UTF-8 或 GB18030 编码的 CSV")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        headers = next(reader)
    except (StopIteration, csv.Error):
        raise _bad("文件没有表头行") from None

    def rows():
        try:
            yield from enumerate(reader, start=2)
        except csv.Error as error:
            raise _bad(f"CSV 格式错误：{error}") from None

    return Table([str(h).strip() for h in headers], rows(), size=max(text.count("\n") - 1, 0))


def _check_zip(data: bytes) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise _bad("不是有效的 .xlsx 文件") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > 10_000:
            raise _bad(".xlsx 文件结构异常（条目过多）")
        total = 0
        for info in infos:
            total += info.file_size
            if info.file_size > 10 * 1024 * 1024 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
                raise _bad(".xlsx 文件解压后异常巨大，已拒绝（疑似压缩炸弹）")
        if total > MAX_UNCOMPRESSED:
            raise _bad(".xlsx 文件解压后超过 200 MB，已拒绝")
        if "[Content_Types].xml" not in archive.namelist():
            raise _bad("不是有效的 .xlsx 文件")


def _read_xlsx(data: bytes) -> Table:
    import openpyxl

    _check_zip(data)
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception:  # openpyxl raises many kinds on a damaged file  # noqa: BLE001
        raise _bad("无法读取 .xlsx 文件，文件可能已损坏") from None
    sheet = workbook.worksheets[0] if workbook.worksheets else None
    if sheet is None:
        workbook.close()
        raise _bad(".xlsx 文件没有工作表")
    iterator = sheet.iter_rows()
    try:
        header_cells = next(iterator)
    except StopIteration:
        workbook.close()
        raise _bad("文件没有表头行") from None
    headers = [str(c.value).strip() if c.value is not None else "" for c in header_cells]

    def rows():
        number = 1
        try:
            for number, cells in enumerate(iterator, start=2):
                yield number, [FormulaCell(c.value) if c.data_type == "f" else c.value for c in cells]
        except NotASpreadsheet:
            raise
        except Exception:  # a sheet damaged past its first rows: openpyxl raises many kinds  # noqa: BLE001
            raise _bad(f"第 {number + 1} 行附近无法读取，.xlsx 文件可能已损坏") from None
        finally:
            workbook.close()

    declared = sheet.max_row  # from the sheet's <dimension>; None when the file does not say (write-only files)
    size = declared - 1 if declared else _rows_in_xml(data, sheet._worksheet_path) - 1
    return Table(headers, rows(), size=max(size, 0))


_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_RELATIONSHIP = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


def _first_sheet(data: bytes) -> str:
    """The path of the workbook's first sheet, from its workbook.xml and relationships: what openpyxl
    would open first, without reading the shared strings (seconds for a large file)."""
    import xml.etree.ElementTree as ElementTree

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheet = ElementTree.fromstring(archive.read("xl/workbook.xml")).find(f"{_MAIN}sheets/{_MAIN}sheet")
        relations = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    if sheet is None:
        raise ValueError("no sheet")
    target = next(r.get("Target", "") for r in relations if r.get("Id") == sheet.get(_RELATIONSHIP))
    return target.lstrip("/") if target.startswith("/") else "xl/" + target


def _rows_in_xml(data: bytes, member: str, stop_after: int | None = None) -> int:
    """The <row> elements of a sheet, counted in its XML as it inflates (C speed, no parsing): a
    100,000-row sheet in well under a second. Blank rows Excel kept count too."""
    count, tail = 0, b""
    with zipfile.ZipFile(io.BytesIO(data)) as archive, archive.open(member.lstrip("/")) as stream:
        while block := stream.read(1024 * 1024):
            block = tail + block
            count += block.count(b"<row ") + block.count(b"<row>")
            tail = block[-4:]  # a match across blocks starts there; 4 bytes never hold a whole one
            if stop_after is not None and count > stop_after:
                break
    return count


class FormulaCell(str):
    """A cell holding a formula: never evaluated, reported as an error of its field."""


def more_data_rows_than(data: bytes, limit: int) -> bool:
    """Whether the file has more than `limit` data rows; reads no further than that. An .xlsx counts
    its rows as stored (a blank row Excel kept counts, as in its row numbers); a CSV its non-blank
    rows. A file that cannot be read counts as small: the import in the request answers why."""
    if data.startswith(b"PK\x03\x04"):  # .xlsx: count <row> elements rather than read the rows
        try:
            _check_zip(data)
            return _rows_in_xml(data, _first_sheet(data), stop_after=limit + 1) - 1 > limit
        except Exception:  # unreadable: the import in the request says why  # noqa: BLE001
            return False
    try:
        table = read(data)
        count = 0
        for _, row in table.rows:
            if not is_blank(row):
                count += 1
                if count > limit:
                    close = getattr(table.rows, "close", None)
                    if close is not None:
                        close()
                    return True
    except ValidationFailed:
        return False
    return False


def is_blank(row: list) -> bool:
    return all(value is None or (isinstance(value, str) and not value.strip()) for value in row)


# ---- values -------------------------------------------------------------------------------------

def as_text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, dt.datetime):
        value = value.date()
    text = str(value).strip()
    return text or None


def as_date(value) -> str | None:
    """Spreadsheets hold dates as dates, as 2026-01-31, 2026/1/31 or 2026年1月31日: all become ISO."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value).strip().replace("年", "-").replace("月", "-").replace("日", "").replace("/", "-").replace(".", "-")
    parts = text.split("-")
    if len(parts) == 3 and all(p.isdigit() for p in parts):
        try:
            return dt.date(int(parts[0]), int(parts[1]), int(parts[2])).isoformat()
        except ValueError:
            return text
    return text


# ---- writing ------------------------------------------------------------------------------------

def safe_cell(value):
    """What goes into a cell: dates and times formatted, text protected against formula injection and
    holding only what XML 1.0 can hold (in CSV too: one rule for both formats, and a lone surrogate
    could not even be encoded as UTF-8)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, dt.datetime):
        return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int | float):
        return value
    if isinstance(value, list | tuple):
        value = "、".join(str(v) for v in value)
    text = xml_safe(str(value))
    if text.startswith(_INJECTION):
        return "'" + text
    return text


def csv_stream(headers: list[str], rows: Iterable[list]) -> Iterator[bytes]:
    """UTF-8 with BOM (Excel opens it as Unicode), one encoded line at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([xml_safe(str(h)) for h in headers])
    yield ("\ufeff" + buffer.getvalue()).encode("utf-8")
    try:
        for row in rows:
            buffer.seek(0)
            buffer.truncate()
            writer.writerow([safe_cell(v) for v in row])
            yield buffer.getvalue().encode("utf-8")
    finally:
        _close(rows)


def _close(rows: Iterable) -> None:
    """Stop the rows' generator now (and with it its database cursor), not whenever it is collected."""
    close = getattr(rows, "close", None)
    if close is not None:
        close()


def xlsx_stream(title: str, headers: list[str], rows: Iterable[list], widths: list[int] | None = None,
                chunk: int = 64 * 1024) -> Iterator[bytes]:
    """Write-only workbook into a temporary file, then that file in chunks; the file is removed after."""
    import openpyxl
    from openpyxl.styles import Font

    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet(title=xml_safe(title)[:31])
    for index, width in enumerate(widths or [max(10, min(40, len(h) * 2 + 4)) for h in headers]):
        sheet.column_dimensions[openpyxl.utils.get_column_letter(index + 1)].width = width
    sheet.freeze_panes = "A2"
    from openpyxl.cell import WriteOnlyCell

    header_cells = []
    for h in headers:
        cell = WriteOnlyCell(sheet, value=xml_safe(h))
        cell.font = Font(bold=True)
        header_cells.append(cell)
    sheet.append(header_cells)
    try:
        for row in rows:
            sheet.append([None if v is None else safe_cell(v) for v in row])  # an empty cell is not written at all
    finally:
        _close(rows)
    handle, path = tempfile.mkstemp(prefix="onecode-export-", suffix=".xlsx")
    os.close(handle)
    try:
        workbook.save(path)
        with open(path, "rb") as file:
            while block := file.read(chunk):
                yield block
    finally:
        os.unlink(path)


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS = ("xlsx", "csv")
YIELD_PER = 1000  # rows fetched from the database at a time by the export generators
EXPORT_RESPONSES = {"200": {"description": "The export, streamed: .xlsx (default) or UTF-8 CSV with a BOM",
                            "content": {XLSX: {}, "text/csv": {}}}}


def export_args(list_args):
    """The list endpoint's filter schema without paging, plus `format` (xlsx by default): an export
    takes exactly the filters its list takes."""
    from marshmallow import fields, validate

    meta = type("Meta", (getattr(list_args, "Meta", object),), {"exclude": ("page", "page_size")})
    name = list_args.__name__.removesuffix("ListArgs").removesuffix("Args") + "ExportArgs"
    return type(name, (list_args,), {
        "Meta": meta,
        "format": fields.String(load_default="xlsx", validate=validate.OneOf(FORMATS),
                                metadata={"description": "xlsx (default) or csv (UTF-8 with BOM)"}),
    })


def streamed(session, statement, size: int = YIELD_PER, *, scalars: bool = False):
    """The ORM rows (or with scalars=True the first column's objects) of `statement`, fetched `size`
    at a time (a server-side cursor on PostgreSQL). The query runs at the first row; the cursor is
    closed when the rows run out or the export stops early (a client gone, see reporting_end)."""
    result = session.execute(statement.execution_options(yield_per=size))
    try:
        yield from result.scalars() if scalars else result
    finally:
        result.close()


def reporting_end(body: Iterator[bytes], on_end: Callable[[bool], None]) -> Iterator[bytes]:
    """The chunks of `body`, then on_end(complete) once, if any chunk was handed to the server:
    complete when the last one was and the server came back for more (the export was delivered),
    not when the body failed or the client went away. Nothing handed over, no call (an export that
    failed before its first byte). `body` is closed first, so its database cursor is gone before
    on_end writes."""
    handed = complete = False
    try:
        for chunk in body:
            handed = True
            yield chunk
        complete = True
    finally:
        _close(body)
        if handed:
            on_end(complete)


def download(name: str, fmt: str, title: str, headers: list[str], rows: Iterable[list], widths=None,
             on_end: Callable[[bool], None] | None = None):
    """A streamed Flask response for an export in `fmt` (xlsx or csv); see reporting_end for on_end.

    The body is read after the view has returned and its application context has been torn down
    (Flask 3.1's stream_with_context pushes the contexts again, with a new database session): `rows`
    and `on_end` must hold plain values, never the view's ORM objects (the request's Account among
    them), which are detached by then and, once a commit has expired them, unreadable."""
    from urllib.parse import quote

    from flask import Response, stream_with_context

    stamp = dt.datetime.now(SHANGHAI).strftime("%Y%m%d-%H%M")
    filename = f"{name}-{stamp}.{fmt}"
    if fmt == "csv":
        body, mimetype = csv_stream(headers, rows), "text/csv; charset=utf-8"
    else:
        body, mimetype = xlsx_stream(title, headers, rows, widths), XLSX
    if on_end is not None:
        body = reporting_end(body, on_end)
    response = Response(stream_with_context(body), mimetype=mimetype)
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    response.headers["Cache-Control"] = "private, no-store"
    return response

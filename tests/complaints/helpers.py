"""Shared pieces of the complaint tests: a valid submission, row counts, the workflow to a reply,
and hand-built files (JPEG, PNG, PDF) for the attachment tests."""

from __future__ import annotations

import re
import struct
import zlib

import sqlalchemy as sa

from api.database import db

SUBMIT = "/api/v1/complaints"
TRACK = "/api/v1/complaints/track"
CATEGORIES = "/api/v1/complaints/categories"
ERROR_KEYS = {"code", "message", "fields"}
_CJK = re.compile(r"[\u4e00-\u9fff]")

# Tables a submission writes to; a refused one must leave every one of them as it was. (Except, on
# PostgreSQL, the day's counter: a process reserves tracking numbers in blocks outside any submission's
# transaction, as a sequence does, and a refused submission may have used one up.)
INTAKE_TABLES = ("complaints", "complaint_events", "complaint_counters", "leads", "lead_reasons")


def complaint_body(**overrides) -> dict:
    """A valid anonymous complaint about an unlicensed place (needs no directory data)."""
    body = {
        "category": "medical_quality",
        "content": "输液后出现过敏反应，医生未做皮试也未告知风险。",
        "target": {"name": "无名诊所", "address": "测试路 99 号"},
        "anonymous": True,
    }
    body.update(overrides)
    return body


def named(**overrides) -> dict:
    """A valid named (实名) complaint: contact name and phone given."""
    return complaint_body(**{"anonymous": False, "contact_name": "张三丰", "contact_phone": "13912345678", **overrides})


def submit(client, body=None, **kwargs):
    return client.post(SUBMIT, json=body if body is not None else complaint_body(), **kwargs)


def submitted(client, body=None, **kwargs) -> dict:
    """Submit and return the receipt, failing loudly if the submission was refused."""
    response = submit(client, body, **kwargs)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def track(client, tracking_no: str, query_code: str):
    return client.get(TRACK, query_string={"tracking_no": tracking_no, "query_code": query_code})


def rows(table: str) -> int:
    """Committed rows of `table`, read on a connection of its own (not the test's session)."""
    with db.engine.connect() as connection:
        return connection.scalar(sa.select(sa.func.count()).select_from(sa.table(table)))


def stored_counts() -> dict[str, int]:
    blocks = db.engine.dialect.name == "postgresql"
    return {table: rows(table) for table in INTAKE_TABLES if not (blocks and table == "complaint_counters")}


def assert_error(response, status: int, code: str) -> dict:
    """The contract's envelope: JSON {code, message (zh-CN), fields?} and nothing else."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.is_json, response.content_type
    body = response.get_json()
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and _CJK.search(body["message"]), body
    assert set(body) <= ERROR_KEYS, body
    return body


def assert_validation_error(response, field: str) -> dict:
    """422 VALIDATION_FAILED naming `field` (or a field under it) in `fields`."""
    body = assert_error(response, 422, "VALIDATION_FAILED")
    assert "fields" in body, body
    assert any(name == field or name.startswith(field + ".") for name in body["fields"]), body
    for messages in body["fields"].values():
        assert messages and all(isinstance(m, str) and m for m in messages), body
    return body


# ---- the handling workflow, up to a given status ------------------------------------------------

WORKFLOW = ("accepted", "assigned", "investigating", "resolved", "replied", "closed")


def act(persona, tracking_no: str, action: str, **fields):
    response = persona.post(f"/api/v1/complaints/{tracking_no}/actions", json={"action": action, **fields})
    assert response.status_code == 200, (action, response.get_data(as_text=True))
    return response.get_json()


def advance(tracking_no: str, until: str, *, officer, supervisor, reply: str = "经核查，情况属实，已责令整改。"):
    """Walk a case of the officer's department through the workflow until it reaches `until`."""
    steps = [
        ("accepted", officer, "accept", {}),
        ("assigned", supervisor, "assign", {"handler_id": officer.account.id}),
        ("investigating", officer, "investigate", {}),
        ("resolved", officer, "resolve", {"finding": "substantiated"}),
        ("replied", officer, "reply", {"note": reply}),
        ("closed", officer, "close", {}),
    ]
    for status, persona, action, fields in steps:
        case = act(persona, tracking_no, action, **fields)
        assert case["status"] == status, case
        if status == until:
            return case
    raise AssertionError(f"unknown status {until!r}")


# ---- files built byte by byte ------------------------------------------------------------------

GPS_MARKER = b"GPS-SECRET-36.6512N-117.1201E"
TEXT_MARKER = b"HOME-ADDRESS-SECRET-LISHAN-ROAD-7"


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def jpeg_parts() -> dict[str, bytes]:
    """The segments of a decodable 8x8 grey baseline JPEG, plus an EXIF (GPS) APP1 and a comment.

    The image: one component, every coefficient zero (mid-grey). Its Huffman tables each hold one
    one-bit code (DC category 0, AC end-of-block), so the scan is the two bits 00 padded with ones.
    """
    app0 = _segment(0xE0, b"JFIF\x00" + bytes([1, 1, 0]) + struct.pack(">HH", 1, 1) + bytes([0, 0]))
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8) + struct.pack(">H", 0) + struct.pack(">I", 0)
    app1 = _segment(0xE1, b"Exif\x00\x00" + tiff + GPS_MARKER)
    comment = _segment(0xFE, b"shot at " + TEXT_MARKER)
    dqt = _segment(0xDB, bytes([0x00]) + bytes([1] * 64))
    sof0 = _segment(0xC0, bytes([8]) + struct.pack(">HH", 8, 8) + bytes([1, 1, 0x11, 0]))
    counts_one_code_of_length_1 = bytes([1] + [0] * 15)
    dht = _segment(0xC4, bytes([0x00]) + counts_one_code_of_length_1 + bytes([0x00])
                   + bytes([0x10]) + counts_one_code_of_length_1 + bytes([0x00]))
    sos = _segment(0xDA, bytes([1, 1, 0x00, 0, 63, 0]))
    scan = bytes([0x3F])
    return {"soi": b"\xff\xd8", "app0": app0, "app1": app1, "comment": comment, "dqt": dqt, "sof0": sof0,
            "dht": dht, "sos": sos, "scan": scan, "eoi": b"\xff\xd9"}


def jpeg_with_exif() -> bytes:
    p = jpeg_parts()
    return b"".join(p[k] for k in ("soi", "app0", "app1", "dqt", "sof0", "dht", "comment", "sos", "scan", "eoi"))


def jpeg_without_metadata() -> bytes:
    """What the server should keep of jpeg_with_exif(): everything but the APP1 and the comment."""
    p = jpeg_parts()
    return b"".join(p[k] for k in ("soi", "app0", "dqt", "sof0", "dht", "sos", "scan", "eoi"))


def png_chunk(kind: bytes, payload: bytes, crc: int | None = None) -> bytes:
    crc = zlib.crc32(kind + payload) if crc is None else crc
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_parts(grey: int = 0x80) -> dict[str, bytes]:
    """A 1x1 8-bit greyscale PNG with a tEXt, a tIME and an eXIf chunk carrying identifying data."""
    return {
        "ihdr": png_chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)),
        "text": png_chunk(b"tEXt", b"Comment\x00" + TEXT_MARKER),
        "time": png_chunk(b"tIME", struct.pack(">HBBBBB", 2026, 11, 23, 8, 30, 0)),
        "exif": png_chunk(b"eXIf", b"MM\x00\x2a\x00\x00\x00\x08" + GPS_MARKER),
        "idat": png_chunk(b"IDAT", zlib.compress(bytes([0, grey]))),
        "iend": png_chunk(b"IEND", b""),
    }


def png_with_text(grey: int = 0x80) -> bytes:
    p = png_parts(grey)
    return PNG_SIGNATURE + p["ihdr"] + p["text"] + p["time"] + p["exif"] + p["idat"] + p["iend"]


def png_without_metadata(grey: int = 0x80) -> bytes:
    p = png_parts(grey)
    return PNG_SIGNATURE + p["ihdr"] + p["idat"] + p["iend"]


def png_with_bad_crc() -> bytes:
    p = png_parts()
    idat_payload = zlib.compress(bytes([0, 0x80]))
    broken = png_chunk(b"IDAT", idat_payload, crc=zlib.crc32(b"IDAT" + idat_payload) ^ 0xFFFF)
    return PNG_SIGNATURE + p["ihdr"] + broken + p["iend"]


def pdf(serial: int = 0) -> bytes:
    """A small, complete PDF; `serial` makes each one a distinct file."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R >>",
    ]
    stream = f"BT /F1 12 Tf 20 100 Td (receipt {serial}) Tj ET".encode()
    objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)

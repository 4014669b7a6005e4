"""Evidence of an inspection (执法全过程记录): files by content, kept byte for byte, chained by hash,
verified from the stored rows and files; only the departments on the record add and read it.

The record here is a health and market joint inspection of a clinic (one visit, one record), recorded
by the health officer with both departments' findings and the market officer on the team."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import struct
import threading

import pytest
from sqlalchemy import delete, select, update
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from api.audit import AuditEntry
from api.database import db, lock_row
from supervision import evidence
from supervision.models import Evidence, Inspection
from tests.complaints.helpers import (
    GPS_MARKER,
    assert_error,
    assert_validation_error,
    jpeg_with_exif,
    pdf,
    png_with_bad_crc,
    png_with_text,
)
from tests.conftest import PG_URL
from tests.locks import wait_until_backends_wait_for_a_lock

MB = 1024 * 1024
ENTRY_KEYS = {"id", "inspection_id", "seq", "sha256", "prev_sha256", "content_sha256", "media_type", "size",
              "filename", "recorded_at", "recorded_by"}


# ---- files --------------------------------------------------------------------------------------

def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def ftyp(major: bytes = b"isom", *compatible: bytes) -> bytes:
    return box(b"ftyp", major + struct.pack(">I", 0x200) + b"".join(compatible or (b"isom", b"iso2", b"avc1", b"mp41")))


def mp4(media: bytes = b"\x00\x00\x00\x1e\x06\x05 frame data of a body camera", *, head: bytes | None = None) -> bytes:
    """A minimal MP4 as an enforcement recorder writes one: ftyp, the movie box, the media data."""
    moov = box(b"moov", box(b"mvhd", bytes(100)))
    return (ftyp() if head is None else head) + moov + box(b"mdat", media)


def mp4_of_size(size: int) -> bytes:
    shell = len(mp4(b""))
    return mp4(b"\x00" * (size - shell))


def truncated(data: bytes, cut: int = 10) -> bytes:
    return data[:-cut]


# ---- the record and its personas ----------------------------------------------------------------

@pytest.fixture
def ecology_officer(login):
    return login("officer", department="ecology")


@pytest.fixture
def joint_record(clinic, health_officer, market_officer) -> int:
    """A health + market inspection of the clinic, recorded today by the health officer, by id."""
    response = health_officer.post("/api/v1/inspections", json={
        "institution_id": clinic["id"], "inspected_on": str(dt.date.today()), "public": True,
        "summary": "卫健、市场监管联合检查（进一次门、查多件事）。", "departments": ["health", "market"],
        "inspector_ids": [market_officer.account.id],
        "findings": [{"department": "health", "result": "rectify", "note": "医疗废物暂存间未上锁，责令限期整改。"},
                     {"department": "market", "result": "rectify", "note": "价格公示不全，责令限期整改。"}]})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["departments"] == ["health", "market"]
    return response.get_json()["id"]


def single_record(persona, institution_id: int, summary: str = "日常监督检查，未见异常。") -> int:
    """A one-department record of the persona's department."""
    response = persona.post("/api/v1/inspections", json={
        "institution_id": institution_id, "inspected_on": str(dt.date.today()), "result": "pass",
        "summary": summary, "public": True})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def url(inspection_id: int, tail: str = "") -> str:
    return f"/api/v1/inspections/{inspection_id}/evidence{tail}"


def upload(persona, inspection_id: int, data: bytes, filename="现场照片.jpg", content_type=None, client=None):
    """POST the file as multipart/form-data, encoded in memory."""
    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(data), filename=filename,
                                                           content_type=content_type)})
    caller = persona if client is None else persona.on(client)
    return caller.post(url(inspection_id), data=body, content_type=f"multipart/form-data; boundary={boundary}")


def recorded(persona, inspection_id: int, data: bytes, filename="现场照片.jpg") -> dict:
    response = upload(persona, inspection_id, data, filename)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def stored(app, digest: str) -> str:
    return os.path.join(app.config["UPLOAD_DIR"], digest[:2], digest)


def files_under(folder: str) -> list[str]:
    return [os.path.join(root, name) for root, _, names in os.walk(folder) for name in names]


def entries(inspection_id: int) -> list[Evidence]:
    db.session.expire_all()
    return list(db.session.scalars(select(Evidence).where(Evidence.inspection_id == inspection_id)
                                   .order_by(Evidence.seq)))


def anchor(inspection_id: int) -> tuple[int, str | None]:
    db.session.expire_all()
    inspection = db.session.get_one(Inspection, inspection_id)
    return inspection.evidence_count, inspection.evidence_head


def verify(persona, inspection_id: int) -> dict:
    response = persona.get(url(inspection_id, "/verify"))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def expected_hash(entry: dict, inspection_id: int, recorded_by_id: int) -> str:
    """The chain's rule, written out independently of the service: SHA-256 of sorted compact JSON."""
    at = dt.datetime.fromisoformat(entry["recorded_at"]).astimezone(dt.UTC).isoformat(timespec="microseconds")
    prev = "null" if entry["prev_sha256"] is None else f'"{entry["prev_sha256"]}"'
    text = (f'{{"content_sha256":"{entry["content_sha256"]}","inspection_id":{inspection_id},'
            f'"media_type":"{entry["media_type"]}","prev_sha256":{prev},"recorded_at":"{at}",'
            f'"recorded_by_id":{recorded_by_id},"scheme":"onecode-evidence-v1","seq":{entry["seq"]},'
            f'"size":{entry["size"]}}}')
    return hashlib.sha256(text.encode()).hexdigest()


# ---- recording ----------------------------------------------------------------------------------

def test_a_health_officer_records_a_photo_kept_byte_for_byte_with_its_exif(app, health_officer, joint_record):
    photo = jpeg_with_exif()  # carries GPS in its APP1 segment: where the photo was taken is evidence

    entry = recorded(health_officer, joint_record, photo, "废物暂存间.jpg")

    assert set(entry) == ENTRY_KEYS
    assert (entry["seq"], entry["prev_sha256"], entry["media_type"], entry["size"]) == (1, None, "image/jpeg", len(photo))
    assert entry["content_sha256"] == hashlib.sha256(photo).hexdigest()
    assert entry["recorded_by"] == {"id": health_officer.account.id, "username": health_officer.account.username,
                                    "department": "health"}
    assert entry["filename"] == "废物暂存间.jpg"
    assert entry["sha256"] == expected_hash(entry, joint_record, health_officer.account.id)
    with open(stored(app, entry["content_sha256"]), "rb") as file:
        kept = file.read()
    assert kept == photo and GPS_MARKER in kept
    assert anchor(joint_record) == (1, entry["sha256"])


def test_each_entry_carries_the_hash_of_the_one_before_across_departments(health_officer, market_officer,
                                                                           joint_record):
    first = recorded(health_officer, joint_record, jpeg_with_exif())
    second = recorded(market_officer, joint_record, png_with_text(), "价目表.png")
    third = recorded(health_officer, joint_record, pdf(1), "现场笔录.pdf")
    fourth = recorded(market_officer, joint_record, mp4(), "执法记录仪.mp4")

    assert [e["seq"] for e in (first, second, third, fourth)] == [1, 2, 3, 4]
    assert [e["prev_sha256"] for e in (second, third, fourth)] == [first["sha256"], second["sha256"], third["sha256"]]
    assert [e["media_type"] for e in (first, second, third, fourth)] == [
        "image/jpeg", "image/png", "application/pdf", "video/mp4"]
    assert fourth["sha256"] == expected_hash(fourth, joint_record, market_officer.account.id)
    assert anchor(joint_record) == (4, fourth["sha256"])


def test_the_type_is_decided_by_content_not_by_the_name_or_the_declared_type(health_officer, joint_record):
    response = upload(health_officer, joint_record, mp4(), filename="询问笔录.pdf", content_type="application/pdf")

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["media_type"] == "video/mp4"


def test_a_supervisor_of_a_department_on_the_record_may_record(login, joint_record):
    market_supervisor = login("supervisor", department="market")

    assert recorded(market_supervisor, joint_record, pdf(2))["recorded_by"]["department"] == "market"


def test_the_same_file_sent_again_is_the_entry_already_recorded(app, health_officer, joint_record):
    first = recorded(health_officer, joint_record, pdf(3))

    again = upload(health_officer, joint_record, pdf(3))

    assert again.status_code == 200
    assert again.get_json() == first
    assert len(entries(joint_record)) == 1
    assert anchor(joint_record) == (1, first["sha256"])


def test_one_file_on_two_inspections_is_stored_once_and_is_an_entry_of_each(app, clinic, health_officer,
                                                                             joint_record):
    other = single_record(health_officer, clinic["id"], "复查：整改到位。")

    a = recorded(health_officer, joint_record, pdf(4))
    b = recorded(health_officer, other, pdf(4))

    assert a["content_sha256"] == b["content_sha256"] and a["sha256"] != b["sha256"]
    assert files_under(app.config["UPLOAD_DIR"]) == [stored(app, a["content_sha256"])]


DISGUISED = {
    "a Windows program named .jpg": (b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200, "现场照片.jpg", "image/jpeg"),
    "an HTML page named .jpg": (b"<!DOCTYPE html><script>alert(1)</script>", "现场照片.jpg", "image/jpeg"),
    "a JPEG cut short": (truncated(jpeg_with_exif()), "现场照片.jpg", "image/jpeg"),
    "a JPEG without image data": (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9",
                                  "x.jpg", "image/jpeg"),
    "a PNG with a damaged chunk": (png_with_bad_crc(), "价目表.png", "image/png"),
    "a PNG cut short": (truncated(png_with_text(), 12), "价目表.png", "image/png"),
    "a PDF cut short": (pdf(5)[:-12], "笔录.pdf", "application/pdf"),
    "an MP4 without an ftyp box": (box(b"moov", box(b"mvhd", bytes(100))) + box(b"mdat", b"\x00" * 64),
                                   "执法记录仪.mp4", "video/mp4"),
    "an MP4 whose ftyp names no MP4 brand": (mp4(head=ftyp(b"qt  ", b"qt  ")), "执法记录仪.mp4", "video/mp4"),
    "a HEIF image dressed as an MP4": (mp4(head=ftyp(b"heic", b"mif1", b"heic", b"isom")), "x.mp4", "video/mp4"),
    "an MP4 with a broken ftyp box": (box(b"ftyp", b"isom\x00\x00") + box(b"moov", b""), "x.mp4", "video/mp4"),
    "an MP4 cut short": (truncated(mp4(b"\x00" * 4096), 100), "执法记录仪.mp4", "video/mp4"),
    "an MP4 without a movie box": (ftyp() + box(b"mdat", b"\x00" * 64), "执法记录仪.mp4", "video/mp4"),
    "an MP4 with garbage after its boxes": (mp4() + b"\x00\x00\x00", "执法记录仪.mp4", "video/mp4"),
    "an empty file": (b"", "现场照片.jpg", "image/jpeg"),
}


@pytest.mark.parametrize("data, filename, content_type", DISGUISED.values(), ids=DISGUISED.keys())
def test_a_file_that_is_not_wholly_what_it_claims_is_refused_and_nothing_is_kept(app, health_officer, joint_record,
                                                                                 data, filename, content_type):
    response = upload(health_officer, joint_record, data, filename, content_type)

    assert_validation_error(response, "file")
    assert entries(joint_record) == []
    assert anchor(joint_record) == (0, None)
    assert files_under(app.config["UPLOAD_DIR"]) == []


def test_a_phone_photo_with_data_after_its_end_of_image_is_kept_whole(app, health_officer, joint_record):
    """A motion photo appends its video after the JPEG's end of image: the original is the evidence."""
    photo = jpeg_with_exif() + mp4()

    entry = recorded(health_officer, joint_record, photo)

    assert entry["size"] == len(photo)
    with open(stored(app, entry["content_sha256"]), "rb") as file:
        assert file.read() == photo


# ---- size -----------------------------------------------------------------------------------------

def test_a_file_of_exactly_fifty_megabytes_is_recorded(app, health_officer, joint_record):
    video = mp4_of_size(50 * MB)

    entry = recorded(health_officer, joint_record, video, "执法记录仪.mp4")

    assert entry["size"] == 50 * MB
    assert os.path.getsize(stored(app, entry["content_sha256"])) == 50 * MB


def test_a_file_one_byte_over_fifty_megabytes_is_refused_in_the_envelope(app, health_officer, joint_record):
    response = upload(health_officer, joint_record, mp4_of_size(50 * MB + 1), "执法记录仪.mp4")

    body = assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert "50 MB" in body["message"]
    assert entries(joint_record) == []
    assert files_under(app.config["UPLOAD_DIR"]) == []


def test_a_body_far_over_the_limit_is_refused_in_the_envelope_before_it_is_read(app, health_officer, joint_record):
    response = upload(health_officer, joint_record, mp4_of_size(60 * MB), "执法记录仪.mp4")

    body = assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert "50 MB" in body["message"]
    assert files_under(app.config["UPLOAD_DIR"]) == []


# werkzeug's form parser leaves the temporary file of the part it was reading, when the limit cut it
# off, for the garbage collector to close (a ResourceWarning, turned into an error by the test settings).
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_chunked_body_over_the_limit_is_refused_in_the_envelope_not_cut_short(app, health_officer, joint_record):
    """Sent without a Content-Length, the body's size is known only as it is read: reaching the raised
    limit is 413, not the end of the form."""
    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(mp4_of_size(51 * MB)), filename="x.mp4")})

    response = health_officer.post(url(joint_record), input_stream=io.BytesIO(body),
                                   content_type=f"multipart/form-data; boundary={boundary}",
                                   headers={"Transfer-Encoding": "chunked"},
                                   environ_overrides={"wsgi.input_terminated": True})

    assert "50 MB" in assert_error(response, 413, "PAYLOAD_TOO_LARGE")["message"]
    assert entries(joint_record) == []
    assert files_under(app.config["UPLOAD_DIR"]) == []


def test_the_app_wide_body_limit_still_holds_for_complaint_attachments(app, client, health_officer, joint_record):
    """The evidence route raises the limit for its own requests only: a complaint upload of 13 MB after
    a 20 MB piece of evidence is still refused by the 12 MB body limit."""
    from tests.complaints.helpers import submitted

    recorded(health_officer, joint_record, mp4_of_size(20 * MB), "执法记录仪.mp4")
    case = submitted(client)
    head, tail = b"%PDF-1.4\n%", b"\n%%EOF\n"
    boundary, body = encode_multipart({"query_code": case["query_code"], "file": FileStorage(
        io.BytesIO(head + b"0" * (13 * MB) + tail), filename="scan.pdf")})

    response = client.post(f"/api/v1/complaints/{case['tracking_no']}/attachments", data=body,
                           content_type=f"multipart/form-data; boundary={boundary}")

    assert app.config["MAX_CONTENT_LENGTH"] == 12 * MB
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")


# ---- who ------------------------------------------------------------------------------------------

def test_the_market_officer_on_the_record_lists_the_evidence_in_order(health_officer, market_officer, joint_record):
    first = recorded(health_officer, joint_record, jpeg_with_exif())
    second = recorded(health_officer, joint_record, pdf(6))

    response = market_officer.get(url(joint_record))

    assert response.status_code == 200
    listed = response.get_json()
    assert (listed["total"], listed["page"]) == (2, 1)
    assert listed["items"] == [first, second]


def test_the_market_officer_on_the_record_downloads_the_file_as_recorded_and_is_audited(
        app, health_officer, market_officer, joint_record):
    photo = jpeg_with_exif()
    entry = recorded(health_officer, joint_record, photo)

    response = market_officer.get(url(joint_record, f"/{entry['id']}/file"))
    data = response.get_data()
    response.close()

    assert response.status_code == 200
    assert data == photo
    assert response.mimetype == "image/jpeg"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response.headers["Cache-Control"]
    [audit] = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "download_evidence")).all()
    assert (audit.account_id, audit.object_type, audit.object_id) == (market_officer.account.id, "inspection",
                                                                      str(joint_record))


def test_an_ecology_officer_not_on_the_record_is_refused_everything(app, health_officer, ecology_officer,
                                                                    joint_record):
    entry = recorded(health_officer, joint_record, jpeg_with_exif())

    assert_error(upload(ecology_officer, joint_record, pdf(7)), 403, "FORBIDDEN")
    assert_error(ecology_officer.get(url(joint_record)), 403, "FORBIDDEN")
    assert_error(ecology_officer.get(url(joint_record, "/verify")), 403, "FORBIDDEN")
    assert_error(ecology_officer.get(url(joint_record, f"/{entry['id']}/file")), 403, "FORBIDDEN")
    assert len(entries(joint_record)) == 1
    assert len(files_under(app.config["UPLOAD_DIR"])) == 1


def test_the_market_officer_may_not_record_on_a_health_only_record(clinic, health_officer, market_officer):
    health_only = single_record(health_officer, clinic["id"])

    assert_error(upload(market_officer, health_only, pdf(8)), 403, "FORBIDDEN")
    assert_error(market_officer.get(url(health_only)), 403, "FORBIDDEN")
    assert recorded(health_officer, health_only, pdf(8))["seq"] == 1


@pytest.mark.parametrize("who", ["institution", "citizen"])
def test_an_institution_or_a_citizen_is_refused(login, clinic, health_officer, joint_record, who):
    persona = login("institution", institution_id=clinic["id"]) if who == "institution" else login("citizen")
    entry = recorded(health_officer, joint_record, pdf(9))

    assert_error(upload(persona, joint_record, pdf(10)), 403, "FORBIDDEN")
    assert_error(persona.get(url(joint_record)), 403, "FORBIDDEN")
    assert_error(persona.get(url(joint_record, "/verify")), 403, "FORBIDDEN")
    assert_error(persona.get(url(joint_record, f"/{entry['id']}/file")), 403, "FORBIDDEN")
    assert len(entries(joint_record)) == 1


def test_without_a_token_nothing_is_answered(client, joint_record):
    assert_error(client.get(url(joint_record)), 401, "UNAUTHORIZED")
    assert_error(client.get(url(joint_record, "/verify")), 401, "UNAUTHORIZED")


def test_an_admin_may_list_and_verify_but_neither_record_nor_download(admin, health_officer, joint_record):
    entry = recorded(health_officer, joint_record, pdf(11))

    assert admin.get(url(joint_record)).get_json()["items"] == [entry]
    assert verify(admin, joint_record)["intact"] is True
    assert_error(upload(admin, joint_record, pdf(12)), 403, "FORBIDDEN")
    assert_error(admin.get(url(joint_record, f"/{entry['id']}/file")), 403, "FORBIDDEN")


def test_an_unknown_inspection_is_not_found(health_officer, joint_record):
    assert_error(upload(health_officer, joint_record + 1000, pdf(13)), 404, "NOT_FOUND")
    assert_error(health_officer.get(url(joint_record + 1000)), 404, "NOT_FOUND")
    assert_error(health_officer.get(url(joint_record + 1000, "/verify")), 404, "NOT_FOUND")


def test_an_entry_of_another_inspection_is_not_found_through_this_one(clinic, health_officer, joint_record):
    other = single_record(health_officer, clinic["id"])
    theirs = recorded(health_officer, other, pdf(14))

    assert_error(health_officer.get(url(joint_record, f"/{theirs['id']}/file")), 404, "NOT_FOUND")


# ---- verification ---------------------------------------------------------------------------------

@pytest.fixture
def chain(health_officer, market_officer, joint_record) -> list[dict]:
    """Three entries: a photo (health), a price list (market), a body-camera video (health)."""
    return [recorded(health_officer, joint_record, jpeg_with_exif()),
            recorded(market_officer, joint_record, png_with_text(), "价目表.png"),
            recorded(health_officer, joint_record, mp4(), "执法记录仪.mp4")]


def test_an_untouched_chain_is_intact(market_officer, joint_record, chain):
    result = verify(market_officer, joint_record)

    assert result == {"intact": True, "entries": 3, "anchor": {"count": 3, "head": chain[2]["sha256"]},
                      "first_broken_seq": None, "reason": None, "problems": []}


def test_an_inspection_without_evidence_is_intact(health_officer, joint_record):
    assert verify(health_officer, joint_record)["intact"] is True


def _remove(seq: int, inspection_id: int) -> None:
    db.session.execute(delete(Evidence).where(Evidence.inspection_id == inspection_id, Evidence.seq == seq))
    db.session.commit()


def _set(seq: int, inspection_id: int, **values) -> None:
    db.session.execute(update(Evidence).where(Evidence.inspection_id == inspection_id, Evidence.seq == seq)
                       .values(**values))
    db.session.commit()


def test_removing_an_entry_in_the_middle_breaks_the_chain(health_officer, joint_record, chain):
    _remove(2, joint_record)

    result = verify(health_officer, joint_record)

    assert (result["intact"], result["first_broken_seq"], result["reason"]) == (False, 2, "missing_entry")
    assert {"seq": 3, "reason": "broken_link"} in result["problems"]


def test_removing_the_last_entry_is_seen_by_the_anchor(health_officer, joint_record, chain):
    _remove(3, joint_record)

    result = verify(health_officer, joint_record)

    assert (result["intact"], result["first_broken_seq"], result["reason"]) == (False, 3, "count_mismatch")
    assert result["entries"] == 2


def test_removing_every_entry_is_seen_by_the_anchor(health_officer, joint_record, chain):
    for seq in (1, 2, 3):
        _remove(seq, joint_record)

    result = verify(health_officer, joint_record)

    assert (result["intact"], result["first_broken_seq"], result["reason"]) == (False, 1, "count_mismatch")


@pytest.mark.parametrize("values", [
    {"size": 1}, {"media_type": "application/pdf"}, {"recorded_by_id": None},
    {"recorded_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)}, {"content_sha256": "0" * 64},
], ids=["size", "media_type", "recorded_by", "recorded_at", "content_sha256"])
def test_altering_a_field_of_an_entry_breaks_the_chain_at_that_entry(health_officer, joint_record, chain, values):
    _set(2, joint_record, **values)

    result = verify(health_officer, joint_record)

    assert (result["intact"], result["first_broken_seq"]) == (False, 2)
    assert {"seq": 2, "reason": "entry_altered"} in result["problems"]


def test_an_altered_entry_with_its_hash_recomputed_breaks_the_next_link(health_officer, joint_record, chain):
    row = entries(joint_record)[1]
    row.size += 1
    _set(2, joint_record, size=row.size, sha256=evidence.entry_hash(row))

    result = verify(health_officer, joint_record)

    assert result["problems"] == [{"seq": 2, "reason": "file_altered"}, {"seq": 3, "reason": "broken_link"}]


def test_the_last_entry_altered_and_rehashed_is_seen_by_the_anchor(app, health_officer, joint_record, chain):
    """Someone swaps the last file for another and rewrites the row to match: only the head tells."""
    other = pdf(15)
    digest = hashlib.sha256(other).hexdigest()
    os.makedirs(os.path.dirname(stored(app, digest)), exist_ok=True)
    with open(stored(app, digest), "wb") as file:
        file.write(other)
    row = entries(joint_record)[2]
    row.content_sha256, row.size, row.media_type = digest, len(other), "application/pdf"
    _set(3, joint_record, content_sha256=digest, size=len(other), media_type="application/pdf",
         sha256=evidence.entry_hash(row))

    result = verify(health_officer, joint_record)

    assert (result["intact"], result["first_broken_seq"], result["reason"]) == (False, 3, "head_mismatch")


def test_an_altered_file_breaks_the_chain(app, health_officer, joint_record, chain):
    path = stored(app, chain[1]["content_sha256"])
    with open(path, "r+b") as file:  # one byte flipped, the size unchanged
        file.seek(-20, os.SEEK_END)
        byte = file.read(1)[0]
        file.seek(-20, os.SEEK_END)
        file.write(bytes([byte ^ 0xFF]))

    result = verify(health_officer, joint_record)

    assert (result["intact"], result["first_broken_seq"], result["reason"]) == (False, 2, "file_altered")


def test_a_removed_file_breaks_the_chain(app, health_officer, joint_record, chain):
    os.unlink(stored(app, chain[0]["content_sha256"]))

    result = verify(health_officer, joint_record)

    assert (result["intact"], result["first_broken_seq"], result["reason"]) == (False, 1, "file_missing")


def test_an_entry_added_after_tampering_does_not_hide_it(health_officer, joint_record, chain):
    """The next entry follows the anchor, not the last row left: the removed third one stays missing."""
    _remove(3, joint_record)

    fourth = recorded(health_officer, joint_record, pdf(16))

    assert (fourth["seq"], fourth["prev_sha256"]) == (4, chain[2]["sha256"])
    result = verify(health_officer, joint_record)
    assert (result["intact"], result["first_broken_seq"], result["reason"]) == (False, 3, "missing_entry")


# ---- at the same moment -----------------------------------------------------------------------

def test_uploads_at_the_same_moment_make_one_chain(app, health_officer, market_officer, joint_record):
    uploads = [(health_officer if n % 2 else market_officer, pdf(100 + n)) for n in range(6)]
    barrier = threading.Barrier(len(uploads))
    answers, failures, guard = [], [], threading.Lock()

    def send(persona, data):
        try:
            barrier.wait(timeout=30)
            response = upload(persona, joint_record, data, "笔录.pdf", client=app.test_client())
            with guard:
                answers.append((response.status_code, response.get_json()))
        except Exception as error:  # noqa: BLE001 - reported by the test, not lost in the thread
            with guard:
                failures.append(repr(error))

    threads = [threading.Thread(target=send, args=pair) for pair in uploads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "an uploading thread hung"

    assert failures == []
    assert [status for status, _ in answers] == [201] * len(uploads), answers
    rows = entries(joint_record)
    assert [row.seq for row in rows] == list(range(1, len(uploads) + 1))
    assert [row.prev_sha256 for row in rows] == [None] + [row.sha256 for row in rows[:-1]]
    assert verify(health_officer, joint_record)["intact"] is True


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL only: watching a statement wait for a row lock")
def test_an_upload_waiting_for_the_inspection_chains_after_the_entry_added_meanwhile(
        app, health_officer, market_officer, joint_record, make_app):
    """Another upload holds the inspection; ours waits for it with a snapshot from before that one's
    entry and anchor existed, and must still chain after them."""
    served = make_app().test_client()
    holder = db.session
    lock_row(holder, Inspection, joint_record)
    answers: list = []
    waiting = threading.Thread(target=lambda: answers.append(upload(market_officer, joint_record, pdf(200),
                                                                    client=served)))
    waiting.start()
    try:
        wait_until_backends_wait_for_a_lock("%FOR UPDATE%")
        first, _ = evidence.record(session=holder, account=health_officer.account,
                                   inspection=holder.get_one(Inspection, joint_record), stream=io.BytesIO(pdf(201)),
                                   filename="笔录.pdf", upload_dir=app.config["UPLOAD_DIR"])
        first_hash = first.sha256
    finally:
        holder.commit()
        waiting.join(timeout=60)

    [response] = answers
    assert response.status_code == 201, response.get_json()
    assert (response.get_json()["seq"], response.get_json()["prev_sha256"]) == (2, first_hash)
    assert verify(health_officer, joint_record)["intact"] is True

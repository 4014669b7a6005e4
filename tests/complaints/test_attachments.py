"""Attachments: JPEG, PNG or PDF by content; image metadata (EXIF, GPS, text chunks) removed before
anything is written; 10 MB and 6 per case at most; never served publicly; downloads only by the
handling department, each one audited."""

from __future__ import annotations

import hashlib
import io
import os
import threading

import pytest
from sqlalchemy import select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from api.audit import AuditEntry
from tests.complaints.helpers import (
    GPS_MARKER,
    TEXT_MARKER,
    act,
    advance,
    assert_error,
    assert_validation_error,
    complaint_body,
    jpeg_with_exif,
    jpeg_without_metadata,
    pdf,
    png_with_bad_crc,
    png_with_text,
    png_without_metadata,
    rows,
    submitted,
    track,
)

MB = 1024 * 1024
ATTACHMENT_KEYS = {"id", "content_type", "size", "filename", "created_at"}
UNKNOWN_NUMBER = "TS20260101999999"


def upload(client, tracking_no, query_code, data: bytes, filename="x.jpg"):
    """POST the file as multipart/form-data, the body encoded in memory (the test client would spool
    a large one to a temporary file that it never closes)."""
    boundary, body = encode_multipart({"query_code": query_code,
                                       "file": FileStorage(io.BytesIO(data), filename=filename)})
    return client.post(f"/api/v1/complaints/{tracking_no}/attachments", data=body,
                       content_type=f"multipart/form-data; boundary={boundary}")


def uploaded(client, case, data: bytes, filename="x.jpg") -> dict:
    response = upload(client, case["tracking_no"], case["query_code"], data, filename)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def stored_path(app, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    return os.path.join(app.config["UPLOAD_DIR"], digest[:2], digest)


def files_under(folder: str) -> dict[str, bytes]:
    """Every file under `folder` (temporary ones included), by path."""
    found = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as file:
                found[path] = file.read()
    return found


def _pdf_of_size(size: int) -> bytes:
    head, tail = b"%PDF-1.4\n%", b"\n%%EOF\n"
    return head + b"0" * (size - len(head) - len(tail)) + tail


@pytest.fixture
def case(client):
    """A fresh complaint about medical quality (handled by health): its receipt."""
    return submitted(client)


# ---- what is kept of a file --------------------------------------------------------------------

def test_a_photos_exif_and_gps_are_removed_and_its_image_kept(app, client, case):
    original = jpeg_with_exif()
    assert GPS_MARKER in original and b"Exif\x00\x00" in original

    attachment = uploaded(client, case, original, "IMG_0001.jpg")

    expected = jpeg_without_metadata()
    assert set(attachment) == ATTACHMENT_KEYS
    assert (attachment["content_type"], attachment["size"], attachment["filename"]) == (
        "image/jpeg", len(expected), "IMG_0001.jpg")
    with open(stored_path(app, expected), "rb") as file:
        assert file.read() == expected
    for content in files_under(app.config["UPLOAD_DIR"]).values():
        assert GPS_MARKER not in content and b"Exif" not in content and TEXT_MARKER not in content


def test_a_pngs_text_time_and_exif_chunks_are_removed_and_its_pixels_kept(app, client, case):
    attachment = uploaded(client, case, png_with_text(), "screenshot.png")

    expected = png_without_metadata()
    assert (attachment["content_type"], attachment["size"]) == ("image/png", len(expected))
    with open(stored_path(app, expected), "rb") as file:
        assert file.read() == expected
    for content in files_under(app.config["UPLOAD_DIR"]).values():
        assert GPS_MARKER not in content and TEXT_MARKER not in content
        assert b"tEXt" not in content and b"tIME" not in content and b"eXIf" not in content


def test_a_second_picture_appended_after_the_image_does_not_carry_its_exif_through(app, client, case):
    # Phones append data after the end of the main image: a gain map or depth map (MPF) that is a
    # JPEG with its own EXIF, or a Motion Photo's video. None of its metadata may be kept.
    original = jpeg_with_exif() + jpeg_with_exif()

    attachment = uploaded(client, case, original, "IMG_0002.jpg")

    stored = files_under(app.config["UPLOAD_DIR"])
    assert len(stored) == 1
    (content,) = stored.values()
    assert content.startswith(jpeg_without_metadata())
    assert attachment["size"] == len(content)
    assert GPS_MARKER not in content and b"Exif" not in content and TEXT_MARKER not in content


def test_a_pdf_is_stored_as_sent(app, client, case):
    document = pdf(1)

    attachment = uploaded(client, case, document, "invoice.pdf")

    assert (attachment["content_type"], attachment["size"]) == ("application/pdf", len(document))
    with open(stored_path(app, document), "rb") as file:
        assert file.read() == document


@pytest.mark.parametrize(("data", "filename", "content_type"), [
    (png_with_text(), "photo.jpg", "image/png"),
    (pdf(2), "picture.png", "application/pdf"),
    (jpeg_with_exif(), "document.pdf", "image/jpeg"),
])
def test_the_type_is_decided_by_content_not_by_the_name(client, case, data, filename, content_type):
    assert uploaded(client, case, data, filename)["content_type"] == content_type


@pytest.mark.parametrize("data", [
    pytest.param("这是一个文本文件，不是图片。\n".encode() * 20, id="text-renamed-jpg"),
    pytest.param(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", id="gif"),
    pytest.param(b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", id="svg"),
    pytest.param(png_with_bad_crc(), id="png-with-a-bad-crc"),
    pytest.param(png_without_metadata()[:40], id="truncated-png"),
    pytest.param(jpeg_with_exif()[:30], id="truncated-jpeg"),
    pytest.param(b"%PDF-1.4\n1 0 obj << >> endobj\n", id="pdf-without-its-end"),
    pytest.param(b"", id="empty"),
])
def test_a_file_that_is_not_what_it_claims_is_refused_and_nothing_is_kept(app, client, case, data):
    response = upload(client, case["tracking_no"], case["query_code"], data, "x.jpg")

    assert_validation_error(response, "file")
    assert rows("complaint_attachments") == 0
    assert files_under(app.config["UPLOAD_DIR"]) == {}


def test_a_file_the_store_cannot_write_answers_503_and_the_case_keeps_no_attachment(make_app, tmp_path):
    blocker = tmp_path / "a-file-where-the-folder-should-be"
    blocker.write_bytes(b"")
    app = make_app(UPLOAD_DIR=str(blocker / "uploads"))  # every write under it fails (NotADirectoryError)
    client = app.test_client()
    case = submitted(client)

    response = upload(client, case["tracking_no"], case["query_code"], jpeg_without_metadata())

    assert_error(response, 503, "UNAVAILABLE")
    assert response.headers["Retry-After"].isdigit()
    with app.app_context():
        assert rows("complaint_attachments") == 0


# ---- limits ------------------------------------------------------------------------------------

def test_a_file_of_exactly_ten_megabytes_is_accepted(client, case):
    attachment = uploaded(client, case, _pdf_of_size(10 * MB), "scan.pdf")

    assert attachment["size"] == 10 * MB


def test_a_file_over_ten_megabytes_is_refused_as_too_large(app, client, case):
    response = upload(client, case["tracking_no"], case["query_code"], _pdf_of_size(10 * MB + 1), "scan.pdf")

    assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert rows("complaint_attachments") == 0
    assert files_under(app.config["UPLOAD_DIR"]) == {}


def test_a_request_over_the_twelve_megabyte_body_limit_is_refused_in_the_envelope(app, client, case):
    assert app.config["MAX_CONTENT_LENGTH"] == 12 * MB

    response = upload(client, case["tracking_no"], case["query_code"], _pdf_of_size(13 * MB), "scan.pdf")

    assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert rows("complaint_attachments") == 0


def test_the_seventh_distinct_file_is_refused(client, case):
    for serial in range(6):
        uploaded(client, case, pdf(serial), f"doc{serial}.pdf")

    response = upload(client, case["tracking_no"], case["query_code"], pdf(6), "doc6.pdf")

    assert_error(response, 409, "CONFLICT")
    assert rows("complaint_attachments") == 6


def test_the_same_file_sent_twice_is_one_attachment(client, case):
    first = uploaded(client, case, jpeg_with_exif())

    again = upload(client, case["tracking_no"], case["query_code"], jpeg_with_exif())

    assert again.status_code == 200
    assert again.get_json()["id"] == first["id"]
    assert rows("complaint_attachments") == 1


def test_a_file_already_attached_does_not_count_twice_towards_the_limit(client, case):
    for serial in range(6):
        uploaded(client, case, pdf(serial))

    again = upload(client, case["tracking_no"], case["query_code"], pdf(0))

    assert again.status_code == 200
    assert rows("complaint_attachments") == 6


def test_two_cases_may_carry_the_same_file(app, client, case):
    other = submitted(client)

    first = uploaded(client, case, pdf(1))
    second = uploaded(client, other, pdf(1))

    assert first["id"] != second["id"]
    assert rows("complaint_attachments") == 2
    assert len(files_under(app.config["UPLOAD_DIR"])) == 1  # stored once by content


# ---- who may add files -------------------------------------------------------------------------

def test_a_wrong_query_code_answers_like_an_unknown_number(client, case):
    wrong = "23456789" if case["query_code"] != "23456789" else "98765432"

    wrong_code = upload(client, case["tracking_no"], wrong, pdf(1))
    unknown_number = upload(client, UNKNOWN_NUMBER, case["query_code"], pdf(1))

    assert_error(wrong_code, 404, "NOT_FOUND")
    assert wrong_code.get_data() == unknown_number.get_data()
    assert wrong_code.get_data() == track(client, UNKNOWN_NUMBER, case["query_code"]).get_data()
    assert rows("complaint_attachments") == 0


def test_the_query_code_is_required_to_upload(client, case):
    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(pdf(1)), filename="x.pdf")})
    response = client.post(f"/api/v1/complaints/{case['tracking_no']}/attachments", data=body,
                           content_type=f"multipart/form-data; boundary={boundary}")

    assert_validation_error(response, "query_code")
    assert rows("complaint_attachments") == 0


def test_an_upload_without_a_file_is_refused(client, case):
    boundary, body = encode_multipart({"query_code": case["query_code"]})
    response = client.post(f"/api/v1/complaints/{case['tracking_no']}/attachments", data=body,
                           content_type=f"multipart/form-data; boundary={boundary}")

    assert_validation_error(response, "file")
    assert rows("complaint_attachments") == 0


@pytest.mark.parametrize("status", ["resolved", "replied", "closed"])
def test_a_case_past_investigation_refuses_new_files(client, case, health_officer, health_supervisor, status):
    advance(case["tracking_no"], status, officer=health_officer, supervisor=health_supervisor)

    response = upload(client, case["tracking_no"], case["query_code"], pdf(1))

    assert_error(response, 409, "CONFLICT")
    assert rows("complaint_attachments") == 0


def test_a_rejected_case_refuses_new_files(client, case, health_officer):
    act(health_officer, case["tracking_no"], "reject", note="不属于本部门职责范围，请向法院起诉。")

    response = upload(client, case["tracking_no"], case["query_code"], pdf(1))

    assert_error(response, 409, "CONFLICT")
    assert rows("complaint_attachments") == 0


def test_files_can_still_be_added_while_the_case_is_investigated(client, case, health_officer, health_supervisor):
    advance(case["tracking_no"], "investigating", officer=health_officer, supervisor=health_supervisor)

    assert upload(client, case["tracking_no"], case["query_code"], pdf(1)).status_code == 201


# ---- who may read files ------------------------------------------------------------------------

def _file_url(case, attachment):
    return f"/api/v1/complaints/{case['tracking_no']}/attachments/{attachment['id']}"


def _downloads():
    from api.database import db

    db.session.expire_all()
    return db.session.scalars(select(AuditEntry).where(AuditEntry.action == "download_attachment")).all()


def test_files_are_never_served_publicly(client, case, citizen):
    attachment = uploaded(client, case, jpeg_with_exif())
    assert not any("url" in key or "path" in key for key in attachment)

    anonymous = client.get(_file_url(case, attachment))
    as_citizen = citizen.get(_file_url(case, attachment))
    tracking = track(client, case["tracking_no"], case["query_code"]).get_data(as_text=True)

    assert_error(anonymous, 401, "UNAUTHORIZED")
    assert as_citizen.status_code in (403, 404)
    assert hashlib.sha256(jpeg_without_metadata()).hexdigest() not in tracking
    assert _downloads() == []


def test_the_handling_department_downloads_the_cleaned_file_and_the_download_is_audited(
        client, case, health_officer):
    attachment = uploaded(client, case, jpeg_with_exif())

    with health_officer.get(_file_url(case, attachment)) as response:
        assert response.status_code == 200
        assert response.get_data() == jpeg_without_metadata()
        assert response.headers["Content-Type"] == "image/jpeg"
        assert response.headers["Cache-Control"] == "private, no-store"
        assert response.headers.get("X-Content-Type-Options") == "nosniff"
    entries = _downloads()
    assert [(e.account_id, e.object_type, e.object_id) for e in entries] == [
        (health_officer.account.id, "complaint", case["tracking_no"])]


def test_the_handling_department_sees_the_attachment_listed_on_the_case(client, case, health_officer):
    attachment = uploaded(client, case, pdf(3), "receipt.pdf")

    listed = health_officer.get(f"/api/v1/complaints/{case['tracking_no']}").get_json()["attachments"]

    assert [(a["id"], a["content_type"], a["filename"]) for a in listed] == [
        (attachment["id"], "application/pdf", "receipt.pdf")]


def test_an_officer_of_another_department_cannot_download(client, case, market_officer):
    attachment = uploaded(client, case, jpeg_with_exif())

    response = market_officer.get(_file_url(case, attachment))

    assert_error(response, 404, "NOT_FOUND")
    assert _downloads() == []


def test_a_co_handling_department_sees_the_case_but_cannot_download_its_files(client, login):
    police = login("officer", department="public_security")
    case = submitted(client, complaint_body(category="illegal_practice"))  # health handles, the police see
    attachment = uploaded(client, case, jpeg_with_exif())
    assert police.get(f"/api/v1/complaints/{case['tracking_no']}").status_code == 200

    response = police.get(_file_url(case, attachment))

    assert response.status_code in (403, 404)
    assert response.get_data() != jpeg_without_metadata()
    assert _downloads() == []


def test_the_institution_complained_about_cannot_download(client, clinic, clinic_account, health_officer,
                                                          health_supervisor):
    case = submitted(client, complaint_body(target={"institution_id": clinic["id"]}))
    attachment = uploaded(client, case, jpeg_with_exif())
    advance(case["tracking_no"], "resolved", officer=health_officer, supervisor=health_supervisor)
    assert clinic_account.get(f"/api/v1/complaints/{case['tracking_no']}").status_code == 200  # it sees the case

    response = clinic_account.get(_file_url(case, attachment))

    assert response.status_code in (403, 404)
    assert response.get_data() != jpeg_without_metadata()
    assert _downloads() == []


def test_an_admin_cannot_download(client, case, admin):
    attachment = uploaded(client, case, jpeg_with_exif())

    response = admin.get(_file_url(case, attachment))

    assert_error(response, 403, "FORBIDDEN")
    assert _downloads() == []


def test_an_attachment_of_another_case_is_not_found_through_this_one(client, case, health_officer):
    other = submitted(client)
    theirs = uploaded(client, other, pdf(9))

    response = health_officer.get(f"/api/v1/complaints/{case['tracking_no']}/attachments/{theirs['id']}")

    assert_error(response, 404, "NOT_FOUND")
    assert _downloads() == []


# ---- at the same moment ------------------------------------------------------------------------

def _upload_concurrently(app, case, files: list[bytes]) -> list:
    barrier = threading.Barrier(len(files))
    answers, failures = [], []
    lock = threading.Lock()

    def send(data):
        client = app.test_client()
        try:
            barrier.wait(timeout=30)
            response = upload(client, case["tracking_no"], case["query_code"], data, "x.pdf")
            with lock:
                answers.append((response.status_code, response.get_json()))
        except Exception as error:  # noqa: BLE001 - reported by the test, not lost in the thread
            with lock:
                failures.append(repr(error))

    threads = [threading.Thread(target=send, args=(data,)) for data in files]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "an uploading thread hung"
    assert failures == []
    return answers


def test_concurrent_uploads_never_take_a_case_past_six_files(app, client, case):
    for serial in range(5):
        uploaded(client, case, pdf(serial))

    answers = _upload_concurrently(app, case, [pdf(100 + n) for n in range(4)])

    assert sorted(status for status, _ in answers) == [201, 409, 409, 409], answers
    assert rows("complaint_attachments") == 6


def test_the_same_file_sent_twice_at_once_is_one_attachment(app, case):
    answers = _upload_concurrently(app, case, [pdf(7)] * 4)

    assert sorted(status for status, _ in answers) == [200, 200, 200, 201], answers
    assert len({body["id"] for _, body in answers}) == 1
    assert rows("complaint_attachments") == 1

"""Attachments: type decided by content, image metadata removed, stored once by content hash.

A photo from a phone carries EXIF (often GPS: where the complainant lives or stood) and a PDF
carries little that identifies; so JPEG and PNG are rewritten without their metadata segments and
chunks, and PDFs are kept as sent. Files are written atomically (temp file, then rename) under
UPLOAD_DIR/ab/abcdef…; a file already there is not written twice.
"""

from __future__ import annotations

import hashlib
import logging
import os
import struct
import tempfile
import zlib

from sqlalchemy import select

from api.database import SessionLike, lock_row
from api.errors import Conflict, DomainError, Unavailable, ValidationFailed
from complaints.models import Attachment, Complaint

log = logging.getLogger(__name__)

MAX_BYTES = 10 * 1024 * 1024
MAX_PER_CASE = 6
OPEN_FOR_ATTACHMENTS = ("submitted", "accepted", "assigned", "investigating")
JPEG, PNG, PDF = "image/jpeg", "image/png", "application/pdf"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# PNG chunks that carry text, time or EXIF; every other chunk (pixels, palette, colour) is kept.
_PNG_METADATA = {b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"tIME"}
# JPEG: keep APP0 (JFIF), APP2 (ICC profile: colours) and APP14 (Adobe: colour transform); drop the
# other APPn (APP1 is EXIF and XMP, APP13 is IPTC/Photoshop) and COM comments.
_JPEG_KEEP_APP = {0xE0, 0xE2, 0xEE}


class PayloadTooLarge(DomainError):
    status, code, default_message = 413, "PAYLOAD_TOO_LARGE", "文件不能超过 10 MB"


def sniff(data: bytes) -> str | None:
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(_PNG_SIGNATURE):
        return PNG
    if data.startswith(b"%PDF-"):
        return PDF
    return None


def strip_jpeg(data: bytes) -> bytes:
    """Copy the segments and scans of the image, leaving out metadata segments, and stop at the end of
    the image: whatever a phone appends after it (a second picture with its own EXIF, a motion-photo
    video) is dropped too."""
    out, pos = [data[:2]], 2
    while True:
        if pos + 2 > len(data) or data[pos] != 0xFF:
            raise ValueError("JPEG marker expected")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xD9:  # end of image
            out.append(data[pos:pos + 2])
            return b"".join(out)
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            out.append(data[pos:pos + 2])
            pos += 2
            continue
        if pos + 4 > len(data):
            raise ValueError("JPEG segment runs past the end")
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        if length < 2 or pos + 2 + length > len(data):
            raise ValueError("JPEG segment runs past the end")
        end = pos + 2 + length
        if not ((0xE1 <= marker <= 0xEF and marker not in _JPEG_KEEP_APP) or marker == 0xFE):
            out.append(data[pos:end])
        pos = end
        if marker == 0xDA:  # start of scan: entropy-coded data up to the next real marker
            scan_end = _end_of_scan(data, pos)
            out.append(data[pos:scan_end])
            pos = scan_end


def _end_of_scan(data: bytes, pos: int) -> int:
    """Position of the first marker after entropy-coded data (0xFF00 is a stuffed byte, RSTn restarts)."""
    while True:
        pos = data.find(b"\xff", pos)
        if pos < 0 or pos + 1 >= len(data):
            raise ValueError("JPEG scan without an end")
        following = data[pos + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
            pos += 1 if following == 0xFF else 2
            continue
        return pos


def strip_png(data: bytes) -> bytes:
    out, pos = [_PNG_SIGNATURE], len(_PNG_SIGNATURE)
    seen_end = False
    while pos < len(data):
        if pos + 12 > len(data):
            raise ValueError("PNG chunk runs past the end")
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        end = pos + 12 + length
        if end > len(data):
            raise ValueError("PNG chunk runs past the end")
        (crc,) = struct.unpack(">I", data[end - 4:end])
        if zlib.crc32(data[pos + 4:end - 4]) != crc:
            raise ValueError("PNG chunk checksum mismatch")
        if kind not in _PNG_METADATA:
            out.append(data[pos:end])
        pos = end
        if kind == b"IEND":
            seen_end = True
            break
    if not seen_end or len(out) < 3:
        raise ValueError("PNG without image data")
    return b"".join(out)


def clean(data: bytes) -> tuple[str, bytes]:
    """(content type, bytes to store) or a 422 for anything that is not what it claims to be."""
    content_type = sniff(data)
    if content_type is None:
        raise ValidationFailed("只能上传 JPEG、PNG 图片或 PDF 文件", fields={"file": ["文件类型不支持"]})
    try:
        if content_type == JPEG:
            return content_type, strip_jpeg(data)
        if content_type == PNG:
            return content_type, strip_png(data)
    except ValueError:
        raise ValidationFailed("文件已损坏或格式不正确", fields={"file": ["无法识别的图片"]}) from None
    if b"%%EOF" not in data[-1024:]:
        raise ValidationFailed("文件已损坏或格式不正确", fields={"file": ["不完整的 PDF"]})
    return content_type, data


def store(upload_dir: str, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    folder = os.path.join(upload_dir, digest[:2])
    path = os.path.join(folder, digest)
    if not os.path.exists(path):
        try:
            _write_whole(folder, path, data)
        except OSError as error:  # a full disk, a read-only or missing mount: the case stays as it was
            log.error("attachment store unwritable: %s", error)
            raise Unavailable("附件暂时无法保存，请稍后重试") from error
    return digest


def _write_whole(folder: str, path: str, data: bytes) -> None:
    """Write to a temporary name, then rename: a reader never sees half a file."""
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".upload-")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def path_of(upload_dir: str, digest: str) -> str:
    return os.path.join(upload_dir, digest[:2], digest)


def attach(*, session: SessionLike, complaint: Complaint, data: bytes, filename: str | None, upload_dir: str) -> tuple[Attachment, bool]:
    """Add a file to the case: (attachment, created). Sending the same file again returns the first."""
    if len(data) > MAX_BYTES:
        raise PayloadTooLarge()
    if complaint.status not in OPEN_FOR_ATTACHMENTS:
        raise Conflict("该投诉已办结，不能再补充材料")
    content_type, cleaned = clean(data)
    digest = hashlib.sha256(cleaned).hexdigest()
    # Lock the case so two uploads at once cannot both be the sixth.
    lock_row(session, Complaint, complaint.id)
    existing = session.scalars(select(Attachment).where(Attachment.complaint_id == complaint.id)).all()
    for attachment in existing:
        if attachment.sha256 == digest:
            return attachment, False
    if len(existing) >= MAX_PER_CASE:
        raise Conflict(f"每件投诉最多 {MAX_PER_CASE} 个附件")
    store(upload_dir, cleaned)
    attachment = Attachment(complaint_id=complaint.id, sha256=digest, content_type=content_type, size=len(cleaned),
                            filename=_safe_name(filename))
    session.add(attachment)
    session.flush()
    return attachment, True


def _safe_name(filename: str | None) -> str | None:
    if not filename:
        return None
    name = os.path.basename(filename.replace("\\", "/"))
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '"<>|:*?')
    return name[:100] or None

"""Attachments: type decided by content, image metadata removed, stored once by content hash.

A photo from a phone carries EXIF (often GPS: where the complainant lives or stood) and a PDF
carries little that identifies; so JPEG and PNG are rewritten without their metadata segments and
chunks, and PDFs are kept as sent. Files are written atomically (temp file, then rename) under
UPLOAD_DIR/ab/abcdef…; a file already there is not written twice (api.files, shared with inspection
evidence, which keeps its files byte for byte).
"""

from __future__ import annotations

import hashlib
import logging

from sqlalchemy import select

from api import files
from api.database import SessionLike, lock_row
from api.errors import Conflict, DomainError, Unavailable, ValidationFailed
from complaints.models import Attachment, Complaint

log = logging.getLogger(__name__)

MAX_BYTES = 10 * 1024 * 1024
MAX_PER_CASE = 6
OPEN_FOR_ATTACHMENTS = ("submitted", "accepted", "assigned", "investigating")
JPEG, PNG, PDF = files.JPEG, files.PNG, files.PDF
_PNG_SIGNATURE = files.PNG_SIGNATURE
# PNG chunks that carry text, time or EXIF; every other chunk (pixels, palette, colour) is kept.
_PNG_METADATA = {b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"tIME"}
# JPEG: keep APP0 (JFIF), APP2 (ICC profile: colours) and APP14 (Adobe: colour transform); drop the
# other APPn (APP1 is EXIF and XMP, APP13 is IPTC/Photoshop) and COM comments.
_JPEG_KEEP_APP = {0xE0, 0xE2, 0xEE}


class PayloadTooLarge(DomainError):
    status, code, default_message = 413, "PAYLOAD_TOO_LARGE", "文件不能超过 10 MB"


def sniff(data: bytes) -> str | None:
    """JPEG, PNG or PDF by content (a video is not a complaint attachment)."""
    content_type = files.sniff(data)
    return content_type if content_type in (JPEG, PNG, PDF) else None


def strip_jpeg(data: bytes) -> bytes:
    """Copy the segments and scans of the image, leaving out metadata segments, and stop at the end of
    the image: whatever a phone appends after it (a second picture with its own EXIF, a motion-photo
    video) is dropped too."""
    return b"".join(data[start:end] for marker, start, end in files.jpeg_pieces(data) if not _jpeg_metadata(marker))


def _jpeg_metadata(marker: int | None) -> bool:
    """APPn segments other than those kept, and comments (marker None: a scan's image data)."""
    return marker is not None and ((0xE1 <= marker <= 0xEF and marker not in _JPEG_KEEP_APP) or marker == 0xFE)


def strip_png(data: bytes) -> bytes:
    chunks = list(files.png_chunks(data))  # to IEND, every checksum checked
    kept = [data[start:end] for kind, start, end in chunks if kind not in _PNG_METADATA]
    if len(kept) < 2:
        raise ValueError("PNG without image data")
    return _PNG_SIGNATURE + b"".join(kept)


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
    try:
        return files.store(upload_dir, data)
    except OSError as error:  # a full disk, a read-only or missing mount: the case stays as it was
        log.error("attachment store unwritable: %s", error)
        raise Unavailable("附件暂时无法保存，请稍后重试") from error


path_of = files.path_of


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
    return files.safe_name(filename, 100)

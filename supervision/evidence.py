"""Evidence of an inspection (执法全过程记录): files kept byte for byte, entries chained by hash.

A photo's EXIF (when and where it was taken) is part of the evidence, so nothing is rewritten: the file
is stored as received, under its SHA-256 (api.files), and its type is decided by its content (JPEG, PNG,
PDF or MP4, each walked to its end). Each entry's `sha256` is the SHA-256 of a canonical serialisation
of its fields and the previous entry's `sha256`; the inspection's `evidence_count` and `evidence_head`
anchor the chain, so that removing the last entry is seen as well as removing one in the middle.
Entries are added under the inspection's row lock, so two uploads at once cannot both take the same
place in the chain. verify() recomputes everything from the stored rows and the stored files.

Who: officers and supervisors of a department on the record add and read evidence; admins may read the
list and verify it (oversight) but neither add nor download files; every other regulator sees the
record (GET /inspections) but is refused its evidence (403); an unknown inspection is 404.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from typing import IO

from sqlalchemy import select

from api import audit, files
from api.access import ADMIN, STAFF
from api.database import SessionLike, lock_row, utcnow
from api.errors import DomainError, Forbidden, NotFound, Unavailable, ValidationFailed
from api.models import Account
from supervision.models import Evidence, Inspection, InspectionDepartment

log = logging.getLogger(__name__)

MAX_BYTES = 50 * 1024 * 1024
MEDIA_TYPES = (files.JPEG, files.PNG, files.PDF, files.MP4)
EXTENSIONS = {files.JPEG: "jpg", files.PNG: "png", files.PDF: "pdf", files.MP4: "mp4"}
SCHEME = "onecode-evidence-v1"  # names the serialisation below; a new one would get a new name


class PayloadTooLarge(DomainError):
    status, code, default_message = 413, "PAYLOAD_TOO_LARGE", "证据文件不能超过 50 MB"


# ---- the chain ------------------------------------------------------------------------------------

def canonical(*, inspection_id: int, seq: int, content_sha256: str, media_type: str, size: int,
              recorded_at: dt.datetime, recorded_by_id: int | None, prev_sha256: str | None) -> bytes:
    """The bytes an entry's hash is taken over: JSON with sorted keys, no spaces, ASCII only, the time
    in UTC to the microsecond (what both databases keep)."""
    fields = {"scheme": SCHEME, "inspection_id": inspection_id, "seq": seq, "content_sha256": content_sha256,
              "media_type": media_type, "size": size,
              "recorded_at": recorded_at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
              "recorded_by_id": recorded_by_id, "prev_sha256": prev_sha256}
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def entry_hash(entry: Evidence) -> str:
    return hashlib.sha256(canonical(
        inspection_id=entry.inspection_id, seq=entry.seq, content_sha256=entry.content_sha256,
        media_type=entry.media_type, size=entry.size, recorded_at=entry.recorded_at,
        recorded_by_id=entry.recorded_by_id, prev_sha256=entry.prev_sha256)).hexdigest()


# ---- who may do what ------------------------------------------------------------------------------

def departments_on(*, session: SessionLike, inspection: Inspection) -> set[str]:
    """The departments on the record (inspection_departments: the lead one and every one that came)."""
    return set(session.scalars(select(InspectionDepartment.department)
                               .where(InspectionDepartment.inspection_id == inspection.id)))


def _inspection(session: SessionLike, inspection_id: int) -> Inspection:
    inspection = session.get(Inspection, inspection_id)
    if inspection is None:
        raise NotFound("未找到该检查记录")
    return inspection


def _on_record(session: SessionLike, account: Account, inspection: Inspection) -> bool:
    return account.role in STAFF and account.department in departments_on(session=session, inspection=inspection)


def inspection_for_recording(*, session: SessionLike, account: Account, inspection_id: int) -> Inspection:
    """The inspection, if `account` works for a department on it (404 unknown, 403 otherwise)."""
    inspection = _inspection(session, inspection_id)
    if not _on_record(session, account, inspection):
        raise Forbidden("只有检查记录所列部门的执法人员可以上传执法记录")
    return inspection


def inspection_for_reading(*, session: SessionLike, account: Account, inspection_id: int,
                           files_too: bool = False) -> Inspection:
    """The inspection, if `account` works for a department on it, or is an admin reading the list or
    verifying it (not the files)."""
    inspection = _inspection(session, inspection_id)
    if not (_on_record(session, account, inspection) or (account.role == ADMIN and not files_too)):
        raise Forbidden("只有检查记录所列部门可以查看执法记录")
    return inspection


# ---- adding an entry ------------------------------------------------------------------------------

def record(*, session: SessionLike, account: Account, inspection: Inspection, stream: IO[bytes],
           filename: str | None, upload_dir: str) -> tuple[Evidence, bool]:
    """(entry, created). Check and store the file as received, then chain its entry after the last one
    under the inspection's lock and move the anchor. The same bytes sent again for the same inspection
    (a retry whose answer was lost) are the entry already recorded, not a second one.

    The file is in its place before the row is flushed, so a committed entry never names a missing
    file; a file stored for a request that then fails stays, unnamed (content-addressed, it harms
    nothing and a later upload of the same bytes reuses it)."""
    try:
        spooled = files.spool(stream, upload_dir, MAX_BYTES)
    except files.TooLarge:
        raise PayloadTooLarge() from None
    except OSError as error:
        raise _unwritable(error) from error
    try:
        media_type = _media_type(spooled)
        lock_row(session, Inspection, inspection.id)
        # The anchor as the last writer committed it (the lock makes it current; this session may hold
        # an older copy). The chain follows the anchor, not the last row still there: an entry removed
        # from the end leaves a gap that verify() reports, instead of being overwritten unseen.
        current = session.execute(select(Inspection).where(Inspection.id == inspection.id)
                                  .execution_options(populate_existing=True)).scalar_one()
        existing = session.scalars(entries_query(current.id)
                                   .where(Evidence.content_sha256 == spooled.sha256).limit(1)).first()
        if existing is not None:
            return existing, False
        try:
            spooled.keep(upload_dir)
        except OSError as error:
            raise _unwritable(error) from error
    finally:
        spooled.discard()
    entry = Evidence(inspection_id=current.id, seq=current.evidence_count + 1, content_sha256=spooled.sha256,
                     media_type=media_type, size=spooled.size, filename=files.safe_name(filename, 200),
                     prev_sha256=current.evidence_head, recorded_at=utcnow(), recorded_by_id=account.id)
    entry.sha256 = entry_hash(entry)
    current.evidence_count = entry.seq
    current.evidence_head = entry.sha256
    session.add(entry)
    session.flush()
    return entry, True


def _media_type(spooled: files.Spooled) -> str:
    try:
        media_type = spooled.media_type()
    except ValueError as error:
        log.info("evidence refused: %s", error)
        raise ValidationFailed("只能上传完整的 JPEG、PNG 图片、PDF 文件或 MP4 视频",
                               fields={"file": ["文件类型不支持，或文件不完整"]}) from None
    if media_type not in MEDIA_TYPES:  # check() knows no other today; a new type must be chosen here
        raise ValidationFailed(fields={"file": ["文件类型不支持"]})
    return media_type


def _unwritable(error: OSError) -> Unavailable:
    log.error("evidence store unwritable: %s", error)
    return Unavailable("执法记录文件暂时无法保存，请稍后重试")


# ---- reading --------------------------------------------------------------------------------------

def entries_query(inspection_id: int):
    return select(Evidence).where(Evidence.inspection_id == inspection_id).order_by(Evidence.seq, Evidence.id)


def view(entry: Evidence, accounts: dict[int, Account]) -> dict:
    by = accounts.get(entry.recorded_by_id) if entry.recorded_by_id is not None else None
    return {"id": entry.id, "inspection_id": entry.inspection_id, "seq": entry.seq, "sha256": entry.sha256,
            "prev_sha256": entry.prev_sha256, "content_sha256": entry.content_sha256,
            "media_type": entry.media_type, "size": entry.size, "filename": entry.filename,
            "recorded_at": entry.recorded_at,
            "recorded_by": None if by is None else {"id": by.id, "username": by.username,
                                                    "department": by.department}}


def views(*, session: SessionLike, entries: list[Evidence]) -> list[dict]:
    ids = {e.recorded_by_id for e in entries if e.recorded_by_id is not None}
    accounts = {a.id: a for a in session.scalars(select(Account).where(Account.id.in_(ids)))} if ids else {}
    return [view(e, accounts) for e in entries]


def entry_for_download(*, session: SessionLike, account: Account, inspection: Inspection, evidence_id: int) -> Evidence:
    entry = session.get(Evidence, evidence_id)
    if entry is None or entry.inspection_id != inspection.id:
        raise NotFound("未找到该执法记录")
    audit.record(session=session, account_id=account.id, action=audit.DOWNLOAD_EVIDENCE, object_type="inspection",
                 object_id=str(inspection.id), detail=f"evidence {entry.id} (seq {entry.seq})")
    return entry


# ---- verification ---------------------------------------------------------------------------------

def verify(*, session: SessionLike, inspection: Inspection, upload_dir: str) -> dict:
    """Recompute the chain from the stored rows and files: seq 1..n without gaps, each entry's hash over
    its fields, each link to the entry before, each file's bytes against its hash and size, and the
    anchor (count and head). `problems` lists every finding in order; `first_broken_seq` and `reason`
    are the first."""
    entries = list(session.scalars(entries_query(inspection.id)))
    problems: list[dict] = []
    prev, expected = None, 1
    for entry in entries:
        if entry.seq != expected:  # seq `expected` up to this one's were removed
            problems.append({"seq": expected, "reason": "missing_entry"})
        if entry.prev_sha256 != prev:
            problems.append({"seq": entry.seq, "reason": "broken_link"})
        if entry_hash(entry) != entry.sha256:
            problems.append({"seq": entry.seq, "reason": "entry_altered"})
        file_problem = _file_problem(upload_dir, entry)
        if file_problem:
            problems.append({"seq": entry.seq, "reason": file_problem})
        prev, expected = entry.sha256, entry.seq + 1
    last = expected - 1
    if inspection.evidence_count != last:
        # Anchored past the last entry stored: those after it were removed. Short of it: entries were
        # added past the anchor.
        problems.append({"seq": min(inspection.evidence_count, last) + 1, "reason": "count_mismatch"})
    elif inspection.evidence_head != prev:
        problems.append({"seq": last or None, "reason": "head_mismatch"})
    first = min(problems, key=lambda p: p["seq"] or 0) if problems else None
    return {"intact": not problems, "entries": len(entries),
            "anchor": {"count": inspection.evidence_count, "head": inspection.evidence_head},
            "first_broken_seq": first["seq"] if first else None, "reason": first["reason"] if first else None,
            "problems": problems}


def _file_problem(upload_dir: str, entry: Evidence) -> str | None:
    path = files.path_of(upload_dir, entry.content_sha256)
    try:
        digest, size = files.hash_file(path)
    except FileNotFoundError:
        return "file_missing"
    return None if (digest, size) == (entry.content_sha256, entry.size) else "file_altered"


def download_name(entry: Evidence) -> str:
    return f"inspection-{entry.inspection_id}-evidence-{entry.seq}.{EXTENSIONS.get(entry.media_type, 'bin')}"


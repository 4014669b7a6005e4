"""Uploaded files: the type decided by content, the structure of each type walked to its end, and
storage under UPLOAD_DIR by content hash, atomically and once.

Shared by complaint attachments (which rewrite images without their metadata) and inspection
evidence (kept byte for byte). The walkers index, slice and `find` only, so they take `bytes` or an
`mmap` of a file alike: a 50 MB video is checked without being read into memory.
A file is stored at UPLOAD_DIR/ab/abcdef… (its SHA-256): written to a temporary name in the same
file system, then renamed, so a reader never sees half a file; a file already there is not written again.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import struct
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Protocol

JPEG, PNG, PDF, MP4 = "image/jpeg", "image/png", "application/pdf", "video/mp4"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHUNK = 1024 * 1024
# ISO base media brands that say "MP4" (ISO/IEC 14496-12 and -14, Apple's M4V, DASH); HEIF and AVIF
# images share the box format and the `ftyp` box, so their brands rule a file out.
MP4_BRANDS = {b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"M4V ", b"dash"}
IMAGE_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis"}
FTYP_MAX = 1024  # a few dozen brands at most


class Buffer(Protocol):
    """What the walkers use of bytes and of an mmap."""

    def __len__(self) -> int: ...
    def __getitem__(self, key, /): ...
    def find(self, sub: bytes, start: int = ..., /) -> int: ...


def sniff(data: Buffer) -> str | None:
    """The type the first bytes claim (JPEG, PNG, PDF or MP4), or None; whether the rest agrees is
    for check() or the type's walker to say."""
    if data[:3] == b"\xff\xd8\xff":
        return JPEG
    if data[:8] == PNG_SIGNATURE:
        return PNG
    if data[:5] == b"%PDF-":
        return PDF
    if data[4:8] == b"ftyp":
        return MP4
    return None


# ---- structure ------------------------------------------------------------------------------------

def jpeg_pieces(data: Buffer) -> Iterator[tuple[int | None, int, int]]:
    """The pieces of a JPEG up to its end of image, as (marker, start, end): the markers with their
    segments, and each scan's entropy-coded data (marker None) after its SOS segment. Fill bytes are
    skipped; whatever follows the end of image is not looked at. ValueError if the image is cut short
    or is not a sequence of markers."""
    yield 0xD8, 0, 2
    pos = 2
    while True:
        if pos + 2 > len(data) or data[pos] != 0xFF:
            raise ValueError("JPEG marker expected")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xD9:  # end of image
            yield marker, pos, pos + 2
            return
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            yield marker, pos, pos + 2
            pos += 2
            continue
        if pos + 4 > len(data):
            raise ValueError("JPEG segment runs past the end")
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        if length < 2 or pos + 2 + length > len(data):
            raise ValueError("JPEG segment runs past the end")
        end = pos + 2 + length
        yield marker, pos, end
        pos = end
        if marker == 0xDA:  # start of scan: entropy-coded data up to the next real marker
            scan_end = _end_of_scan(data, pos)
            yield None, pos, scan_end
            pos = scan_end


def _end_of_scan(data: Buffer, pos: int) -> int:
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


def png_chunks(data: Buffer) -> Iterator[tuple[bytes, int, int]]:
    """The chunks of a PNG up to IEND, as (kind, start, end), each one's checksum checked. ValueError
    if a chunk is cut short or damaged, or the file ends before IEND."""
    pos = len(PNG_SIGNATURE)
    while pos < len(data):
        if pos + 12 > len(data):
            raise ValueError("PNG chunk runs past the end")
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = bytes(data[pos + 4:pos + 8])
        end = pos + 12 + length
        if end > len(data):
            raise ValueError("PNG chunk runs past the end")
        (crc,) = struct.unpack(">I", data[end - 4:end])
        if zlib.crc32(data[pos + 4:end - 4]) != crc:
            raise ValueError("PNG chunk checksum mismatch")
        yield kind, pos, end
        pos = end
        if kind == b"IEND":
            return
    raise ValueError("PNG without an end")


def pdf_complete(data: Buffer) -> bool:
    """A PDF ends with %%EOF (a few bytes of line ends or padding may follow)."""
    return data.find(b"%%EOF", max(0, len(data) - 1024)) >= 0


def mp4_boxes(data: Buffer) -> Iterator[tuple[bytes, int, int]]:
    """The top-level boxes of an ISO base media file, as (type, start, end); they must tile the file
    exactly. ValueError if one runs past the end (a file cut short), a type is not four printable
    characters, or the first box is not a valid `ftyp` of an MP4 brand."""
    pos = 0
    while pos < len(data):
        if pos + 8 > len(data):
            raise ValueError("MP4 box header runs past the end")
        (size,) = struct.unpack(">I", data[pos:pos + 4])
        kind = bytes(data[pos + 4:pos + 8])
        header = 8
        if size == 1:  # a 64-bit size follows the type
            if pos + 16 > len(data):
                raise ValueError("MP4 box header runs past the end")
            (size,) = struct.unpack(">Q", data[pos + 8:pos + 16])
            header = 16
        elif size == 0:  # the box runs to the end of the file
            size = len(data) - pos
        if size < header or pos + size > len(data):
            raise ValueError("MP4 box runs past the end")
        if not all(0x20 <= byte <= 0x7E for byte in kind):
            raise ValueError("MP4 box type is not printable")
        if pos == 0:
            if kind != b"ftyp" or size > FTYP_MAX:
                raise ValueError("MP4 must begin with a valid ftyp box")
            _check_ftyp(bytes(data[header:size]))
        yield kind, pos, pos + size
        pos += size


def _check_ftyp(body: bytes) -> None:
    """major brand, minor version, compatible brands: four bytes each."""
    if len(body) < 8 or len(body) % 4:
        raise ValueError("MP4 must begin with a valid ftyp box")
    brands = {body[:4]} | {body[i:i + 4] for i in range(8, len(body), 4)}
    if not brands & MP4_BRANDS or brands & IMAGE_BRANDS:
        raise ValueError("ftyp names no MP4 brand")


def check(data: Buffer) -> str:
    """The type of a file that is wholly what its first bytes claim: a JPEG to its end of image with
    image data, a PNG from IHDR to IEND with image data, a PDF to %%EOF, an MP4 of whole boxes with a
    movie box. ValueError (its message in English, for logs) otherwise. Nothing is rewritten."""
    media_type = sniff(data)
    if media_type == JPEG:
        if 0xDA not in [marker for marker, _, _ in jpeg_pieces(data)]:  # every piece walked, to the end
            raise ValueError("JPEG without image data")
    elif media_type == PNG:
        kinds = [kind for kind, _, _ in png_chunks(data)]
        if kinds[0] != b"IHDR" or b"IDAT" not in kinds:
            raise ValueError("PNG without a header or image data")
    elif media_type == PDF:
        if not pdf_complete(data):
            raise ValueError("PDF without its end")
    elif media_type == MP4:
        if b"moov" not in [kind for kind, _, _ in mp4_boxes(data)]:
            raise ValueError("MP4 without a movie box")
    else:
        raise ValueError("not a JPEG, PNG, PDF or MP4")
    return media_type


# ---- storage by content hash ----------------------------------------------------------------------

def path_of(upload_dir: str, digest: str) -> str:
    return os.path.join(upload_dir, digest[:2], digest)


def store(upload_dir: str, data: bytes) -> str:
    """Keep `data` under its SHA-256 (written once, atomically) and return the hash. OSError if the
    store cannot be written."""
    digest = hashlib.sha256(data).hexdigest()
    folder = os.path.join(upload_dir, digest[:2])
    path = os.path.join(folder, digest)
    if not os.path.exists(path):
        _write_whole(folder, path, data)
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


def hash_file(path: str) -> tuple[str, int]:
    """(SHA-256, size) of a stored file, read in chunks. FileNotFoundError if it is not there."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def safe_name(filename: str | None, limit: int) -> str | None:
    """The client's file name as a label: its last path part, printable, without characters that
    quoting in headers or file systems trips over, at most `limit` characters; None if nothing is left."""
    if not filename:
        return None
    name = os.path.basename(filename.replace("\\", "/"))
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '"<>|:*?')
    return name[:limit] or None


class TooLarge(Exception):
    """The stream goes on past the limit it was spooled with."""


@dataclass
class Spooled:
    """A received file in a temporary file of the store, hashed on the way in; keep() moves it to its
    place, discard() removes what is left (call it in a `finally`)."""

    path: str
    size: int
    sha256: str

    def media_type(self) -> str:
        """check() of the file, mapped rather than read into memory."""
        if not self.size:
            raise ValueError("empty file")
        with open(self.path, "rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return check(data)

    def keep(self, upload_dir: str) -> str:
        """Move the file to UPLOAD_DIR/ab/abcdef… unless one is already there; return the hash."""
        folder = os.path.join(upload_dir, self.sha256[:2])
        path = os.path.join(folder, self.sha256)
        if not os.path.exists(path):
            os.makedirs(folder, exist_ok=True)
            os.replace(self.path, path)
        return self.sha256

    def discard(self) -> None:
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def spool(stream: IO[bytes], upload_dir: str, max_bytes: int) -> Spooled:
    """Copy `stream` into a temporary file of the store (the same file system, so keep() is a rename),
    hashing it; TooLarge past `max_bytes` (nothing is left behind), OSError if the store cannot be written."""
    os.makedirs(upload_dir, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=upload_dir, prefix=".upload-")
    digest, size = hashlib.sha256(), 0
    try:
        with os.fdopen(handle, "wb") as file:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise TooLarge()
                digest.update(chunk)
                file.write(chunk)
            file.flush()
            os.fsync(file.fileno())
    except BaseException:
        os.unlink(temporary)
        raise
    return Spooled(path=temporary, size=size, sha256=digest.hexdigest())

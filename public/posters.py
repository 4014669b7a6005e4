"""Printable posters (公示牌) of institution codes: one A4 SVG page each, and a ZIP of a street's.

SVG, not PDF: it is text the server writes without a font or a PDF library, prints at any size
without losing the QR code's edges, and opens in every browser (print from there) and in office and
design tools. The page is 210 × 297 user units, one unit a millimetre. The QR code is the same symbol
as the image endpoint (error level M or better, a 4-module quiet zone, dark modules in the credit
colour on white), embedded as a nested <svg>; the top band and the frame carry the colour too.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import tempfile
import zipfile
from xml.sax.saxutils import escape

import segno
from sqlalchemy import select

from api import spreadsheets
from api.errors import CodeRevoked, NotFound
from api.labels import COLOUR_NAMES
from api.text import plain, xml_safe
from codes import service
from codes.service import COLOUR_HEX
from public.colour import colour_of
from registry.models import Institution

PAGE_WIDTH, PAGE_HEIGHT = 210, 297  # mm
MARGIN = 15
QR_SIZE = 140  # mm, quiet zone included: about 3 mm a module for a version 3-4 symbol
INSTRUCTION = "扫码查看执业信息 · 投诉举报"
FONT = "'Noto Sans CJK SC','Source Han Sans SC','PingFang SC','Microsoft YaHei','SimHei',sans-serif"
SPOOL_BYTES = 16 * 1024 * 1024  # a street's ZIP stays in memory up to this size, then goes to disk
_UNSAFE_NAME = re.compile(r'[\\/:*?"<>|\x00-\x1f\ud800-\udfff\ufffe\uffff]+')


def _width(text: str) -> float:
    """Rough advance of `text` in ems: a CJK character is one em, Latin and digits about half."""
    return sum(1.0 if ord(ch) >= 0x2E80 else 0.6 for ch in text) or 1.0


def _name_lines(name: str) -> tuple[list[str], float]:
    """The name in one line, or two if it would print smaller than 10 mm; and its font size in mm."""
    room = PAGE_WIDTH - 2 * MARGIN - 10
    size = min(14.0, room / _width(name))
    if size >= 10 or len(name) < 4:
        return [name], round(size, 2)
    middle = len(name) // 2
    lines = [name[:middle], name[middle:]]
    return lines, round(min(10.0, room / max(_width(line) for line in lines)), 2)


def _text(x: float, y: float, size: float, content: str, *, fill: str = "#1f2328", weight: str = "normal",
          anchor: str = "middle") -> str:
    return (f'<text x="{x}" y="{y}" font-size="{size}" font-weight="{weight}" fill="{fill}" '
            f'text-anchor="{anchor}">{escape(content)}</text>')


def qr_symbol(url: str, colour: str, *, x: float, y: float, size: float) -> str:
    """The QR code of `url` as a nested <svg> placed at (x, y), `size` wide and high."""
    qr = segno.make(url, error="m", boost_error=True, micro=False)
    out = io.BytesIO()
    qr.save(out, kind="svg", scale=1, border=4, dark=COLOUR_HEX[colour], light="#ffffff", xmldecl=False,
            omitsize=True, nl=False, svgclass=None, lineclass=None)
    svg = out.getvalue().decode()
    return svg.replace("<svg ", f'<svg x="{x}" y="{y}" width="{size}" height="{size}" shape-rendering="crispEdges" ', 1)


def poster_svg(*, name: str, licence_no: str, url: str, colour: str, printed_on: dt.date) -> bytes:
    """One A4 page: colour band, the institution's name and licence number, the QR code, the
    instruction, and in small print the colour and the code's URL."""
    hex_colour = COLOUR_HEX[colour]
    centre = PAGE_WIDTH / 2
    lines, name_size = _name_lines(name)
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        (f'<svg xmlns="http://www.w3.org/2000/svg" width="{PAGE_WIDTH}mm" height="{PAGE_HEIGHT}mm" '
         f'viewBox="0 0 {PAGE_WIDTH} {PAGE_HEIGHT}" font-family="{FONT}">'),
        f"<title>{escape(name)} · 执业信息公示</title>",
        f'<rect x="0" y="0" width="{PAGE_WIDTH}" height="{PAGE_HEIGHT}" fill="#ffffff"/>',
        f'<rect x="0" y="0" width="{PAGE_WIDTH}" height="28" fill="{hex_colour}"/>',
        _text(centre, 18, 9, "医疗机构执业信息公示", fill="#ffffff", weight="bold"),
    ]
    y = 48.0
    for line in lines:
        parts.append(_text(centre, y, name_size, line, weight="bold"))
        y += name_size * 1.25
    parts.append(_text(centre, y + 2, 5.5, f"执业许可证登记号：{licence_no}"))
    qr_top = y + 12
    qr_left = (PAGE_WIDTH - QR_SIZE) / 2
    parts += [
        (f'<rect x="{qr_left - 3}" y="{qr_top - 3}" width="{QR_SIZE + 6}" height="{QR_SIZE + 6}" rx="4" '
         f'fill="#ffffff" stroke="{hex_colour}" stroke-width="1.5"/>'),
        qr_symbol(url, colour, x=qr_left, y=qr_top, size=QR_SIZE),
        _text(centre, qr_top + QR_SIZE + 18, 9, INSTRUCTION, weight="bold"),
        _text(centre, PAGE_HEIGHT - 22, 3.5,
              f"信用码色：{COLOUR_NAMES[colour]}（{hex_colour}）· 码色随信用状况变化，请以扫码所见为准",
              fill="#57606a"),
        _text(centre, PAGE_HEIGHT - 16, 3.5, url, fill="#57606a"),
        _text(centre, PAGE_HEIGHT - 10, 3, f"打印日期 {printed_on.isoformat()} · 本码由监管部门发放，请勿遮挡、涂改",
              fill="#8c959f"),
        "</svg>",
    ]
    return "\n".join(parts).encode("utf-8")


def institution_poster(institution: Institution, *, today: dt.date, base_url: str) -> bytes:
    """The poster of an institution's active code, in its current credit colour."""
    code = institution.code
    if code is None:
        raise CodeRevoked("该机构当前没有有效的码，无法生成公示牌")
    colour = colour_of(institution=institution, today=today)
    return poster_svg(name=printable(institution.name), licence_no=printable(institution.licence_no),
                      url=service.urls(code.token, base_url)["url"], colour=colour, printed_on=today)


def printable(text: str) -> str:
    """What a poster prints of a stored name: without bidi controls or invisible characters (names
    stored before they were refused, registry/schemas.py) and with nothing XML cannot hold."""
    return xml_safe(plain(text))


def filename(institution: Institution) -> str:
    """`{id}-{name}-公示牌.svg`: no path or control characters, no bidi controls (a name stored with
    U+202E would otherwise name the file `诊所\u202egvs.exe`, shown as `诊所exe.svg`)."""
    return f"{institution.id}-{_UNSAFE_NAME.sub('_', plain(institution.name))}-公示牌.svg"


def street_zip(*, session, street: str, today: dt.date, base_url: str):
    """A ZIP of the posters of the street's active institutions that hold an active code, written to a
    spooled temporary file (memory up to SPOOL_BYTES, then disk), rewound. 404 if there are none."""
    statement = (select(Institution).where(Institution.street == street, Institution.status == "active")
                 .order_by(Institution.id))
    file = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES, prefix="onecode-posters-")  # noqa: SIM115 - the caller streams and closes it
    count = 0
    try:
        with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for institution in spreadsheets.streamed(session, statement, size=200, scalars=True):
                if institution.code is None:
                    continue
                archive.writestr(filename(institution),
                                 institution_poster(institution, today=today, base_url=base_url))
                count += 1
        if count == 0:
            raise NotFound(f"未找到“{street}”在册执业且持有效码的机构")
        file.seek(0)
    except BaseException:
        file.close()
        raise
    return file, count


def chunks(file, size: int = 64 * 1024):
    """The file's bytes in blocks; closed at the end or when the client goes away."""
    try:
        while block := file.read(size):
            yield block
    finally:
        file.close()

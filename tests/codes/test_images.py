"""QR images: PNG and SVG of the code's URL in the credit colour, cached by ETag, refused when revoked.

No QR decoder is installed, so the PNG is read back to its module matrix (stdlib zlib) and compared with
the QR symbols of the expected URL at error levels M, Q and H; rendering is also checked to be cached.
"""

from __future__ import annotations

import struct
import zlib

import pytest
import segno

from codes import service

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
GREEN, RED = "#1a7f37", "#cf222e"


def _image(client, token, query="format=png", **kw):
    return client.get(f"/api/v1/codes/{token}/image?{query}", **kw)


def _pixels(png: bytes) -> tuple[list[list[tuple]], int, int]:
    """Decode a non-interlaced PNG (palette, grey or RGB, 8-bit or less) into rows of RGB tuples."""
    assert png.startswith(PNG_MAGIC)
    pos, chunks, idat = 8, {}, b""
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        data = png[pos + 8:pos + 8 + length]
        idat += data if kind == b"IDAT" else b""
        chunks.setdefault(kind, data)
        pos += 12 + length
    width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert interlace == 0 and depth <= 8
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour_type]
    bpp, stride = max(1, depth * channels // 8), (width * depth * channels + 7) // 8
    raw, rows, previous = zlib.decompress(idat), [], bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a, b = line[i - bpp] if i >= bpp else 0, previous[i]
            c = previous[i - bpp] if i >= bpp else 0
            p = a + b - c
            nearest = a if abs(p - a) <= abs(p - b) and abs(p - a) <= abs(p - c) else (b if abs(p - b) <= abs(p - c) else c)
            line[i] = (line[i] + (0, a, b, (a + b) // 2, nearest)[kind]) & 0xFF
        rows.append(line)
        previous = line
    palette = [tuple(chunks[b"PLTE"][i:i + 3]) for i in range(0, len(chunks.get(b"PLTE", b"")), 3)]
    image = []
    for line in rows:
        if depth < 8:
            values = [(line[x * depth // 8] >> (8 - depth - (x * depth) % 8)) & ((1 << depth) - 1) for x in range(width)]
        else:
            values = [tuple(line[x * channels:(x + 1) * channels]) for x in range(width)]
        if colour_type == 3:
            image.append([palette[v] for v in values])
        elif colour_type in (0, 4):
            image.append([(v if isinstance(v, int) else v[0],) * 3 for v in values])
        else:
            image.append([v[:3] for v in values])
    return image, width, height


def _modules(png: bytes, scale: int) -> list[list[tuple]]:
    image, width, height = _pixels(png)
    assert width == height and width % scale == 0
    return [[image[y * scale + scale // 2][x * scale + scale // 2] for x in range(width // scale)]
            for y in range(height // scale)]


def _hex(rgb) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def test_the_png_is_the_qr_code_of_the_url_in_green_with_a_quiet_zone(client, clinic):
    scale = 3
    response = _image(client, clinic["code"]["token"], f"format=png&scale={scale}")

    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert response.data.startswith(PNG_MAGIC)
    grid = _modules(response.data, scale)
    colours = {_hex(c) for row in grid for c in row}
    assert colours == {GREEN, "#ffffff"}
    quiet = grid[:4] + grid[-4:] + [row[:4] + row[-4:] for row in grid]
    assert all(_hex(c) == "#ffffff" for row in quiet for c in row)
    matrix = [[int(_hex(c) == GREEN) for c in row[4:-4]] for row in grid[4:-4]]
    candidates = [[list(r) for r in segno.make(clinic["code"]["url"], error=level, micro=False).matrix]
                  for level in "mqh"]
    assert matrix in candidates


def test_the_image_has_an_etag_and_cache_control_and_answers_304(client, clinic):
    first = _image(client, clinic["code"]["token"])
    etag = first.headers["ETag"]

    again = _image(client, clinic["code"]["token"], headers={"If-None-Match": etag})

    assert etag and "max-age" in first.headers["Cache-Control"]
    assert again.status_code == 304
    assert again.data == b""
    assert _image(client, clinic["code"]["token"], headers={"If-None-Match": '"other"'}).status_code == 200


def test_the_svg_is_drawn_in_the_code_colour(client, admin, clinic):
    green = _image(client, clinic["code"]["token"], "format=svg")
    admin.patch(f"/api/v1/institutions/{clinic['id']}", json={"status": "suspended"})
    red = _image(client, clinic["code"]["token"], "format=svg", headers={"If-None-Match": green.headers["ETag"]})

    assert green.mimetype == "image/svg+xml"
    assert GREEN in green.get_data(as_text=True) and RED not in green.get_data(as_text=True)
    assert red.status_code == 200  # the colour changed, so the old ETag no longer matches
    assert RED in red.get_data(as_text=True) and GREEN not in red.get_data(as_text=True)
    assert red.headers["ETag"] != green.headers["ETag"]


def test_png_and_svg_and_scales_have_different_etags(client, clinic):
    token = clinic["code"]["token"]
    etags = {_image(client, token, q).headers["ETag"] for q in ("format=png", "format=svg", "format=png&scale=2")}

    assert len(etags) == 3


def test_the_scale_sets_the_pixels_per_module(client, clinic):
    small = _pixels(_image(client, clinic["code"]["token"], "format=png&scale=1").data)[1]
    large = _pixels(_image(client, clinic["code"]["token"], "format=png&scale=5").data)[1]

    assert large == 5 * small


@pytest.mark.parametrize("query", ["scale=0", "scale=1000", "scale=-1", "scale=x", "format=gif", "format=",
                                   "format=png&format=svg&scale=abc"])
def test_it_refuses_bad_image_arguments(client, clinic, query):
    response = _image(client, clinic["code"]["token"], query)

    assert response.status_code == 422
    assert response.json["code"] == "VALIDATION_FAILED"


def test_a_revoked_code_has_no_image(client, health_officer, clinic):
    token = clinic["code"]["token"]
    health_officer.post(f"/api/v1/codes/{token}/revoke", json={"reason": "海报被盗"})

    response = _image(client, token)

    assert response.status_code == 410
    assert response.json["code"] == "CODE_REVOKED"


@pytest.mark.parametrize("token", ["AAAAAAAAAAAAAAAAAAAA", "x" * 40, "a!b"])
def test_an_unknown_code_has_no_image(client, clinic, token):
    response = _image(client, token)

    assert response.status_code == 404
    assert response.json["code"] == "NOT_FOUND"


def test_each_rendering_is_made_once(client, clinic):
    service.render.cache_clear()
    token = clinic["code"]["token"]

    for _ in range(2):
        assert _image(client, token, "format=png&scale=4").status_code == 200
    assert _image(client, token, "format=svg&scale=4").status_code == 200

    info = service.render.cache_info()
    assert (info.misses, info.hits) == (2, 1)

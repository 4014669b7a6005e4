"""Every H5 page: zh-CN, phone viewport, labelled controls, no scripts, nothing from outside, and text
colours that keep 4.5:1 against their backgrounds (WCAG 2.1 AA)."""

from __future__ import annotations

import re

from tests.public.h5_helpers import assert_accessible, complain, complain_path, post_form

# (text, background) pairs the stylesheet puts together, by custom property ("#fff" is literal white).
PAIRS = [
    ("ink", "bg"), ("ink", "card"), ("muted", "card"), ("muted", "bg"), ("link", "card"),
    ("error", "card"), ("error", "error-bg"), ("ink", "notice-bg"), ("muted", "notice-bg"),
    ("#ffffff", "green"), ("#ffffff", "yellow"), ("#ffffff", "red"), ("#ffffff", "ink"),
    ("green", "card"), ("yellow", "card"), ("red", "card"),
]


def _luminance(colour: str) -> float:
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _pages(client, clinic) -> dict[str, object]:
    token = clinic["code"]["token"]
    filed = complain(client, token)
    number = re.search(r'id="tracking-no">(\w+)', filed.get_data(as_text=True)).group(1)
    code = re.search(r'id="query-code">(\w+)', filed.get_data(as_text=True)).group(1)
    return {
        "profile": client.get(f"/c/{token}"),
        "form": client.get(complain_path(token)),
        "form with errors": post_form(client, complain_path(token), {"content": "短"}),
        "receipt": filed,
        "track form": client.get("/track"),
        "track case": client.post("/track", data={"tracking_no": number, "query_code": code}),
        "track not found": client.post("/track", data={"tracking_no": number, "query_code": "WRONG"}),
        "unknown code": client.get("/c/AAAAAAAAAAAAAAAAAAAA/complain"),
    }


def test_every_page_is_chinese_labelled_and_self_contained(client, session, clinic):
    for name, response in _pages(client, clinic).items():
        assert response.mimetype == "text/html", name
        assert_accessible(response.get_data(as_text=True))
        assert "default-src 'none'" in response.headers["Content-Security-Policy"], name


def test_text_colours_keep_a_contrast_of_4_5_to_1(client, clinic):
    page = client.get(f"/c/{clinic['code']['token']}").get_data(as_text=True)
    colours = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{6})", page))

    for text, background in PAIRS:
        foreground = text if text.startswith("#") else colours[text]
        ratio = _contrast(foreground, colours[background])
        assert ratio >= 4.5, f"{text} on {background}: {ratio:.2f}"


"""Reading the dashboard's pages in tests: the login form's token, the key totals, the charts' SVG."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

PASSWORD = "a-long-test-password"  # tests/conftest.py's `login` gives every persona this one
LOGIN, PAGE, LOGOUT, REPORT = "/dashboard/login", "/dashboard", "/dashboard/logout", "/dashboard/report.xlsx"
ORIGIN = {"Origin": "http://localhost"}  # the test client's own origin


def form_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def log_in(client, username: str, password: str = PASSWORD, *, base_url: str = "http://localhost", **headers):
    """Open the login form (its cookie and token), then post it as a browser does."""
    token = form_token(client.get(LOGIN, base_url=base_url).get_data(as_text=True))
    return client.post(LOGIN, data={"username": username, "password": password, "csrf_token": token},
                       headers={"Origin": base_url, **headers}, base_url=base_url)


def total(html: str, key: str) -> str:
    """A key total as the page shows it ("6", "30.8%")."""
    match = re.search(rf'id="total-{key}"><dt>[^<]*</dt><dd>([^<]*)', html)
    assert match, key
    return match.group(1)


def chart(html: str, key: str) -> ET.Element:
    """One chart's inline SVG, parsed as XML (so it is well-formed, its texts escaped)."""
    match = re.search(rf'<svg class="chart"[^>]*id="chart-{key}">.*?</svg>', html, re.S)
    assert match, key
    return ET.fromstring(match.group(0))


def bar_titles(svg: ET.Element) -> list[str]:
    return [rect.findtext("title") or "" for rect in svg.iter("rect")]


def texts(svg: ET.Element) -> list[str]:
    return [text.text or "" for text in svg.iter("text")]


def set_cookies(response) -> dict[str, str]:
    """Set-Cookie headers by cookie name."""
    return {value.split("=", 1)[0]: value for value in response.headers.getlist("Set-Cookie")}

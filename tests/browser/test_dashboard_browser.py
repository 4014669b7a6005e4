"""A leader's way through the dashboard in a real browser: the login form, the charts, another period,
the monthly report downloaded with the session cookie, logging out; on a laptop and on a phone.

`ONECODE_SCREENSHOTS=1` also writes screenshots to docs/screenshots/ (as tests/browser/test_h5_browser.py
does): the dashboard at laptop width (1366 CSS pixels) and at phone width (390 at 2×), and the login form
on a phone.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import openpyxl
import pytest

from tests.browser.test_h5_browser import _screenshot
from tests.oversight.conftest import district  # noqa: F401 - the hand-built district year, a fixture
from tests.oversight.dashboard_helpers import PASSWORD

LAPTOP = {"viewport": {"width": 1366, "height": 900}, "locale": "zh-CN"}


@pytest.fixture
def laptop(browser, live_server):
    from tests.browser.conftest import Visit

    context = browser.new_context(**LAPTOP)
    yield Visit(context, live_server[0])
    context.close()


def _log_in(visit, username: str) -> None:
    page = visit.page
    page.goto(f"{visit.base_url}/dashboard")
    page.wait_for_url(f"{visit.base_url}/dashboard/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{visit.base_url}/dashboard")


def _choose_year(page, district) -> None:  # noqa: F811 - the fixture's value
    page.get_by_label("起始日期").fill(str(district.date_from))
    page.get_by_label("截止日期").fill(str(district.date_to))
    page.get_by_role("button", name="查询").click()
    page.wait_for_url(re.compile(rf"from={district.date_from}&to={district.date_to}"))


def test_a_leader_logs_in_sees_the_charts_picks_a_period_and_downloads_the_report(laptop, login, district):  # noqa: F811
    login("supervisor", department="health", username="leader-health")
    page = laptop.page
    _log_in(laptop, "leader-health")
    assert page.locator("svg#chart-months").is_visible()
    assert "leader-health" in page.inner_text("header")

    _choose_year(page, district)
    assert page.locator("#scope").inner_text().startswith(f"统计期间 {district.date_from} 至 {district.date_to}")
    assert page.locator("#total-received dd").inner_text() == "6件"
    assert page.locator("#total-filing_rate dd").inner_text() == "30.8%"
    assert page.locator("svg#chart-months rect").count() == 12
    assert page.locator("svg#chart-grades rect").count() == 4
    assert page.locator("svg#chart-streets rect").count() == 2
    months = page.get_by_role("img", name="每月收到投诉（件）")
    assert months.is_visible()
    assert months.bounding_box()["width"] > 400  # scaled up to its column, not left at a thumbnail
    page.get_by_text("查看数据表").first.click()
    assert page.get_by_role("row", name=re.compile(f"{district.year}-03")).first.is_visible()
    _screenshot(page, "dashboard-laptop")

    with page.expect_response(re.compile(r"/dashboard/report\.xlsx\?")) as answer, page.expect_download() as info:
        page.get_by_role("link", name="下载月报（Excel）").click()
    # The name the server gives (headless Chromium reports its downloads as "download" whatever the header).
    assert "filename*=UTF-8''%E7%9B%91" in answer.value.headers["content-disposition"]
    download = info.value
    book = openpyxl.load_workbook(io.BytesIO(Path(download.path()).read_bytes()))
    summary = {row[0]: row[1] for row in book["汇总"].iter_rows(values_only=True) if row and row[0]}
    assert summary["收到投诉"] == 6 and summary["部门"] == "全部部门"
    laptop.assert_self_contained()

    page.get_by_role("button", name="退出登录").click()
    page.wait_for_url(f"{laptop.base_url}/dashboard/login?logged_out=1")
    assert "您已退出登录" in page.inner_text("main")
    page.goto(f"{laptop.base_url}/dashboard")
    page.wait_for_url(f"{laptop.base_url}/dashboard/login")


def test_the_dashboard_reads_on_a_phone(phone, login, district):  # noqa: F811
    login("admin", username="district-admin")
    page = phone.page
    page.goto(f"{phone.base_url}/dashboard/login")
    _screenshot(page, "dashboard-login")
    _log_in(phone, "district-admin")
    _choose_year(page, district)
    assert page.locator("#total-received dd").inner_text() == "6件"
    # Nothing wider than the screen: the charts shrink to it, the form's fields stack.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    width = page.get_by_role("img", name="各街道自查率").bounding_box()["width"]
    assert 300 < width <= 390
    _screenshot(page, "dashboard-phone")
    phone.assert_self_contained()


def test_a_citizen_is_told_why_at_the_login_form(phone, login):
    login("citizen", username="a-patient")
    page = phone.page
    page.goto(f"{phone.base_url}/dashboard/login")
    page.get_by_label("用户名").fill("a-patient")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    assert "医疗机构和公众账号不能登录" in page.locator("#login-error").inner_text()
    assert [c for c in phone.context.cookies() if c["name"] == "onecode_dashboard"] == []

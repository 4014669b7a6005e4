"""A patient's way through the H5 pages in a real browser: scan → profile → complaint with a photo →
tracking number and query code → tracking. With and without JavaScript.

`ONECODE_SCREENSHOTS=1` also writes phone-size screenshots (390×844 CSS pixels at 2×, whole page) of the
profile, the form, the receipt and the tracking page to docs/screenshots/ for the README; ordinary runs
leave the tree alone. Chinese text needs a CJK font (fonts-noto-cjk) on the machine that takes them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.complaints.helpers import GPS_MARKER, jpeg_with_exif, rows
from tests.conftest import staff_payload
from tests.public.h5_helpers import CONTENT, SAVE_MESSAGE

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
WANT_SCREENSHOTS = os.environ.get("ONECODE_SCREENSHOTS") == "1"


def _screenshot(page, name: str) -> None:
    if WANT_SCREENSHOTS:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def scanned(admin, clinic):
    """A clinic with a doctor, as its poster's QR code is scanned: the token."""
    admin.post(f"/api/v1/institutions/{clinic['id']}/staff", json=staff_payload(1))
    return clinic["code"]["token"]


def _file_complaint(page, *, photo: bool, screenshot: bool = False) -> tuple[str, str]:
    """Fill the open complaint form, send it, and read the receipt: (tracking number, query code)."""
    page.get_by_label("投诉类别").select_option("medical_quality")
    page.get_by_label("投诉内容").fill(CONTENT)
    page.get_by_label("匿名投诉").check()
    if photo:
        page.get_by_label("照片或材料").set_input_files(
            files=[{"name": "IMG_0001.jpg", "mimeType": "image/jpeg", "buffer": jpeg_with_exif()}])
    if screenshot:
        _screenshot(page, "complain")
    page.get_by_role("button", name="提交投诉").click()
    page.wait_for_selector("#query-code")
    assert SAVE_MESSAGE in page.inner_text("main")
    tracking_no, query_code = page.inner_text("#tracking-no").strip(), page.inner_text("#query-code").strip()
    assert re.fullmatch(r"TS\d{14}", tracking_no) and re.fullmatch(r"[2-9A-Z]{8}", query_code)
    if screenshot:
        _screenshot(page, "receipt")
    return tracking_no, query_code


def _track(page, tracking_no: str, query_code: str) -> None:
    """From the receipt, follow the link to /track, give the query code, and see the case."""
    page.get_by_role("link", name="查询办理进度").click()
    page.wait_for_url(re.compile(r"/track\?tracking_no=TS\d+$"))
    assert page.get_by_label("受理编号").input_value() == tracking_no
    page.get_by_label("查询码").fill(query_code)
    page.get_by_role("button", name="查询").click()
    page.wait_for_selector("#status")


def test_a_patient_scans_files_a_complaint_with_a_photo_and_tracks_it(phone, live_server, clinic, scanned):
    page = phone.page

    page.goto(f"{phone.base_url}/c/{scanned}")
    assert page.locator("h1").inner_text() == clinic["name"]
    banner = page.locator(".banner.green")
    assert banner.is_visible() and "绿码" in banner.inner_text()
    assert "医生1" in page.inner_text("main")
    _screenshot(page, "profile")

    page.get_by_role("link", name="投诉举报").click()
    page.wait_for_url(f"{phone.base_url}/c/{scanned}/complain")
    assert clinic["name"] in page.inner_text("main")
    tracking_no, query_code = _file_complaint(page, photo=True, screenshot=True)
    assert "照片" in page.inner_text("main")

    _track(page, tracking_no, query_code)
    assert page.locator("#status").get_attribute("data-status") == "submitted"
    assert "待受理" in page.inner_text("#status")
    assert "卫生健康委" in page.inner_text("#department")
    assert page.locator("#timeline li").count() == 1
    assert "提交" in page.inner_text("#timeline")
    _screenshot(page, "track")

    assert rows("complaints") == 1 and rows("complaint_attachments") == 1
    phone.assert_self_contained()


def test_the_stored_photo_carries_no_location(phone, live_server, scanned):
    page = phone.page
    page.goto(f"{phone.base_url}/c/{scanned}/complain")

    _file_complaint(page, photo=True)

    upload_dir = live_server[1].config["UPLOAD_DIR"]
    stored = [os.path.join(root, name) for root, _, names in os.walk(upload_dir) for name in names]
    assert len(stored) == 1
    with open(stored[0], "rb") as file:
        assert GPS_MARKER not in file.read()


def test_a_mistake_comes_back_on_the_page_with_what_was_typed(phone, live_server, scanned):
    page = phone.page
    page.goto(f"{phone.base_url}/c/{scanned}/complain")

    page.get_by_label("投诉内容").fill("太短")
    page.get_by_role("button", name="提交投诉").click()

    page.wait_for_selector("#error-summary")
    assert "请选择投诉类别" in page.inner_text("#error-summary")
    assert page.get_by_label("投诉内容").input_value() == "太短"
    assert page.get_by_label("投诉内容").get_attribute("aria-invalid") == "true"
    assert rows("complaints") == 0


def test_everything_works_without_javascript(phone_without_javascript, live_server, clinic, scanned):
    visit = phone_without_javascript
    page = visit.page

    page.goto(f"{visit.base_url}/c/{scanned}")
    assert page.locator("h1").inner_text() == clinic["name"]
    assert page.locator(".banner.green").is_visible()
    page.get_by_role("link", name="投诉举报").click()
    page.wait_for_url(re.compile(r"/complain$"))

    page.get_by_label("投诉类别").select_option("insurance_fraud")
    page.get_by_label("投诉内容").fill(CONTENT)
    page.get_by_role("button", name="显示该类别的补充问题").click()
    page.get_by_label("问题类型").select_option("drug_swap")
    assert page.get_by_label("投诉内容").input_value() == CONTENT  # kept across the redraw
    tracking_no, query_code = _file_complaint_after_questions(page)

    _track(page, tracking_no, query_code)
    assert page.locator("#status").get_attribute("data-status") == "submitted"
    assert "医疗保障局" in page.inner_text("#department")
    visit.assert_self_contained()


def _file_complaint_after_questions(page) -> tuple[str, str]:
    page.get_by_label("匿名投诉").check()
    page.get_by_role("button", name="提交投诉").click()
    page.wait_for_selector("#query-code")
    return page.inner_text("#tracking-no").strip(), page.inner_text("#query-code").strip()

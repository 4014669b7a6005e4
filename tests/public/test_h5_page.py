"""The H5 page /c/{token}: the public profile for any phone camera, in Chinese, with a complaint link."""

from __future__ import annotations

import datetime as dt
import html

import pytest

from api.database import today_shanghai
from tests.conftest import institution_payload, staff_payload, valid_id_number


def _page(client, token):
    response = client.get(f"/c/{token}")
    return response, response.get_data(as_text=True)


def test_the_page_shows_the_institution_in_chinese_with_a_complaint_link(client, clinic):
    scanned = client.get(f"/api/v1/scan/{clinic['code']['token']}").json

    response, page = _page(client, clinic["code"]["token"])

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert 'lang="zh-CN"' in page
    assert clinic["name"] in page
    assert clinic["licence_no"] in page
    assert f'href="{html.escape(scanned["complaint_url"])}"' in page
    assert 'class="banner green"' in page
    assert 'class="banner red"' not in page


def test_the_complaint_link_opens_a_page(client, clinic):
    scanned = client.get(f"/api/v1/scan/{clinic['code']['token']}").json
    path = scanned["complaint_url"].removeprefix("https://code.example.org")

    response = client.get(path)

    assert response.status_code == 200
    assert response.mimetype == "text/html"


def test_the_page_shows_no_private_facts(client, admin, clinic):
    admin.post(f"/api/v1/institutions/{clinic['id']}/staff", json=staff_payload(1))

    _, page = _page(client, clinic["code"]["token"])

    assert "医生1" in page
    for private in (valid_id_number(1), clinic["uscc"], clinic["phone"]):
        assert private not in page


@pytest.mark.parametrize("status", ["suspended", "revoked"])
def test_a_red_code_shows_the_red_banner(client, admin, clinic, status):
    admin.patch(f"/api/v1/institutions/{clinic['id']}", json={"status": status})

    response, page = _page(client, clinic["code"]["token"])

    assert response.status_code == 200
    assert 'class="banner red"' in page
    assert 'class="banner green"' not in page


def test_an_expired_licence_shows_the_red_banner(client, admin):
    yesterday = today_shanghai() - dt.timedelta(days=1)
    created = admin.post("/api/v1/institutions", json=institution_payload(
        3, licence_valid_from=str(yesterday - dt.timedelta(days=30)), licence_valid_to=str(yesterday))).json

    _, page = _page(client, created["code"]["token"])

    assert 'class="banner red"' in page
    assert "已过期" in page


def test_a_staff_page_shows_the_person_and_their_institution(client, admin, clinic):
    doctor = admin.post(f"/api/v1/institutions/{clinic['id']}/staff", json=staff_payload(1)).json

    response, page = _page(client, doctor["code"]["token"])

    assert response.status_code == 200
    assert "医生1" in page and clinic["name"] in page
    assert valid_id_number(1) not in page and doctor["id_number"] not in page


def test_a_revoked_code_answers_410_saying_it_is_void(client, health_officer, clinic):
    token = clinic["code"]["token"]
    health_officer.post(f"/api/v1/codes/{token}/revoke", json={"reason": "海报被盗"})

    response, page = _page(client, token)

    assert response.status_code == 410
    assert response.mimetype == "text/html"
    assert "此码已作废" in page
    assert clinic["name"] not in page
    assert 'lang="zh-CN"' in page


@pytest.mark.parametrize("token", ["AAAAAAAAAAAAAAAAAAAA", "ab!cd", "%00"])
def test_an_unknown_code_answers_a_404_page(client, clinic, token):
    response, page = _page(client, token)

    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert 'lang="zh-CN"' in page
    assert clinic["name"] not in page


def test_the_page_escapes_what_the_directory_holds(client, admin):
    created = admin.post("/api/v1/institutions", json=institution_payload(
        4, name="<script>alert(1)</script>诊所")).json

    _, page = _page(client, created["code"]["token"])

    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page


@pytest.mark.parametrize("path", ["/c/" + "x" * 33, "/c/" + "x" * 33 + "/complain", "/c/a%2Fb/complain",
                                  "/c/", "/track/more"])
def test_an_address_under_the_pages_that_no_page_has_answers_a_404_page_not_json(client, path):
    """Found by contract fuzzing: a token the route refuses (too long, with a slash) was JSON."""
    response = client.get(path)

    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "未找到" in response.get_data(as_text=True)
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_a_method_the_page_does_not_take_answers_a_405_page(client, clinic):
    response = client.delete(f"/c/{clinic['code']['token']}")

    assert response.status_code == 405
    assert response.mimetype == "text/html"


def test_api_addresses_still_answer_json_when_no_route_matches(client):
    response = client.get("/api/v1/codes/" + "x" * 33 + "/image")

    assert response.status_code == 404
    assert response.is_json
    assert response.json["code"] == "NOT_FOUND"

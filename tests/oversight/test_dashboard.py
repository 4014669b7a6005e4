"""`/dashboard`: the leaders' page. Logging in through the form (who may, the cookie, CSRF, logout, the
rate limit), who sees which department, a period to correct, the charts' numbers over the hand-built
district year (tests/oversight/conftest.py), and the monthly report with the cookie."""

from __future__ import annotations

import io
import re
from urllib.parse import unquote

import openpyxl
import pytest

from api.database import today_shanghai
from tests.oversight.conftest import HONGJIALOU, SHANDA
from tests.oversight.dashboard_helpers import (
    LOGIN,
    LOGOUT,
    ORIGIN,
    PAGE,
    PASSWORD,
    REPORT,
    bar_titles,
    chart,
    form_token,
    log_in,
    set_cookies,
    texts,
    total,
)

COOKIE, CSRF_COOKIE = "onecode_dashboard", "onecode_dashboard_csrf"
REFUSED = "医疗机构和公众账号不能登录"


def year_of(district) -> dict:
    return {"from": str(district.date_from), "to": str(district.date_to)}


def logged_in(make_app, persona, **settings):
    """A fresh browser (test client with its own cookies) logged in as `persona`."""
    client = make_app(**settings).test_client()
    response = log_in(client, persona.account.username)
    assert response.status_code == 303, response.get_data(as_text=True)
    return client


# ---- logging in --------------------------------------------------------------------------------------

@pytest.mark.parametrize("persona", ["market_officer", "health_supervisor", "admin"])
def test_a_regulator_logs_in_through_the_form_and_sees_the_page(request, client, persona):
    account = request.getfixturevalue(persona).account
    response = log_in(client, account.username)
    assert response.status_code == 303 and response.headers["Location"] == PAGE
    page = client.get(PAGE)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "监管统计看板" in html and account.username in html
    assert 'id="chart-months"' in html and 'id="chart-grades"' in html and 'id="chart-streets"' in html


def test_the_session_cookie_is_httponly_strict_and_scoped_to_the_dashboard(client, market_officer):
    response = log_in(client, market_officer.account.username)
    cookie = set_cookies(response)[COOKIE]
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "path"} <= attributes and "Path=/dashboard" in cookie and "SameSite=Strict" in cookie
    assert "secure" not in attributes  # served over plain HTTP outside production
    assert "max-age" not in attributes and "expires" not in attributes  # ends with the browser too


def test_the_cookies_are_secure_in_production(make_app, market_officer):
    client = make_app(ENV="production").test_client()
    form = client.get(LOGIN, base_url="https://localhost")
    assert "Secure" in set_cookies(form)[CSRF_COOKIE]
    response = log_in(client, market_officer.account.username, base_url="https://localhost")
    assert response.status_code == 303, response.get_data(as_text=True)
    cookie = set_cookies(response)[COOKIE]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie


@pytest.mark.parametrize("persona", ["citizen", "clinic_account"])
def test_institutions_and_citizens_are_refused_at_login_without_a_session(request, client, persona):
    account = request.getfixturevalue(persona).account
    response = log_in(client, account.username)
    assert response.status_code == 403
    assert REFUSED in response.get_data(as_text=True)
    assert COOKIE not in set_cookies(response)
    assert client.get(PAGE).status_code == 303  # still not logged in


def test_a_wrong_password_and_an_unknown_user_get_the_same_message(client, market_officer):
    wrong_password = log_in(client, market_officer.account.username, "not-the-password")
    unknown_user = log_in(client, "nobody-here", PASSWORD)
    assert wrong_password.status_code == unknown_user.status_code == 401

    def error(response):
        return re.search(r'id="login-error"><p>([^<]*)', response.get_data(as_text=True)).group(1)

    assert error(wrong_password) == error(unknown_user) == "用户名或密码错误"
    assert COOKIE not in set_cookies(wrong_password) and COOKIE not in set_cookies(unknown_user)


def test_an_empty_field_is_named_with_422(client):
    token = form_token(client.get(LOGIN).get_data(as_text=True))
    response = client.post(LOGIN, data={"username": "", "password": "", "csrf_token": token}, headers=ORIGIN)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "请填写用户名" in html and "请填写密码" in html


def test_a_login_without_the_forms_token_is_refused(client, market_officer):
    client.get(LOGIN)
    data = {"username": market_officer.account.username, "password": PASSWORD}
    response = client.post(LOGIN, data=data, headers=ORIGIN)
    assert response.status_code == 403 and "来源不明" in response.get_data(as_text=True)
    assert COOKIE not in set_cookies(response)


def test_a_token_from_another_browsers_form_is_refused(make_app, client, market_officer):
    other = make_app().test_client()
    token = form_token(other.get(LOGIN).get_data(as_text=True))  # an attacker's own form: its token
    client.get(LOGIN)
    data = {"username": market_officer.account.username, "password": PASSWORD, "csrf_token": token}
    assert client.post(LOGIN, data=data, headers=ORIGIN).status_code == 403


def test_a_login_posted_from_another_site_is_refused(client, market_officer):
    response = log_in(client, market_officer.account.username, Origin="https://evil.example")
    assert response.status_code == 403 and COOKIE not in set_cookies(response)


def test_login_attempts_share_the_api_logins_rate_limit(make_app, market_officer):
    app = make_app(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute")
    client = app.test_client()
    for _ in range(2):  # two wrong guesses through the API
        api = client.post("/api/v1/auth/login", json={"username": market_officer.account.username, "password": "x"})
        assert api.status_code == 401
    assert log_in(client, market_officer.account.username, "wrong").status_code == 401  # the third attempt
    limited = log_in(client, market_officer.account.username)  # the fourth, right this time: still refused
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0
    assert "登录尝试过于频繁" in limited.get_data(as_text=True) and COOKIE not in set_cookies(limited)
    assert client.get(LOGIN).status_code == 200  # the form itself is not limited


def test_a_logged_in_regulator_opening_the_form_goes_to_the_page(make_app, market_officer):
    client = logged_in(make_app, market_officer)
    response = client.get(LOGIN)
    assert response.status_code == 303 and response.headers["Location"] == PAGE


# ---- the session ---------------------------------------------------------------------------------------

def test_without_a_session_the_page_and_the_report_go_to_the_login_form(client):
    for path in (PAGE, REPORT):
        response = client.get(path)
        assert response.status_code == 303 and response.headers["Location"] == LOGIN


def test_a_forged_cookie_is_dropped(client, market_officer):
    client.set_cookie(COOKIE, "eyJhY2NvdW50IjoxLCJzZXNzaW9uIjoiMDAifQ.forged.sig", path="/dashboard")
    response = client.get(PAGE)
    assert response.status_code == 303
    assert set_cookies(response)[COOKIE].startswith(f"{COOKIE}=;")


def test_logout_ends_the_session_even_for_a_copy_of_the_cookie(make_app, market_officer):
    client = logged_in(make_app, market_officer)
    copy = client.get_cookie(COOKIE, path="/dashboard").value
    token = form_token(client.get(PAGE).get_data(as_text=True))
    response = client.post(LOGOUT, data={"csrf_token": token}, headers=ORIGIN)
    assert response.status_code == 303 and response.headers["Location"] == f"{LOGIN}?logged_out=1"
    assert "已退出登录" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert client.get(PAGE).status_code == 303

    thief = make_app().test_client()
    thief.set_cookie(COOKIE, copy, path="/dashboard")
    assert thief.get(PAGE).status_code == 303  # the session was ended on the server


def test_logout_without_the_pages_token_is_refused_and_the_session_stays(make_app, market_officer):
    client = logged_in(make_app, market_officer)
    assert client.post(LOGOUT, data={"csrf_token": "forged"}, headers=ORIGIN).status_code == 403
    assert client.get(PAGE).status_code == 200


def test_a_deactivated_account_is_logged_out(make_app, market_officer, session):
    client = logged_in(make_app, market_officer)
    market_officer.account.active = False
    session.commit()
    assert client.get(PAGE).status_code == 303


# ---- what the page shows ---------------------------------------------------------------------------------

def test_the_charts_carry_the_districts_numbers(make_app, admin, district):
    client = logged_in(make_app, admin)
    response = client.get(PAGE, query_string=year_of(district))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    # Totals (tests/oversight/test_stats.py works each out): complaints 1, 2, 3, 4, 5, 7 received, 2
    # overdue, 1 of 3 answered on time; 4 of 13 quarters filed; 4 visits, 1 approved penalty; half the plan.
    assert [total(html, key) for key in ("received", "overdue", "on_time_rate", "filing_rate", "inspections",
                                         "penalties", "plan_completion_rate")] == \
        ["6", "2", "33.3%", "30.8%", "4", "1", "50.0%"]

    months = chart(html, "months")
    assert months.get("role") == "img" and months.findtext("title") == "每月收到投诉（件）"
    titles = bar_titles(months)
    assert len(titles) == 12
    assert [t for t in titles if not t.endswith("：0件")] == ["3月：2件", "6月：2件", "9月：1件", "12月：1件"]
    assert "3月 2件" in months.findtext("desc")

    grades = chart(html, "grades")
    assert bar_titles(grades) == ["A级：1家", "B级：1家", "C级：1家", "D级：1家"]

    streets = chart(html, "streets")
    assert bar_titles(streets) == [f"{SHANDA}：60.0%", f"{HONGJIALOU}：12.5%"]  # in the order of their names
    assert {HONGJIALOU, SHANDA, "12.5%", "60.0%"} <= set(texts(streets))
    assert f"{SHANDA} 60.0%" in streets.findtext("desc")
    # The tables beside the charts say the same.
    assert re.search(rf"<th scope=\"row\">{SHANDA}</th><td>5</td>\s*<td>3</td><td>60.0%</td>", html)


def test_a_bar_is_as_long_as_its_rate(make_app, admin, district):
    client = logged_in(make_app, admin)
    streets = chart(client.get(PAGE, query_string=year_of(district)).get_data(as_text=True), "streets")
    widths = {rect.findtext("title").split("：")[0]: float(rect.get("width")) for rect in streets.iter("rect")}
    assert widths[SHANDA] == pytest.approx(widths[HONGJIALOU] * 0.6 / 0.125, rel=0.01)


def test_an_officer_sees_its_own_department_only(make_app, market_officer, district):
    client = logged_in(make_app, market_officer)
    html = client.get(PAGE, query_string=year_of(district)).get_data(as_text=True)
    assert total(html, "received") == "1"  # complaint 3, held by market
    assert re.findall(r'<option value="([^"]*)"', html.split('id="f-department"')[1].split("</select>")[0]) == ["market"]
    assert "由牵头部门（卫生健康委）统计" in html


def test_an_officer_asking_for_another_department_gets_a_refusal_with_403(make_app, market_officer, district):
    client = logged_in(make_app, market_officer)
    for department in ("health", "all"):
        response = client.get(PAGE, query_string={**year_of(district), "department": department})
        assert response.status_code == 403
        html = response.get_data(as_text=True)
        assert "只能查看本部门的统计数据" in html and 'id="chart-months"' not in html
        assert 'id="f-from"' in html  # the form stays, to ask again


def test_a_health_supervisor_sees_every_department_and_may_pick_one(make_app, health_supervisor, district):
    client = logged_in(make_app, health_supervisor)
    everything = client.get(PAGE, query_string=year_of(district)).get_data(as_text=True)
    assert total(everything, "received") == "6"
    market = client.get(PAGE, query_string={**year_of(district), "department": "market"}).get_data(as_text=True)
    assert total(market, "received") == "1"
    assert '<option value="market" selected>' in market


def test_the_street_filter(make_app, admin, district):
    client = logged_in(make_app, admin)
    html = client.get(PAGE, query_string={**year_of(district), "street": SHANDA}).get_data(as_text=True)
    assert total(html, "received") == "2" and total(html, "filing_rate") == "60.0%"
    assert f'<option value="{SHANDA}" selected>' in html


@pytest.mark.parametrize(("query", "field", "message"), [
    ({"from": "2026-03-01", "to": "2026-02-28"}, "to", "截止日期不能早于起始日期"),
    ({"from": "2020-01-01", "to": "2025-01-01"}, "from", "统计期间不能超过 5 年"),
    ({"from": "2026-13-01"}, "from", "起始日期"),
    ({"department": "tax"}, "department", "部门"),
])
def test_a_bad_period_shows_the_error_with_422(make_app, admin, query, field, message):
    client = logged_in(make_app, admin)
    response = client.get(PAGE, query_string=query)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html
    assert f'id="f-{field}"' in html and f'aria-describedby="f-{field}-error"' in html
    assert 'id="chart-months"' not in html


def test_the_period_defaults_to_the_year_so_far(make_app, admin):
    client = logged_in(make_app, admin)
    today = today_shanghai()
    html = client.get(PAGE).get_data(as_text=True)
    assert f"统计期间 {today.replace(month=1, day=1)} 至 {today}" in html


def test_the_page_is_self_contained_under_a_strict_policy(make_app, admin, district):
    client = logged_in(make_app, admin)
    response = client.get(PAGE, query_string=year_of(district))
    policy = response.headers["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
    assert policy.startswith("default-src 'none'") and "script-src" not in policy and "unsafe-inline" not in policy
    html = response.get_data(as_text=True)
    assert f'<style nonce="{nonce}">' in html
    assert "<script" not in html and not re.search(r"(src|href)=\"https?://", html)
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_text_from_the_directory_is_escaped_in_the_charts_and_the_form(make_app, admin, session, district):
    from registry.models import Institution

    hostile = '<script>alert("x")</script>&街道'
    session.get(Institution, district.ids["A"]).street = hostile
    session.commit()
    client = logged_in(make_app, admin)
    html = client.get(PAGE, query_string=year_of(district)).get_data(as_text=True)
    assert "<script>" not in html
    streets = chart(html, "streets")  # still well-formed XML
    assert any(title.startswith(hostile) for title in bar_titles(streets))
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&amp;街道" in html


def test_the_dashboard_pages_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"/dashboard", "/dashboard/login", "/dashboard/logout", "/dashboard/report.xlsx"} <= set(paths)


def test_an_unknown_dashboard_address_is_a_page(client):
    response = client.get("/dashboard/nothing-here")
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert client.get(LOGOUT).status_code == 405


# ---- the monthly report ---------------------------------------------------------------------------------

def test_the_report_downloads_with_the_cookie(make_app, market_officer, district):
    client = logged_in(make_app, market_officer)
    page = client.get(PAGE, query_string=year_of(district)).get_data(as_text=True)
    link = re.search(r'<a class="button secondary" href="([^"]+)">', page).group(1).replace("&amp;", "&")
    assert link.startswith(REPORT + "?")
    response = client.get(link)
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    name = unquote(response.headers["Content-Disposition"].split("filename*=UTF-8''")[1])
    assert name == f"监管统计月报-{district.year}0101-{district.year}1231.xlsx"
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    summary = {row[0]: row[1] for row in book["汇总"].iter_rows(values_only=True) if row and row[0]}
    assert summary["部门"] == "市场监管局" and summary["收到投诉"] == 1


def test_the_report_refuses_what_the_page_refuses(make_app, market_officer):
    client = logged_in(make_app, market_officer)
    forbidden = client.get(REPORT, query_string={"department": "health"})
    assert forbidden.status_code == 403 and forbidden.mimetype == "text/html"
    invalid = client.get(REPORT, query_string={"from": "2026-03-01", "to": "2026-02-01"})
    assert invalid.status_code == 422 and "截止日期不能早于起始日期" in invalid.get_data(as_text=True)

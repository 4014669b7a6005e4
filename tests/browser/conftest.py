"""Browser tests: Debian's Chromium driven headless by Playwright, against the real app served over
HTTP from a thread.

Playwright's own browser downloads are not used: `executable_path` points at /usr/bin/chromium (`.ci/run`
installs it). Without it the tests are skipped here, but with CI=true they fail, as PostgreSQL does.
"""

from __future__ import annotations

import os
import threading

import pytest
from werkzeug.serving import make_server

from tests.conftest import IN_CI

CHROMIUM = os.environ.get("ONECODE_TEST_CHROMIUM", "/usr/bin/chromium")
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True, "locale": "zh-CN"}


def _unavailable(reason: str):
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: browser tests must run; .ci/run installs chromium)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the run."""
    if not os.path.exists(CHROMIUM):
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        # The browser's own controls (file picker, date fields) in Chinese, as on a phone set to Chinese,
        # where chromium-l10n is installed; without it they stay English and nothing else changes.
        chinese = {**os.environ, "LANGUAGE": "zh_CN", "LANG": "zh_CN.UTF-8"}
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--lang=zh-CN"],
                                              env=chinese)
        yield launched
        launched.close()


@pytest.fixture
def live_server(make_app):
    """The app on 127.0.0.1 (a free port) over this test's database, PUBLIC_BASE_URL its own address.
    Yields (base_url, app)."""
    target = {}
    server = make_server("127.0.0.1", 0, lambda environ, respond: target["app"](environ, respond), threaded=True)
    base_url = f"http://127.0.0.1:{server.server_port}"
    target["app"] = make_app(PUBLIC_BASE_URL=base_url)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield base_url, target["app"]
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


class Visit:
    """A browser tab at phone size that remembers every request and console error it saw."""

    def __init__(self, context, base_url: str):
        self.context = context
        self.page = context.new_page()
        self.requests: list[str] = []
        self.console_errors: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("console", lambda message: message.type == "error" and self.console_errors.append(message.text))
        self.base_url = base_url

    def assert_self_contained(self):
        """Nothing fetched from elsewhere, nothing refused by the Content-Security-Policy."""
        outside = [url for url in self.requests if not url.startswith((self.base_url, "data:"))]
        assert outside == [], outside
        assert self.console_errors == [], self.console_errors


@pytest.fixture
def phone(browser, live_server):
    """A phone-sized browser tab on the live server, JavaScript on (as most phones)."""
    context = browser.new_context(**PHONE)
    yield Visit(context, live_server[0])
    context.close()


@pytest.fixture
def phone_without_javascript(browser, live_server):
    context = browser.new_context(java_script_enabled=False, **PHONE)
    yield Visit(context, live_server[0])
    context.close()

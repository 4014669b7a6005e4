"""Fixtures of the WeChat tests: a fake WeChat on 127.0.0.1 and an app configured to use it.

`app` is overridden here, so `client`, `session`, the personas and `clinic` of tests/conftest.py all
use the WeChat-enabled app.
"""

from __future__ import annotations

import pytest

from tests.fake_wechat import FakeWeChat

APPID = "wx-test-app"
SECRET = "test-secret"


@pytest.fixture
def wechat():
    """A running fake WeChat, stopped (sockets and threads closed) after the test."""
    server = FakeWeChat(APPID, SECRET).start()
    yield server
    server.stop()


def wechat_settings(server) -> dict:
    return {"WECHAT_APPID": APPID, "WECHAT_SECRET": SECRET, "WECHAT_API_BASE": server.url}


@pytest.fixture
def app(make_app, wechat):
    app = make_app(**wechat_settings(wechat))
    with app.app_context():
        yield app


@pytest.fixture
def unconfigured_client(make_app):
    """A client of an app on the same database with no WeChat settings at all."""
    return make_app().test_client()


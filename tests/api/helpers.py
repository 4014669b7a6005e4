"""Assertions shared by the tests of the api package."""

from __future__ import annotations

import re

_CJK = re.compile(r"[\u4e00-\u9fff]")


def assert_error(response, status: int, code: str) -> dict:
    """The contract's error envelope: JSON {code, message (zh-CN), fields?} and nothing else."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.is_json, response.content_type
    body = response.get_json()
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and _CJK.search(body["message"]), body
    assert set(body) <= {"code", "message", "fields"}, body
    return body


def log_in(client, username: str, password: str = "a-long-test-password"):
    return client.post("/api/v1/auth/login", json={"username": username, "password": password})


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}

"""Fixtures of the complaint tests: the people around a case and the directory it points at."""

from __future__ import annotations

import pytest

from tests.conftest import staff_payload


@pytest.fixture
def doctor(admin, clinic):
    """A physician at the clinic, as the API returned them (with their own code)."""
    response = admin.post(f"/api/v1/institutions/{clinic['id']}/staff", json=staff_payload(1))
    assert response.status_code == 201, response.json
    return response.json

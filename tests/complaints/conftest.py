"""Fixtures of the complaint tests: the people around a case, the directory it points at, and cases."""

from __future__ import annotations

import pytest

from tests.complaints.workflow_helpers import submit
from tests.conftest import staff_payload


@pytest.fixture
def doctor(admin, clinic):
    """A physician at the clinic, as the API returned them (with their own code)."""
    response = admin.post(f"/api/v1/institutions/{clinic['id']}/staff", json=staff_payload(1))
    assert response.status_code == 201, response.json
    return response.json


@pytest.fixture
def market_supervisor(login):
    return login("supervisor", department="market")


@pytest.fixture
def health_case(client, clinic) -> dict:
    """A named complaint about the clinic, handled by health."""
    receipt = submit(client, {"institution_id": clinic["id"]})
    assert receipt["department"] == "health"
    return receipt


@pytest.fixture
def market_case(client, clinic) -> dict:
    receipt = submit(client, {"institution_id": clinic["id"]}, category="prices_charges")
    assert receipt["department"] == "market"
    return receipt

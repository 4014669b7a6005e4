"""Fixtures of the supervision tests: a second clinic, and its account."""

from __future__ import annotations

import pytest

from tests.supervision.helpers import new_institution


@pytest.fixture
def other_clinic(admin):
    return new_institution(admin, 2, name="第二诊所")


@pytest.fixture
def other_clinic_account(login, other_clinic):
    return login("institution", institution_id=other_clinic["id"])

"""The review rule in the service itself, called directly (no HTTP): only health reviews self-inspections."""

from __future__ import annotations

import pytest

from api.errors import Forbidden
from selfcheck import service
from selfcheck.models import SelfCheck
from tests.selfcheck.conftest import filed


def _filing(session, clinic_account, general_template) -> SelfCheck:
    return session.get(SelfCheck, filed(clinic_account, general_template)["id"])


def test_the_service_refuses_a_market_officer(session, clinic_account, market_officer, general_template):
    filing = _filing(session, clinic_account, general_template)

    with pytest.raises(Forbidden):
        service.review(session=session, filing=filing, account=market_officer.account, decision="accepted")
    assert filing.status == "submitted" and filing.reviewed_by_id is None


def test_the_service_refuses_an_institution(session, clinic_account, general_template):
    filing = _filing(session, clinic_account, general_template)

    with pytest.raises(Forbidden):
        service.review(session=session, filing=filing, account=clinic_account.account, decision="accepted")
    assert filing.status == "submitted"


@pytest.mark.parametrize("reviewer", ["health_officer", "health_supervisor", "admin"])
def test_the_service_lets_health_and_admins_review(request, session, clinic_account, general_template, reviewer):
    filing = _filing(session, clinic_account, general_template)
    account = request.getfixturevalue(reviewer).account

    service.review(session=session, filing=filing, account=account, decision="returned", note="请补充")

    assert (filing.status, filing.reviewed_by_id) == ("returned", account.id)

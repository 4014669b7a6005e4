"""A dental or cosmetic institution's quantified risk level (量化分级) follows its non-compliant self-check
items not yet rectified (issue 17, correction 4): three or more open items make it high, any medium."""

from __future__ import annotations

from api.database import today_shanghai
from tests.selfcheck.conftest import SELFCHECKS, filed, plan
from tests.supervision.helpers import credit, new_institution


def test_open_non_compliant_items_raise_the_quantified_risk_and_rectifying_lowers_it(
        admin, login, health_officer, dental_template):
    dental = new_institution(admin, 41, category="dental")
    account = login("institution", institution_id=dental["id"])
    codes = [item["code"] for item in dental_template["items"] if item["tier"] != "veto"][:3]
    assert credit(health_officer, dental["id"])["graded_risk_level"] == "low"

    filing = filed(account, dental_template, non_compliant={code: plan() for code in codes})

    assert credit(health_officer, dental["id"])["graded_risk_level"] == "high"
    response = account.post(f"{SELFCHECKS}/{filing['id']}/rectifications",
                            json={"item_code": codes[0], "done_on": str(today_shanghai()), "note": "已整改完毕"})
    assert response.status_code == 201, response.get_json()
    for persona in (health_officer, account):
        assert credit(persona, dental["id"])["graded_risk_level"] == "medium"

"""The audit log's actions are declared once (api.audit.ACTIONS): what is recorded can be filtered on,
and nothing undeclared can be recorded."""

from __future__ import annotations

import pytest

from api import audit

AUDIT = "/api/v1/audit-log"


@pytest.mark.parametrize("action", sorted(audit.ACTIONS))
def test_the_admin_filters_the_audit_log_by_every_recorded_action(admin, session, action):
    audit.record(session=session, account_id=admin.account.id, action=action, object_type="complaint",
                 object_id="T-1")
    session.commit()

    response = admin.get(AUDIT, query_string={"action": action})

    assert response.status_code == 200, response.get_json()
    assert [(item["action"], item["object_id"]) for item in response.get_json()["items"]] == [(action, "T-1")]


def test_an_undeclared_action_is_refused_when_recorded(admin, session):
    with pytest.raises(ValueError, match="read_everything"):
        audit.record(session=session, account_id=admin.account.id, action="read_everything",
                     object_type="complaint", object_id="T-1")

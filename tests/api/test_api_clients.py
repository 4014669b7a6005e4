"""API clients: an admin creates them (secret shown once, stored hashed), they trade id and secret for
a token (RFC 6749 §4.4, JSON, form or HTTP Basic), scopes gate what a token may call, and a revoked
client's token is refused on its next call. Every call is attributable to the client."""

from __future__ import annotations

import base64
import hashlib
import logging

import pytest

from api import audit
from api.clients import ApiClient

CLIENTS, TOKEN, PENALTIES = "/api/v1/api-clients", "/api/v1/auth/token", "/api/v1/exports/penalties"


def create(admin, name="省信用平台", scopes=("credit:read",)) -> dict:
    response = admin.post(CLIENTS, json={"name": name, "scopes": list(scopes)})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def token_for(client, created, **extra) -> dict:
    response = client.post(TOKEN, json={"grant_type": "client_credentials", "client_id": created["client_id"],
                                        "client_secret": created["client_secret"], **extra})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def bearer(token: dict) -> dict:
    return {"Authorization": f"Bearer {token['access_token']}"}


def test_an_admin_creates_a_client_whose_secret_is_shown_once_and_stored_hashed(admin, session):
    created = create(admin, scopes=["credit:read", "changes:read"])
    assert created["client_secret"].startswith("ocs_") and len(created["client_secret"]) > 40
    assert created["scopes"] == ["changes:read", "credit:read"] and created["active"] is True
    stored = session.get(ApiClient, created["id"])
    assert stored.secret_hash == hashlib.sha256(created["client_secret"].encode()).hexdigest()
    assert created["client_secret"] not in str(vars(stored))
    listed = admin.get(CLIENTS).get_json()
    assert listed["total"] == 1 and "client_secret" not in listed["items"][0]
    assert admin.get(f"{CLIENTS}/{created['id']}").get_json()["client_id"] == created["client_id"]
    entries = admin.get("/api/v1/audit-log?action=create_api_client").get_json()["items"]
    assert entries[0]["object_id"] == str(created["id"]) and entries[0]["account_id"] == admin.account.id


@pytest.mark.parametrize("persona", ["health_supervisor", "health_officer", "citizen", "clinic_account"])
def test_no_one_but_an_admin_manages_clients(request, persona, admin):
    created = create(admin)
    caller = request.getfixturevalue(persona)
    assert caller.post(CLIENTS, json={"name": "x", "scopes": ["credit:read"]}).status_code == 403
    assert caller.get(CLIENTS).status_code == 403
    assert caller.post(f"{CLIENTS}/{created['id']}/revoke").status_code == 403


def test_an_unknown_or_missing_scope_is_refused(admin):
    response = admin.post(CLIENTS, json={"name": "平台", "scopes": ["credit:read", "everything"]})
    assert response.status_code == 422 and "scopes" in response.get_json()["fields"]
    assert admin.post(CLIENTS, json={"name": "平台", "scopes": []}).status_code == 422


@pytest.mark.parametrize("others", [["credit:read"], ["changes:read"], ["changes:read", "credit:read"]])
def test_complaints_write_is_granted_only_alone_since_its_secret_ships_inside_public_apps(admin, others):
    response = admin.post(CLIENTS, json={"name": "12345 App", "scopes": ["complaints:write", *others]})
    assert response.status_code == 422
    assert "complaints:write" in response.get_json()["fields"]["scopes"][0]
    assert admin.get(CLIENTS).get_json()["total"] == 0
    assert create(admin, name="12345 App", scopes=["complaints:write"])["scopes"] == ["complaints:write"]


def test_a_client_gets_a_token_with_its_scopes_by_json_form_or_basic(admin, client):
    created = create(admin, scopes=["credit:read", "changes:read"])
    token = token_for(client, created)
    assert token["token_type"] == "Bearer" and token["expires_in"] > 0
    assert token["scope"] == "changes:read credit:read"
    form = client.post(TOKEN, data={"grant_type": "client_credentials", "client_id": created["client_id"],
                                    "client_secret": created["client_secret"], "scope": "credit:read"})
    assert form.status_code == 200 and form.get_json()["scope"] == "credit:read"
    assert form.headers["Cache-Control"] == "no-store"
    basic = base64.b64encode(f"{created['client_id']}:{created['client_secret']}".encode()).decode()
    response = client.post(TOKEN, data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {basic}"})
    assert response.status_code == 200
    assert client.get(PENALTIES, headers=bearer(response.get_json())).status_code == 200


def test_a_wrong_secret_or_unknown_client_is_401_invalid_client(admin, client):
    created = create(admin)
    for body in ({"client_id": created["client_id"], "client_secret": created["client_secret"] + "x"},
                 {"client_id": "occ_nobody", "client_secret": created["client_secret"]}):
        response = client.post(TOKEN, json={"grant_type": "client_credentials", **body})
        assert response.status_code == 401
        assert response.get_json()["code"] == "INVALID_CREDENTIALS" and response.get_json()["error"] == "invalid_client"
    basic = base64.b64encode(f"{created['client_id']}:wrong".encode()).decode()
    response = client.post(TOKEN, data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {basic}"})
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Basic")


def test_bad_token_requests_are_422_with_the_oauth_error(admin, client):
    created = create(admin)
    password = client.post(TOKEN, json={"grant_type": "password", "client_id": created["client_id"],
                                        "client_secret": created["client_secret"]})
    assert password.status_code == 422 and password.get_json()["error"] == "unsupported_grant_type"
    missing = client.post(TOKEN, json={"grant_type": "client_credentials", "client_id": created["client_id"]})
    assert missing.status_code == 422 and missing.get_json()["error"] == "invalid_request"
    beyond = client.post(TOKEN, json={"grant_type": "client_credentials", "client_id": created["client_id"],
                                      "client_secret": created["client_secret"], "scope": "complaints:write"})
    assert beyond.status_code == 422 and beyond.get_json()["error"] == "invalid_scope"
    assert client.post(TOKEN, data="not json", content_type="text/plain").status_code == 422


def test_a_revoked_clients_token_and_secret_are_refused_from_the_next_call(admin, client):
    created = create(admin)
    token = token_for(client, created)
    assert client.get(PENALTIES, headers=bearer(token)).status_code == 200
    revoked = admin.post(f"{CLIENTS}/{created['id']}/revoke")
    assert revoked.status_code == 200 and revoked.get_json()["active"] is False
    response = client.get(PENALTIES, headers=bearer(token))
    assert response.status_code == 401 and response.get_json()["code"] == "UNAUTHORIZED"
    again = client.post(TOKEN, json={"grant_type": "client_credentials", "client_id": created["client_id"],
                                     "client_secret": created["client_secret"]})
    assert again.status_code == 401


def test_delete_revokes_too(admin, client):
    created = create(admin)
    token = token_for(client, created)
    assert admin._call("delete", f"{CLIENTS}/{created['id']}").status_code == 204
    assert client.get(PENALTIES, headers=bearer(token)).status_code == 401
    assert admin._call("delete", f"{CLIENTS}/999999").status_code == 404


def test_a_token_without_the_scope_is_403_and_never_passes_a_role_check(admin, client):
    created = create(admin, scopes=["changes:read"])
    token = token_for(client, created)
    response = client.get(PENALTIES, headers=bearer(token))
    assert response.status_code == 403 and "credit:read" in response.get_json()["message"]
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 403
    assert client.get("/api/v1/complaints", headers=bearer(token)).status_code == 403
    assert client.get(CLIENTS, headers=bearer(token)).status_code == 403


def test_a_users_token_needs_no_scope_but_its_role(health_officer, citizen):
    assert health_officer.get(PENALTIES).status_code == 200
    assert citizen.get(PENALTIES).status_code == 403


def test_every_client_call_is_logged_and_audited_with_its_client_id(admin, client, caplog):
    created = create(admin)
    token = token_for(client, created)
    with caplog.at_level(logging.INFO, logger="api"):
        response = client.get(PENALTIES, headers=bearer(token))
    assert response.status_code == 200
    assert any(f"client:{created['id']} GET {PENALTIES} 200" in message for message in caplog.messages)
    issued = admin.get(f"/api/v1/audit-log?action={audit.ISSUE_CLIENT_TOKEN}").get_json()["items"]
    assert issued[0]["detail"].startswith(f"client:{created['id']}")

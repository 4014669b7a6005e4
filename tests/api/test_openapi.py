"""The generated OpenAPI document describes every endpoint, its security and its errors."""

from __future__ import annotations

import re

import pytest

HTTP_METHODS = {"get", "post", "put", "patch", "delete"}
DOC_ENDPOINTS = {"static"}


@pytest.fixture
def spec(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json


def _openapi_path(rule: str) -> str:
    """/api/v1/staff/<int(min=1):staff_id> -> /api/v1/staff/{staff_id}"""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def _routes(app) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint in DOC_ENDPOINTS or rule.endpoint.startswith("api-docs."):
            continue
        if not (rule.rule.startswith("/api/v1/") or rule.rule == "/healthz"):
            continue
        for method in rule.methods or ():
            if method.lower() in HTTP_METHODS:
                routes.add((_openapi_path(rule.rule), method.lower()))
    return routes


def _operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def _resolve(spec, response):
    while "$ref" in response:
        name = response["$ref"].rsplit("/", 1)[1]
        response = spec["components"]["responses"][name]
    return response


def _is_error_envelope(spec, response) -> bool:
    response = _resolve(spec, response)
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return schema.get("$ref") == "#/components/schemas/Error"


def _needs_bearer(operation) -> bool:
    return any("bearerAuth" in requirement for requirement in operation.get("security", []))


def test_the_document_lists_every_api_route_of_the_app(app, spec):
    routes = _routes(app)
    documented = {(path, method) for path, method, _ in _operations(spec)
                  if path.startswith("/api/v1/") or path == "/healthz"}

    assert ("/api/v1/auth/login", "post") in routes  # the comparison below is not of two empty sets
    assert routes - documented == set(), "routes missing from openapi.json"
    assert documented - routes == set(), "openapi.json documents routes the app does not have"


def test_the_document_names_the_api(spec):
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["title"]
    assert spec["info"]["version"] == "v1"


def test_every_operation_has_a_summary(spec):
    missing = [(path, method) for path, method, operation in _operations(spec) if not operation.get("summary")]

    assert missing == []


def test_the_document_declares_bearer_authentication(spec):
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


@pytest.mark.parametrize(("path", "method"), [("/api/v1/me", "get"), ("/api/v1/auth/logout", "post"),
                                              ("/api/v1/accounts", "post")])
def test_endpoints_that_need_a_token_say_so(spec, path, method):
    assert _needs_bearer(spec["paths"][path][method])


@pytest.mark.parametrize(("path", "method"), [("/api/v1/auth/login", "post"), ("/api/v1/auth/refresh", "post"),
                                              ("/healthz", "get")])
def test_public_endpoints_do_not_demand_a_token(spec, path, method):
    assert not _needs_bearer(spec["paths"][path][method])


def test_the_error_envelope_is_a_documented_schema(spec):
    error = spec["components"]["schemas"]["Error"]

    assert {"code", "message", "fields"} <= set(error["properties"])
    assert set(error["required"]) == {"code", "message"}


def test_every_authenticated_endpoint_documents_401_with_the_error_envelope(spec):
    authenticated = [(path, method, op) for path, method, op in _operations(spec) if _needs_bearer(op)]
    assert authenticated

    missing = [(path, method) for path, method, op in authenticated
               if "401" not in op["responses"] or not _is_error_envelope(spec, op["responses"]["401"])]

    assert missing == []


def test_role_restricted_endpoints_document_403_with_the_error_envelope(spec):
    restricted = [(path, method, op) for path, method, op in _operations(spec) if "Roles:" in op.get("description", "")]
    assert ("/api/v1/accounts", "post") in [(path, method) for path, method, _ in restricted]

    missing = [(path, method) for path, method, op in restricted
               if "403" not in op["responses"] or not _is_error_envelope(spec, op["responses"]["403"])]

    assert missing == []


def test_endpoints_taking_a_body_document_422_with_the_error_envelope(spec):
    with_body = [(path, method, op) for path, method, op in _operations(spec) if "requestBody" in op]
    assert with_body

    missing = [(path, method) for path, method, op in with_body
               if "422" not in op["responses"] or not _is_error_envelope(spec, op["responses"]["422"])]

    assert missing == []


def test_every_documented_api_error_response_describes_the_error_envelope(spec):
    """A client generated from the document must know the body of a 409 or 404 as well as of a 401."""
    bare = [(path, method, status) for path, method, op in _operations(spec) if path.startswith("/api/v1/")
            for status, response in op["responses"].items()
            if (status == "default" or status[0] in "45") and not _is_error_envelope(spec, response)]

    assert bare == []


def test_the_swagger_ui_answers_html(client):
    response = client.get("/api/v1/docs")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert "/api/v1/openapi.json" in response.get_data(as_text=True)


def test_the_idempotency_key_header_is_documented_as_a_secret_of_16_to_128_characters(spec):
    operation = spec["paths"]["/api/v1/complaints"]["post"]
    header = next(p for p in operation["parameters"] if p["in"] == "header" and p["name"] == "Idempotency-Key")

    assert header["schema"]["minLength"] == 16 and header["schema"]["maxLength"] == 128, header
    assert "UUID" in header["description"] + header["schema"].get("description", ""), header

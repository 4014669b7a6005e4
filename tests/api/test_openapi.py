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
    with_body = [(path, method, op) for path, method, op in _operations(spec) if "requestBody" in op
                 and not path.startswith("/open311/")]  # Open311 answers bad input 400 in its own shape
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


# --- what contract fuzzing found (docs/decisions.md, "Contract fuzzing") ----------------------------

def _documented(spec, path, method, status):
    response = spec["paths"][path][method]["responses"].get(status)
    return None if response is None else _resolve(spec, response)


def _is_page(spec, path, method) -> bool:
    return "text/html" in _resolve(spec, spec["paths"][path][method]["responses"]["default"]).get("content", {})


def test_every_operation_documents_503_unavailable_with_retry_after(spec):
    missing = [(path, method) for path, method, _ in _operations(spec) if path != "/healthz"
               and "Retry-After" not in (_documented(spec, path, method, "503") or {}).get("headers", {})]

    assert missing == []


def test_every_operation_with_a_path_parameter_documents_404(spec):
    """A value the route's converter refuses (a negative id, a slash in a token) is a 404 too."""
    missing = [(path, method) for path, method, _ in _operations(spec)
               if "{" in path and _documented(spec, path, method, "404") is None]

    assert missing == []


def test_operations_taking_a_json_body_document_413_and_415(spec):
    with_json = [(path, method) for path, method, op in _operations(spec)
                 if "application/json" in op.get("requestBody", {}).get("content", {})]
    assert ("/api/v1/complaints", "post") in with_json

    missing = [(path, method, status) for path, method in with_json for status in ("413", "415")
               if _documented(spec, path, method, status) is None]

    assert missing == []


def test_every_rate_limited_operation_documents_429(app, spec):
    from flask_limiter.util import get_qualified_name

    from api.extensions import limiter

    limited = set()
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        for limit in limiter.limit_manager.decorated_limits(get_qualified_name(view)):
            methods = limit.methods or rule.methods
            limited |= {(_openapi_path(rule.rule), method.lower()) for method in methods
                        if method.lower() in HTTP_METHODS and method.lower() in spec["paths"].get(
                            _openapi_path(rule.rule), {})}
    assert ("/api/v1/auth/login", "post") in limited

    missing = sorted((path, method) for path, method in limited if _documented(spec, path, method, "429") is None)

    assert missing == []


@pytest.mark.parametrize("path", ["/api/v1/institutions/import/template.xlsx", "/api/v1/staff/import/template.xlsx"])
def test_the_import_templates_are_documented_as_spreadsheets(spec, path):
    """login_required used to replace the route's own documented responses with its 401/403."""
    content = _documented(spec, path, "get", "200")["content"]

    assert list(content) == ["application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"]


def test_the_commitment_document_is_documented_as_a_page(spec):
    content = _documented(spec, "/api/v1/commitments/{commitment_id}/document", "get", "200")["content"]

    assert list(content) == ["text/html"]


def test_attachment_downloads_document_their_file_types(spec):
    path = "/api/v1/complaints/{tracking_no}/attachments/{attachment_id}"

    assert set(_documented(spec, path, "get", "200")["content"]) == {"image/jpeg", "image/png", "application/pdf"}


def test_the_black_list_decision_documents_404_for_an_unknown_institution(spec):
    assert _is_error_envelope(spec, spec["paths"]["/api/v1/lists/black/decisions"]["post"]["responses"]["404"])


@pytest.mark.parametrize("path", ["/api/v1/lists/{name}", "/api/v1/lists/{name}/export"])
def test_the_list_name_is_documented_as_red_black_or_key(spec, path):
    parameter = next(p for p in spec["paths"][path]["parameters"] if p["name"] == "name")

    assert sorted(parameter["schema"]["enum"]) == ["black", "key", "red"]


def test_a_list_entry_documents_its_term_end(spec):
    schema = spec["paths"]["/api/v1/lists/{name}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    page = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    entry = spec["components"]["schemas"][page["properties"]["items"]["items"]["$ref"].rsplit("/", 1)[1]]

    assert "ends_at" in entry["properties"] and "ends_at" not in entry.get("required", [])


def test_the_health_check_documents_its_bodies(spec):
    responses = spec["paths"]["/healthz"]["get"]["responses"]

    assert responses["200"]["content"]["application/json"]["schema"]["properties"]["status"]["enum"] == ["ok"]
    assert responses["503"]["content"]["application/json"]["schema"]["properties"]["status"]["enum"] == [
        "unavailable"]


def test_the_pages_document_only_html_answers(spec):
    pages = [(path, method) for path, method, _ in _operations(spec)
             if not path.startswith(("/api/", "/healthz", "/open311/"))]  # Open311 is JSON, in its own error shape
    assert ("/c/{token}", "get") in pages

    not_html = [(path, method, status) for path, method in pages
                for status, response in spec["paths"][path][method]["responses"].items()
                if status[0] in "45d" and list(_resolve(spec, response).get("content", {})) != ["text/html"]]

    assert not_html == []

"""Extensions, created unbound and attached in create_app() (one init_app each)."""

from __future__ import annotations

import json

from apispec import BasePlugin
from flask import current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_smorest import Api as _Api
from flask_smorest import Blueprint as _Blueprint
from marshmallow import ValidationError
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.exceptions import UnsupportedMediaType
from werkzeug.routing import AnyConverter

from api import errors, text
from api.database import db
from api.request import has_body

migrate = Migrate(compare_type=True, render_as_batch=True)
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def query_code_limit(**kwargs):
    """One bucket per client address for every check of a complaint's query code (API tracking, the H5
    tracking page, rating, attachment uploads): QUERY_CODE_RATE_LIMIT guesses in all, not per endpoint.
    Counted where the limiter counts (Redis when configured)."""
    return limiter.shared_limit(lambda: current_app.config["QUERY_CODE_RATE_LIMIT"], scope="query_code", **kwargs)


def password_login_limit():
    """One bucket per client address for every username-and-password login (the API's and the
    dashboard's form): LOGIN_RATE_LIMIT guesses in all, whichever door a script knocks at."""
    return limiter.shared_limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], scope="password_login",
                                methods=["POST"])


class Api(_Api):
    """flask-smorest's Api with the contract's error envelope instead of its own."""

    ERROR_SCHEMA = errors.ErrorSchema

    def _register_error_handlers(self):
        errors.init_app(self._app)


class JsonParser(FlaskParser):
    """Bodies must be JSON: a body of another type is 415, not silently ignored (chunked ones too)."""

    def _raw_load_json(self, req):
        if has_body(req) and not is_json_request(req):
            raise UnsupportedMediaType()
        return super()._raw_load_json(req)

    def load_json(self, req, schema):
        try:
            return super().load_json(req, schema)
        except RecursionError:  # absurdly nested JSON
            self._handle_invalid_json_error(json.JSONDecodeError("too deep", "", 0), req)

    def pre_load(self, location_data, *, schema, req, location):
        """Before any schema sees it: no string anywhere in the body, query string, form or the
        schema's headers may hold a character XML 1.0 cannot hold (a lone surrogate, which JSON's
        \\ud800 escape lets through and no database can encode; U+FFFF; NUL...). 422 naming each field."""
        problems = text.unstorable_in(_plain_values(location_data, schema, location))
        if problems:
            raise ValidationError(problems)  # already flat ("target.name"): the envelope keeps the paths
        return location_data


def _plain_values(location_data, schema, location: str):
    """The location's data as dicts, lists and strings. Headers: only those the schema reads (a
    browser's own headers are not the client's input to this endpoint). Files are not text."""
    if location == "files":
        return {}
    multi = getattr(location_data, "data", None)  # webargs' MultiDictProxy around werkzeug's MultiDict
    if multi is None or not hasattr(multi, "getlist"):
        return location_data
    names = list(multi.keys())
    if location == "headers":
        names = [f.data_key or n for n, f in schema.fields.items() if (f.data_key or n) in multi]
    values = {}
    for name in dict.fromkeys(names):
        found = multi.getlist(name)
        values[name] = found[0] if len(found) == 1 else found
    return values


RETRY_AFTER_HEADER = {"description": "Seconds to wait before sending the same request again",
                      "schema": {"type": "integer", "minimum": 1}}


class Blueprint(_Blueprint):
    ARGUMENTS_PARSER = JsonParser()

    def arguments(self, schema, **kwargs):
        """As flask-smorest's, but a schema class is instantiated once here: webargs would build a new
        instance (deep-copying every field) on every request. Schemas hold no per-request state."""
        return super().arguments(schema() if isinstance(schema, type) else schema, **kwargs)

    def error(self, status: int, description: str):
        """Document an error answer of this endpoint, with the contract's envelope as its body (and
        Retry-After on a 429 or a 503)."""
        headers = {"Retry-After": RETRY_AFTER_HEADER} if status in (429, 503) else None
        return self.alt_response(status, schema=errors.ErrorSchema, description=description, headers=headers)


BEARER = [{"bearerAuth": []}]

# Answers any operation of the API may give, documented once here and added to every operation by
# CommonResponses below (an operation that documents a status itself keeps its own description).
COMMON_RESPONSES = {
    "UNAVAILABLE": ("UNAVAILABLE: the database is busy or unreachable; nothing was written, send the same "
                    "request again after Retry-After seconds", {"Retry-After": RETRY_AFTER_HEADER}),
    "PATH_NOT_FOUND": ("NOT_FOUND: no such object, or a path parameter that names none", {}),
    "PAYLOAD_TOO_LARGE": ("PAYLOAD_TOO_LARGE: the body is over the size limit", {}),
    "UNSUPPORTED_MEDIA_TYPE": ("UNSUPPORTED_MEDIA_TYPE: a body that is not of the documented type", {}),
}


class CommonResponses(BasePlugin):
    """Adds to every JSON operation the answers it can give without saying so itself: 503 UNAVAILABLE
    (any operation reaches the database), 404 where a path parameter may name nothing, 413 and 415
    where there is a body. Operations that document their own `default` answer in another format
    (the H5 pages' HTML) and document their errors themselves."""

    def operation_helper(self, path=None, operations=None, **kwargs):
        for method, operation in (operations or {}).items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            if responses.get("default", Api.DEFAULT_ERROR_RESPONSE_NAME) != Api.DEFAULT_ERROR_RESPONSE_NAME:
                continue
            common = {"503": "UNAVAILABLE"}
            if "{" in (path or ""):
                common["404"] = "PATH_NOT_FOUND"
            body = operation.get("requestBody")
            if body:
                common["413"] = "PAYLOAD_TOO_LARGE"
                if "application/json" in body.get("content", {}):
                    common["415"] = "UNSUPPORTED_MEDIA_TYPE"
            documented = {str(status) for status in responses}  # flask-smorest's own keys are ints
            for status, name in common.items():
                if status not in documented:
                    responses[status] = name

# What Flask-Limiter reads from the first app's settings and then keeps on the Limiter (one per process,
# since the routes' decorators name it), and whether it found its storage dead: cleared before each
# app is bound, so every app (the tests build many) runs with its own settings.
_LIMITER_PER_APP = {"_strategy": None, "_key_prefix": "", "_swallow_errors": None, "_headers_enabled": None,
                    "_in_memory_fallback_enabled": False, "_storage_dead": False}


def init_app(app) -> Api:
    """Bind the extensions; the Api is made per app so tests can build many apps."""
    db.init_app(app)
    migrate.init_app(app, db, directory=_migrations_dir())
    app.after_request(errors.restore_retry_after)  # before the limiter's hook, so it runs after it
    for name, value in _LIMITER_PER_APP.items():
        setattr(limiter, name, value)
    limiter.init_app(app)
    api = Api(app, spec_kwargs={"extra_plugins": [CommonResponses()]})
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
    api.spec.components.security_scheme(  # an API client's id and secret at POST /api/v1/auth/token
        "clientBasic", {"type": "http", "scheme": "basic"}
    )
    for name, (description, headers) in COMMON_RESPONSES.items():
        response = {"description": description,
                    "content": {"application/json": {"schema": errors.ErrorSchema}}}
        if headers:
            response["headers"] = headers
        api.spec.components.response(name, response, lazy=True)
    api.register_converter(AnyConverter, lambda converter: {"type": "string", "enum": sorted(converter.items)})
    return api


def _migrations_dir() -> str:
    """migrations/ sits beside api/, in the repository and in an installed tree alike."""
    import os

    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "migrations")

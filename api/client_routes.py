"""API clients (admin) and the token endpoint (the OAuth 2.0 client-credentials grant, RFC 6749 §4.4).

Errors keep the contract's envelope {code, message, fields?} and add RFC 6749 §5.2's `error`, so an
OAuth library reads them too: a wrong id or secret, or a revoked client, is 401 INVALID_CREDENTIALS
with `error: invalid_client` (and WWW-Authenticate when the client sent HTTP Basic); a missing or
repeated parameter, an unsupported grant type or a scope the client does not hold is 422
VALIDATION_FAILED with `invalid_request`, `unsupported_grant_type` or `invalid_scope` (RFC 6749 says
400; the contract answers every bad input with 422).
"""

from __future__ import annotations

from urllib.parse import unquote_plus

from flask import current_app, jsonify, request
from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, validate

from api import clients
from api.access import ADMIN
from api.auth import current_account, login_required
from api.context import ID
from api.database import db
from api.errors import DomainError, NotFound, ValidationFailed, flatten_messages
from api.extensions import Blueprint, limiter
from api.schemas import Name, PageArgs, StrictSchema, page_schema, paginate

blp = Blueprint("api_clients", __name__, url_prefix="/api/v1",
                description="API clients: machine credentials with scopes, and their tokens (OAuth 2.0 "
                            "client credentials)")
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}  # RFC 6749 §5.1: a secret in the answer


class ApiClientCreateSchema(StrictSchema):
    name = Name(required=True, max_length=100, metadata={"description": "Who uses it, e.g. 省信用平台"})
    scopes = fields.List(fields.String(validate=validate.Length(max=40)), required=True,
                         validate=validate.Length(max=len(clients.SCOPES)),
                         metadata={"description": "Any of " + ", ".join(clients.SCOPES)})


class ApiClientSchema(Schema):
    id = fields.Integer(required=True)
    client_id = fields.String(required=True)
    name = fields.String(required=True)
    scopes = fields.List(fields.String(), attribute="scope_list", required=True)
    active = fields.Boolean(required=True)
    created_at = fields.AwareDateTime(required=True)
    revoked_at = fields.AwareDateTime(allow_none=True)
    last_token_at = fields.AwareDateTime(allow_none=True, metadata={"description": "When it last got a token"})


class ApiClientCreatedSchema(ApiClientSchema):
    client_secret = fields.String(required=True, metadata={"description": "Shown this once; only its hash is kept"})


class TokenRequestSchema(StrictSchema):
    grant_type = fields.String(required=True, metadata={"enum": ["client_credentials"]})
    client_id = fields.String(validate=validate.Length(min=1, max=100),
                              metadata={"description": "Or HTTP Basic (RFC 6749 §2.3.1), not both"})
    client_secret = fields.String(validate=validate.Length(min=1, max=200))
    scope = fields.String(validate=validate.Length(max=200),
                          metadata={"description": "Space-separated; default: all the client's scopes"})


class TokenSchema(Schema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True, metadata={"example": "Bearer"})
    expires_in = fields.Integer(required=True, metadata={"description": "seconds"})
    scope = fields.String(required=True, metadata={"example": "changes:read credit:read"})


@blp.route("/api-clients")
class ApiClients(MethodView):
    @login_required(ADMIN)
    @blp.arguments(PageArgs, location="query", as_kwargs=True)
    @blp.response(200, page_schema(ApiClientSchema))
    def get(self, page, page_size):
        """API clients, newest first (admin); secrets are never shown again."""
        return paginate(db.session, clients.client_query(), page=page, page_size=page_size)

    @login_required(ADMIN)
    @blp.arguments(ApiClientCreateSchema)
    @blp.response(201, ApiClientCreatedSchema, headers={name: {"schema": {"type": "string"}} for name in NO_STORE})
    def post(self, data):
        """Create an API client (admin): its `client_secret` is in this answer and nowhere else. An
        unknown scope is 422."""
        client, secret = clients.create_client(session=db.session, name=data["name"], scopes=data["scopes"],
                                               created_by_id=current_account().id)
        db.session.commit()
        return {**_fields(client), "client_secret": secret}, 201, NO_STORE


def _fields(client: clients.ApiClient) -> dict:
    return {name: getattr(client, name) for name in ("id", "client_id", "name", "scope_list", "active",
                                                     "created_at", "revoked_at", "last_token_at")}


@blp.route(f"/api-clients/<{ID}:client_id>")
class ApiClientById(MethodView):
    @login_required(ADMIN)
    @blp.response(200, ApiClientSchema)
    def get(self, client_id):
        """One API client (admin)."""
        client = db.session.get(clients.ApiClient, client_id)
        if client is None:
            raise NotFound("未找到该 API 客户端")
        return client

    @login_required(ADMIN)
    @blp.response(204)
    def delete(self, client_id):
        """Revoke an API client (admin): the same as POST …/revoke. The row stays, for the logs."""
        clients.revoke(session=db.session, client_id=client_id, revoked_by_id=current_account().id)
        db.session.commit()


@blp.route(f"/api-clients/<{ID}:client_id>/revoke")
class ApiClientRevoke(MethodView):
    @login_required(ADMIN)
    @blp.response(200, ApiClientSchema)
    def post(self, client_id):
        """Revoke an API client (admin): its secret and every token it was given are refused from the
        next call on (401). Revoking twice changes nothing."""
        client = clients.revoke(session=db.session, client_id=client_id, revoked_by_id=current_account().id)
        db.session.commit()
        return client


def _token_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


class OAuthError(DomainError):
    def __init__(self, error: DomainError, oauth_error: str):
        super().__init__(error.message, fields=error.fields, headers=error.headers)
        self.status, self.code, self.oauth_error = error.status, error.code, oauth_error


@blp.route("/auth/token")
class Token(MethodView):
    decorators = [limiter.limit(_token_limit, methods=["POST"])]

    @blp.doc(requestBody={"required": True, "content": {
        "application/json": {"schema": TokenRequestSchema},
        "application/x-www-form-urlencoded": {"schema": TokenRequestSchema}}},
        security=[{}, {"clientBasic": []}])
    @blp.response(200, TokenSchema, headers={name: {"schema": {"type": "string"}} for name in NO_STORE})
    @blp.error(401, "INVALID_CREDENTIALS, plus RFC 6749 §5.2's `error: invalid_client`: unknown client, wrong "
                    "secret, or a revoked client")
    @blp.error(422, "VALIDATION_FAILED, plus `error`: invalid_request, unsupported_grant_type or invalid_scope")
    @blp.error(429, "RATE_LIMITED")
    def post(self):
        """A bearer token for an API client (OAuth 2.0 client credentials, RFC 6749 §4.4): JSON or
        form body, the client's id and secret in it or as HTTP Basic."""
        basic = request.authorization is not None and request.authorization.type == "basic"
        try:
            data = _token_request(basic)
            client = _authenticate(data, basic)
            try:
                token = clients.issue_token(session=db.session, client=client, scope=data.get("scope"))
            except ValidationFailed as error:
                raise OAuthError(error, "invalid_scope") from None
        except OAuthError as error:
            return _oauth_answer(error, basic)
        db.session.commit()
        return token, 200, NO_STORE


def _token_request(basic: bool) -> dict:
    if request.mimetype == "application/x-www-form-urlencoded":
        raw: object = {name: values[0] if len(values) == 1 else values for name, values in request.form.lists()}
    elif request.is_json:
        raw = request.get_json(silent=True)
    elif not request.content_length:
        raw = {}
    else:
        raise OAuthError(ValidationFailed("请使用 application/json 或 application/x-www-form-urlencoded"),
                         "invalid_request")
    if not isinstance(raw, dict):
        raise OAuthError(ValidationFailed("请求体应为 JSON 对象或表单"), "invalid_request")
    try:
        data = TokenRequestSchema().load(raw)
    except ValidationError as error:
        raise OAuthError(ValidationFailed(fields=flatten_messages(error.messages)), "invalid_request") from None
    if data["grant_type"] != "client_credentials":
        raise OAuthError(ValidationFailed("只支持 client_credentials 授权方式",
                                          fields={"grant_type": ["应为 client_credentials"]}), "unsupported_grant_type")
    if basic and ("client_id" in data or "client_secret" in data):
        raise OAuthError(ValidationFailed("客户端凭证只能用一种方式提交（HTTP Basic 或请求体）"), "invalid_request")
    return data


def _authenticate(data: dict, basic: bool) -> clients.ApiClient:
    if basic:
        auth = request.authorization
        client_id, secret = unquote_plus(auth.username or ""), unquote_plus(auth.password or "")
    else:
        client_id, secret = data.get("client_id", ""), data.get("client_secret", "")
        missing = {name: ["必填"] for name in ("client_id", "client_secret") if not data.get(name)}
        if missing:
            raise OAuthError(ValidationFailed(fields=missing), "invalid_request")
    try:
        return clients.authenticate(session=db.session, client_id=client_id, client_secret=secret)
    except DomainError as error:
        raise OAuthError(error, "invalid_client") from None


def _oauth_answer(error: OAuthError, basic: bool):
    body = {"code": error.code, "message": error.message, **({"fields": error.fields} if error.fields else {}),
            "error": error.oauth_error}
    response = jsonify(body)
    response.status_code = error.status
    response.headers.update(NO_STORE)
    if error.status == 401 and basic:
        response.headers["WWW-Authenticate"] = 'Basic realm="onecode"'
    return response

"""Open311 GeoReport v2 endpoints (JSON only), under /open311/v2.

Errors answer in Open311's shape, `[{"code": <HTTP status>, "description": "..."}]`, not the API's
envelope: 400 for bad input (the contract's 422 VALIDATION_FAILED, one entry per field), 403 without a
valid `api_key`, 404 for an unknown request or service, 429 over the rate limit (Retry-After).
"""

from __future__ import annotations

import hashlib

from flask import current_app, jsonify, request
from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, validate
from werkzeug.exceptions import HTTPException

from api import auth, clients, errors
from api.database import SHANGHAI, db
from api.errors import DomainError, Forbidden, NotFound
from api.extensions import Blueprint, limiter
from api.schemas import TIMES, StrictSchema
from complaints import intake
from complaints.models import ComplaintCategory
from complaints.schemas import ComplaintInSchema, IdempotencyHeaderSchema
from exchange import open311

blp = Blueprint("open311", __name__, url_prefix="/open311/v2",
                description="Open311 GeoReport v2 (JSON): complaint categories as services, public request status, "
                            "and intake with an API client's key (scope complaints:write)")


def _answer(status: int, descriptions: list[str], headers: dict | None = None):
    response = jsonify([{"code": status, "description": text} for text in descriptions])
    response.status_code = status
    response.headers.update(headers or {})
    return response


@blp.errorhandler(DomainError)
def _domain_error(error: DomainError):
    status = 400 if error.status == 422 else error.status
    details = [f"{name}: {'；'.join(messages)}" for name, messages in (error.fields or {}).items()]
    return _answer(status, details or [error.message], error.headers)


@blp.errorhandler(HTTPException)
def _http_error(error: HTTPException):
    status = error.code or 500
    status = 400 if status == 422 else status
    headers = {"Retry-After": errors._retry_after(error) or "60"} if status == 429 else None
    return _answer(status, [errors.HTTP_CODES.get(status, ("", error.name))[1]], headers)


OPEN311_ERROR = {"description": "Open311 errors: [{code, description}]", "content": {"application/json": {"schema": {
    "type": "array", "items": {"type": "object", "properties": {"code": {"type": "integer"},
                                                                "description": {"type": "string"}}}}}}}


class ServiceSchema(Schema):
    service_code = fields.String(required=True)
    service_name = fields.String(required=True)
    description = fields.String(required=True)
    metadata = fields.Boolean(required=True, metadata={"description": "true: see services/{service_code}.json"})
    type = fields.String(required=True, metadata={"enum": ["realtime"]})
    keywords = fields.String(required=True)
    group = fields.String(required=True, metadata={"description": "The department that takes it"})


class RequestSchema(Schema):
    service_request_id = fields.String(required=True, metadata={"description": "The tracking number"})
    status = fields.String(required=True, metadata={"enum": ["open", "closed"]})
    service_code = fields.String(required=True)
    service_name = fields.String(required=True)
    agency_responsible = fields.String(required=True)
    requested_datetime = fields.AwareDateTime(required=True)
    updated_datetime = fields.AwareDateTime(required=True)


class RequestListArgs(StrictSchema):
    service_request_id = fields.String(validate=validate.Length(max=30_000),
                                       metadata={"description": "Comma-separated; the other filters are then ignored"})
    service_code = fields.String(validate=validate.Length(max=2000), metadata={"description": "Comma-separated"})
    start_date = fields.AwareDateTime(default_timezone=SHANGHAI, validate=TIMES)
    end_date = fields.AwareDateTime(default_timezone=SHANGHAI, validate=TIMES)
    status = fields.String(validate=validate.Length(max=20), metadata={"description": "open, closed or both"})
    jurisdiction_id = fields.String(validate=validate.Length(max=100), metadata={"description": "Ignored: one jurisdiction"})


_REQUEST_FORM = {"type": "object", "required": ["api_key", "service_code", "description"], "properties": {
    "api_key": {"type": "string", "description": "The secret of an API client with scope complaints:write"},
    "jurisdiction_id": {"type": "string", "description": "Ignored"},
    "service_code": {"type": "string"},
    "description": {"type": "string", "description": "10–2000 characters"},
    "attribute[institution_id]": {"type": "integer"}, "attribute[code_token]": {"type": "string"},
    "attribute[staff_id]": {"type": "integer"},
    "address_string": {"type": "string", "description": "An unlicensed place's address (with attribute[place_name])"},
    "attribute[place_name]": {"type": "string"},
    "first_name": {"type": "string"}, "last_name": {"type": "string"},
    "phone": {"type": "string", "description": "With a name: a named complaint; neither: anonymous"},
    "email": {"type": "string", "description": "Ignored"}, "lat": {"type": "number", "description": "Ignored"},
    "long": {"type": "number", "description": "Ignored"}, "device_id": {"type": "string", "description": "Ignored"},
    "account_id": {"type": "string", "description": "Ignored"}, "media_url": {"type": "string", "description": "Ignored"},
}, "additionalProperties": {"type": "string", "description": "attribute[<field>]: the category's own fields"}}


@blp.route("/services.json")
class Services(MethodView):
    @blp.response(200, ServiceSchema(many=True))
    def get(self):
        """The complaint categories as Open311 services (public)."""
        return [open311.service(category) for category in intake.list_categories(session=db.session)]


@blp.route("/services/<string:service_code>.json")
class ServiceDefinition(MethodView):
    @blp.doc(responses={"404": OPEN311_ERROR})
    def get(self, service_code):
        """A service's own fields as Open311 attributes (public)."""
        category = db.session.get(ComplaintCategory, service_code)
        if category is None or category.retired:
            raise NotFound("未知的服务（投诉类别）")
        return jsonify(open311.definition(category))


def _rate_key() -> str:
    """A valid key's own bucket; anything else counts against the caller's address, so that sending
    made-up keys does not get a fresh bucket each time."""
    key = request.form.get("api_key", "")
    if clients.by_secret(session=db.session, secret=key) is not None:
        return "open311:key:" + hashlib.sha256(key.encode()).hexdigest()
    return "open311:addr:" + (request.remote_addr or "")


@blp.route("/requests.json")
class Requests(MethodView):
    decorators = [limiter.limit(lambda: current_app.config["OPEN311_RATE_LIMIT"], methods=["POST"],
                                key_func=_rate_key)]

    @blp.arguments(RequestListArgs, location="query", as_kwargs=True)
    @blp.response(200, RequestSchema(many=True))
    @blp.doc(responses={"400": OPEN311_ERROR})
    def get(self, jurisdiction_id=None, **filters):
        """Requests (complaints) by id, service, status and date, newest first, at most 1000; without dates
        the last 90 days (public: no description, contact, target or anything identifying)."""
        return open311.public_requests(session=db.session, **filters)

    @blp.doc(requestBody={"required": True, "content": {"application/x-www-form-urlencoded": {"schema": _REQUEST_FORM}}},
             responses={"200": {"description": "[{service_request_id: the tracking number, token: the query code, "
                                               "service_notice, account_id}]"},
                        "400": OPEN311_ERROR, "403": OPEN311_ERROR, "429": OPEN311_ERROR})
    def post(self):
        """File a complaint through the complaint intake (its validation, limits and leads), with an API
        client's secret as `api_key`. The query code comes back as `token`, shown this once."""
        client = clients.by_secret(session=db.session, secret=request.form.get("api_key", ""))
        if client is None:
            raise Forbidden("api_key 无效或已停用")
        request.environ[auth.CALLER] = client.caller  # the access log names the client (api.auth)
        if clients.COMPLAINTS_WRITE not in client.scope_list:
            raise Forbidden("该 API 客户端没有 complaints:write 权限")
        form = {name: value for name, value in request.form.items()}
        category = db.session.get(ComplaintCategory, form.get("service_code", ""))
        types = {field["name"]: field["type"] for field in (category.fields if category else None) or ()}
        try:
            key = IdempotencyHeaderSchema().load(dict(request.headers)).get("idempotency_key")
            data = ComplaintInSchema().load(open311.complaint_data(form, types))
        except ValidationError as error:
            raise errors.ValidationFailed(fields=errors.flatten_messages(error.messages)) from None
        receipt = intake.submit_once(session=db.session, data=data, account_id=None, idempotency_key=key,
                                     secret=current_app.config["SECRET_KEY"]).receipt
        return jsonify([{"service_request_id": receipt["tracking_no"], "token": receipt["query_code"],
                         "service_notice": _notice(receipt),
                         "account_id": None}])


@blp.route("/requests/<string:tracking_no>.json")
class RequestByNumber(MethodView):
    @blp.response(200, RequestSchema(many=True))
    @blp.doc(responses={"404": OPEN311_ERROR})
    def get(self, tracking_no):
        """One request by its tracking number, as a one-element list (public, as the list shows it)."""
        if len(tracking_no) > 24:
            raise NotFound("未找到该请求")
        row = open311.one_request(session=db.session, tracking_no=tracking_no)
        if row is None:
            raise NotFound("未找到该请求")
        return [row]


def _notice(receipt: dict) -> str:
    due = receipt["accept_due_at"]
    when = due.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if hasattr(due, "astimezone") else str(due)
    return f"已提交，将于 {when} 前受理；凭编号和查询码（token）查询办理进度"

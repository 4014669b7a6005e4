"""双公示 endpoints: the penalty feed for the credit platform, and the details a department fills in."""

from __future__ import annotations

from flask import jsonify
from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, validate

from api import clients, spreadsheets
from api.access import ADMIN, REGULATORS, STAFF
from api.auth import current_account, login_required
from api.context import ID, view_context
from api.database import SHANGHAI, db
from api.extensions import Blueprint
from api.models import DEPARTMENTS
from api.schemas import TIMES, StrictSchema, Text
from exchange import penalties

blp = Blueprint("exchange", __name__, url_prefix="/api/v1",
                description="Data out: approved public penalties for the credit platform (双公示)")


class PenaltyExportArgs(StrictSchema):
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "csv", "xlsx")),
                           metadata={"description": "json (default), csv (UTF-8 with BOM) or xlsx"})
    since = fields.AwareDateTime(default_timezone=SHANGHAI, load_default=None, validate=TIMES, metadata={
        "description": "Only rows whose updated_at is strictly after this moment (a time without an offset is "
                       "Beijing time); pass the previous answer's next_since"})


def _described(label: str, field: fields.Field) -> fields.Field:
    field.metadata = {**field.metadata, "description": label}
    return field


_ROW_FIELDS = {
    "id": fields.Integer(required=True), "institution_id": fields.Integer(required=True),
    "decided_on": fields.Date(required=True), "valid_until": fields.Date(required=True),
    "publish_until": fields.Date(required=True), "complete": fields.Boolean(required=True),
    "updated_at": fields.AwareDateTime(required=True),
}
_LABELS = dict((*penalties.FIELDS, *penalties.EXTRA))
PenaltyRowSchema = Schema.from_dict(
    {key: _described(_LABELS[key], _ROW_FIELDS.get(key) or fields.String(required=True)) for key in _LABELS},
    name="PenaltyDisclosure")


class PenaltyFeedSchema(Schema):
    items = fields.List(fields.Nested(PenaltyRowSchema), required=True)
    next_since = fields.AwareDateTime(allow_none=True, metadata={
        "description": "The last row's updated_at: the `since` of the next increment (null: no rows, keep yours)"})


MAX_FINE_YUAN = 999_999_999_999


def _fine_in_range(value) -> None:
    if not 0 <= value <= MAX_FINE_YUAN:
        raise ValidationError(f"应在 0 到 {MAX_FINE_YUAN} 元之间")


class PenaltyDetailsInSchema(StrictSchema):
    department = fields.String(validate=validate.OneOf(list(DEPARTMENTS)), metadata={
        "description": "The 处罚机关: a department on the record (default: the caller's)"})
    violation_type = Text(required=True, max_length=200, metadata={"description": "违法行为类型"})
    facts = Text(required=True, max_length=4000, multiline=True, metadata={"description": "违法事实"})
    basis = Text(required=True, max_length=2000, multiline=True, metadata={"description": "处罚依据"})
    kinds = fields.List(fields.String(validate=validate.OneOf(list(penalties.KINDS))), required=True,
                        validate=validate.Length(min=1, max=len(penalties.KINDS)),
                        metadata={"description": "处罚类别: " + ", ".join(f"{k} {v}" for k, v in penalties.KINDS.items())})
    content = Text(required=True, max_length=2000, multiline=True, metadata={"description": "处罚内容"})
    # The range as a plain validator with numeric bounds in the document: apispec would print a Range's
    # Decimal bounds as strings, which is not valid OpenAPI.
    fine_yuan = fields.Decimal(places=2, allow_none=True,
                               validate=_fine_in_range,
                               metadata={"description": "罚款金额, in yuan (the feed shows 万元)",
                                         "minimum": 0, "maximum": MAX_FINE_YUAN})
    valid_until = fields.Date(allow_none=True, metadata={"description": "处罚有效期; none: 长期 (2099-12-31)"})


class PenaltyDetailsSchema(Schema):
    inspection_id = fields.Integer(required=True)
    department = fields.String(required=True)
    violation_type = fields.String(required=True)
    facts = fields.String(required=True)
    basis = fields.String(required=True)
    kinds = fields.List(fields.String(), required=True)
    content = fields.String(required=True)
    fine_yuan = fields.Decimal(places=2, as_string=True, allow_none=True)
    valid_until = fields.Date(allow_none=True)
    updated_at = fields.AwareDateTime(required=True)


NEXT_SINCE = "X-Next-Since"


@blp.route("/exports/penalties")
class PenaltyExport(MethodView):
    @login_required(*REGULATORS, scopes=(clients.CREDIT_READ,))
    @blp.arguments(PenaltyExportArgs, location="query", as_kwargs=True)
    @blp.doc(responses={"200": {
        "description": "format=json: {items, next_since}; csv or xlsx: the same rows as a file, headed by the "
                       "national field names. Rows changed in the last 5 minutes are held back (they come in a "
                       "later increment). Header X-Next-Since (when there are rows): the next `since`",
        "headers": {NEXT_SINCE: {"description": "The last row's updated_at (ISO 8601): the `since` of the next "
                                                "increment; absent without rows", "schema": {"type": "string"}}},
        "content": {"application/json": {"schema": PenaltyFeedSchema}, spreadsheets.XLSX: {}, "text/csv": {}}}})
    def get(self, format, since):
        """Approved public penalties in the national 行政处罚 disclosure fields (双公示), oldest change first;
        with `since`, only those changed after it (regulators; API clients with credit:read)."""
        items = penalties.rows(session=db.session, today=view_context()["today"], since=since)
        next_since = items[-1]["updated_at"] if items else None
        if format == "json":
            response = jsonify(PenaltyFeedSchema().dump({"items": items, "next_since": next_since}))
        else:
            response = spreadsheets.download("行政处罚双公示", format, "行政处罚", penalties.HEADERS,
                                             penalties.table_rows(items), penalties.WIDTHS)
        if next_since is not None:  # for a file, where the body has no place for it
            response.headers[NEXT_SINCE] = next_since.isoformat()
        return response


@blp.route(f"/inspections/<{ID}:inspection_id>/penalty-details")
class PenaltyDetails(MethodView):
    @login_required(*STAFF, ADMIN)
    @blp.arguments(PenaltyDetailsInSchema)
    @blp.response(200, PenaltyDetailsSchema)
    @blp.error(409, "INVALID_TRANSITION: the record has no approved penalty")
    def put(self, data, inspection_id):
        """The decision's 双公示 details (违法行为类型, 处罚依据, 处罚类别, 处罚内容, 罚款金额, 处罚有效期):
        an officer or supervisor of a department on the record, as its 处罚机关, or an admin."""
        details = penalties.set_details(session=db.session, account=current_account(), inspection_id=inspection_id,
                                        data=data)
        db.session.commit()
        return details

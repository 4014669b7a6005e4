"""Request and response shapes of supervision (API.md, Supervision; leads so far)."""

from __future__ import annotations

from marshmallow import Schema, fields

from api.schemas import Id, OneOf, PageArgs, StrictSchema, Text
from supervision.models import LEAD_STATUSES


class LeadReasonSchema(Schema):
    kind = fields.String(required=True)
    detail = fields.String(required=True)
    at = fields.String(required=True, metadata={"format": "date-time"})


class LeadSchema(Schema):
    id = fields.Integer(required=True)
    institution_id = fields.Integer(allow_none=True, metadata={"description": "null for an unlicensed place"})
    institution_name = fields.String(required=True)
    address = fields.String(allow_none=True)
    unlicensed = fields.Boolean()
    score = fields.Integer(required=True)
    priority = fields.String(metadata={"enum": ["high", "normal"]})
    reasons = fields.List(fields.Nested(LeadReasonSchema), required=True)
    status = fields.String(required=True, metadata={"enum": list(LEAD_STATUSES)})
    opened_at = fields.AwareDateTime()
    closed_at = fields.AwareDateTime(allow_none=True)
    close_note = fields.String(allow_none=True)


class LeadListArgs(PageArgs):
    status = OneOf(LEAD_STATUSES, load_default="open")
    institution_id = Id()
    min_score = fields.Integer(validate=lambda v: 0 <= v <= 100)


class DismissSchema(StrictSchema):
    note = Text(required=True, max_length=1000, multiline=True)


class RefreshResultSchema(Schema):
    institutions = fields.Integer(required=True, metadata={"description": "institutions with new lead reasons"})

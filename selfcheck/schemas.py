"""Request and response shapes of self-inspections and commitments (API.md)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas import Id, Name, OneOf, PageArgs, StrictSchema, Text
from registry.models import CATEGORIES
from selfcheck.models import AREAS, COMMITMENT_STATUSES, FILING_STATUSES, RESULTS, TIERS


class TemplateArgs(StrictSchema):
    category = OneOf(CATEGORIES)


class TemplateItemSchema(StrictSchema):
    code = Text(required=True, max_length=32)
    area = OneOf(AREAS, required=True)
    tier = OneOf(TIERS, required=True)
    text = Text(required=True, max_length=500)
    basis = Text(required=True, max_length=300, metadata={"description": "legal basis"})
    area_name = fields.String(dump_only=True)
    tier_name = fields.String(dump_only=True)


class TemplateInSchema(StrictSchema):
    key = fields.String(required=True, validate=validate.Regexp(r"^[a-z][a-z0-9_]{1,31}$"))
    name = Name(required=True, max_length=100)
    categories = fields.List(OneOf(CATEGORIES), required=True, validate=validate.Length(min=1))
    basis = Text(max_length=200, allow_none=True)
    items = fields.List(fields.Nested(TemplateItemSchema), required=True, validate=validate.Length(min=1, max=300))


class TemplateSchema(Schema):
    id = fields.Integer(required=True)
    key = fields.String(required=True)
    version = fields.Integer(required=True)
    name = fields.String(required=True)
    category = fields.String(required=True)
    categories = fields.List(fields.String())
    basis = fields.String(allow_none=True)
    published_at = fields.AwareDateTime()
    items = fields.List(fields.Nested(TemplateItemSchema), required=True)


class RectificationPlanSchema(StrictSchema):
    plan = Text(required=True, max_length=1000, multiline=True)
    owner = Name(required=True, max_length=50)
    due_date = fields.Date(required=True)


class AnswerInSchema(StrictSchema):
    item_code = Text(required=True, max_length=32)
    result = OneOf(RESULTS, required=True)
    note = Text(max_length=1000, allow_none=True, multiline=True)
    rectification = fields.Nested(RectificationPlanSchema, allow_none=True)


class SelfCheckInSchema(StrictSchema):
    template_id = Id(required=True)
    period = fields.String(required=True, validate=validate.Length(max=7),
                           metadata={"description": "2026-Q4 (routine, quarterly) or 2026 (full, yearly)"})
    answers = fields.List(fields.Nested(AnswerInSchema), required=True, validate=validate.Length(min=1, max=300))
    signer_name = Name(required=True, max_length=50,
                       metadata={"description": "the legal representative or principal on record"})


class RectificationOutSchema(Schema):
    plan = fields.String()
    owner = fields.String()
    due_date = fields.Date()
    done_on = fields.Date(allow_none=True)
    done_note = fields.String(allow_none=True)


class AnswerSchema(Schema):
    item_code = fields.String(required=True)
    area = fields.String()
    tier = fields.String()
    text = fields.String()
    result = fields.String(required=True)
    note = fields.String(allow_none=True)
    rectification = fields.Nested(RectificationOutSchema, allow_none=True)


class SelfCheckSummarySchema(Schema):
    id = fields.Integer(required=True)
    institution_id = fields.Integer(required=True)
    institution_name = fields.String()
    template_id = fields.Integer()
    template_version = fields.Integer()
    period = fields.String(required=True)
    revision = fields.Integer()
    previous_id = fields.Integer(allow_none=True)
    status = fields.String(required=True, metadata={"enum": list(FILING_STATUSES)})
    signer_name = fields.String()
    signer_role = fields.String()
    submitted_at = fields.AwareDateTime()
    non_compliant_count = fields.Integer(required=True)
    veto_count = fields.Integer()
    reviewed_at = fields.AwareDateTime(allow_none=True)
    review_note = fields.String(allow_none=True)


class SelfCheckSchema(SelfCheckSummarySchema):
    answers = fields.List(fields.Nested(AnswerSchema))


class SelfCheckListArgs(PageArgs):
    institution_id = Id(strict=False)
    period = fields.String(validate=validate.Regexp(r"^\d{4}(-Q[1-4])?$"))
    status = OneOf(FILING_STATUSES)
    has_veto = fields.Boolean()


class RectificationInSchema(StrictSchema):
    item_code = Text(required=True, max_length=32)
    done_on = fields.Date(required=True)
    note = Text(required=True, max_length=1000, multiline=True)


class RectificationSchema(Schema):
    item_code = fields.String()
    done_on = fields.Date()
    note = fields.String()
    recorded_at = fields.AwareDateTime()


class ReviewInSchema(StrictSchema):
    decision = OneOf(("accepted", "returned"), required=True)
    note = Text(max_length=1000, allow_none=True, multiline=True)


class CommitmentTextSchema(Schema):
    version = fields.Integer(required=True)
    title = fields.String()
    text = fields.String(required=True)
    sha256 = fields.String(metadata={"description": "SHA-256 of the UTF-8 text: what a signature covers"})


class CommitmentInSchema(StrictSchema):
    version = fields.Integer(required=True, strict=True)
    signer_name = Name(required=True, max_length=50)
    signer_title = Name(required=True, max_length=50)
    agree = fields.Boolean(required=True)


class CommitmentSchema(Schema):
    id = fields.Integer(required=True)
    institution_id = fields.Integer()
    institution_name = fields.String()
    version = fields.Integer()
    status = fields.String(required=True, metadata={"enum": list(COMMITMENT_STATUSES)})
    in_force = fields.Boolean()
    signer_name = fields.String()
    signer_title = fields.String()
    signed_at = fields.AwareDateTime(required=True)
    valid_from = fields.Date(required=True)
    valid_to = fields.Date(required=True)
    text_sha256 = fields.String(required=True)
    breached_at = fields.AwareDateTime(allow_none=True)
    breach_reason = fields.String(allow_none=True)


class CommitmentListArgs(PageArgs):
    institution_id = Id(strict=False)
    status = OneOf(COMMITMENT_STATUSES)


class BreachInSchema(StrictSchema):
    reason = Text(required=True, max_length=1000, multiline=True)

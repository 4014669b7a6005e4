"""Shapes of the public scan profile and the code endpoints (API.md, Codes)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas import Name, StrictSchema, Text
from registry.schemas import CreditSchema


class ImageArgs(StrictSchema):
    format = fields.String(load_default="png", validate=validate.OneOf(["png", "svg"]))
    scale = fields.Integer(load_default=8, validate=validate.Range(min=1, max=40),
                           metadata={"description": "pixels per module (1-40)"})


class PosterArgs(StrictSchema):
    street = Name(required=True, max_length=64, metadata={"description": "街道, as registered on the institutions"})


class RevokeSchema(StrictSchema):
    reason = Text(required=True, max_length=500, multiline=True)


class ScanCountArgs(StrictSchema):
    since = fields.Date(data_key="from", metadata={"description": "default: 30 days ago"})
    until = fields.Date(data_key="to", metadata={"description": "default: today"})


class ScanDaySchema(Schema):
    date = fields.Date()
    count = fields.Integer()


class ScanCountsSchema(Schema):
    token = fields.String()
    total = fields.Integer()
    days = fields.List(fields.Nested(ScanDaySchema))


class InspectionSchema(Schema):
    date = fields.Date()
    result = fields.String()
    summary = fields.String()
    departments = fields.List(fields.String(), metadata={
        "description": "the departments on the record, lead (health) first; several: a joint inspection"})


class PenaltySchema(Schema):
    """A final public violation, or the approved penalty of a public inspection (法制审核 passed)."""

    date = fields.Date()
    decision_no = fields.String(allow_none=True)
    summary = fields.String()


class PublicCommitmentSchema(Schema):
    """The credit commitment in force (信用承诺), if any."""

    version = fields.Integer()
    signer_name = fields.String()
    signer_title = fields.String()
    signed_at = fields.AwareDateTime()
    valid_from = fields.Date()
    valid_to = fields.Date()
    text_sha256 = fields.String()
    document_url = fields.String(metadata={"description": "printable commitment with the institution's code"})


class PublicStaffSchema(Schema):
    name = fields.String()
    role = fields.String()
    title = fields.String(allow_none=True)
    practice_category = fields.String(allow_none=True)
    practice_scope = fields.String(allow_none=True)
    code_url = fields.String(allow_none=True)


class PublicInstitutionSchema(Schema):
    name = fields.String()
    category = fields.String()
    licence_no = fields.String()
    licence_valid_to = fields.Date()
    licence_status = fields.String()
    scope = fields.List(fields.String())
    address = fields.String()
    credit = fields.Nested(CreditSchema)
    commitment = fields.Nested(PublicCommitmentSchema, allow_none=True)
    inspections = fields.List(fields.Nested(InspectionSchema))
    penalties = fields.List(fields.Nested(PenaltySchema))
    staff = fields.List(fields.Nested(PublicStaffSchema))
    staff_count = fields.Integer(metadata={"description": "active staff in all; `staff` lists up to 200"})


class StaffInstitutionSchema(Schema):
    name = fields.String()
    licence_no = fields.String()
    licence_status = fields.String()
    code_url = fields.String(allow_none=True)


class PublicStaffProfileSchema(PublicStaffSchema):
    practice_cert_no = fields.String(allow_none=True)
    status = fields.String()
    institution = fields.Nested(StaffInstitutionSchema)
    credit = fields.Nested(CreditSchema)

    class Meta:
        exclude = ("code_url",)


class ProfileSchema(Schema):
    """`institution` is present for type institution, `staff` for type staff."""

    type = fields.String(metadata={"enum": ["institution", "staff"]})
    token = fields.String()
    colour = fields.String(metadata={"enum": ["green", "yellow", "red"]})
    updated_at = fields.AwareDateTime()
    institution = fields.Nested(PublicInstitutionSchema)
    staff = fields.Nested(PublicStaffProfileSchema)
    complaint_url = fields.String()


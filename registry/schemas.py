"""Request and response shapes of the directory (API.md, Registry)."""

from __future__ import annotations

from flask_smorest.fields import Upload
from marshmallow import Schema, fields, validate

from api.schemas import Name, OneOf, PageArgs, StrictSchema, Text
from registry.models import (
    CATEGORIES,
    INSTITUTION_STATUSES,
    STAFF_ROLES,
    STAFF_STATUSES,
)

GRADES = ("A", "B", "C", "D")


class CodeSchema(StrictSchema):
    token = fields.String(required=True)
    url = fields.String(required=True)
    status = fields.String(required=True, metadata={"enum": ["active", "revoked"]})
    issued_at = fields.AwareDateTime(required=True)
    colour = fields.String(required=True, metadata={"enum": ["green", "yellow", "red"]})
    image_url = fields.String(required=True)


class CreditSchema(StrictSchema):
    grade = fields.String(required=True, metadata={"enum": list(GRADES)})
    points = fields.Integer()
    colour = fields.String(required=True)
    supervision_mode = fields.String(allow_none=True)
    lists = fields.List(fields.String(), required=True)
    graded_risk_level = fields.String(allow_none=True, metadata={
        "enum": ["low", "medium", "high"], "description": "Cosmetic and dental institutions: the quantified "
        "risk level (量化分级); null for others"})


class InstitutionInSchema(StrictSchema):
    name = Name(required=True, max_length=100)
    uscc = Text(required=True, min_length=18, max_length=18,
                metadata={"description": "统一社会信用代码 (GB 32100-2015, checksum-validated)"})
    licence_no = Name(required=True, max_length=64)
    category = OneOf(CATEGORIES, required=True)
    scope = fields.List(Name(max_length=50), validate=validate.Length(max=100),
                        metadata={"description": "诊疗科目"})
    address = Name(required=True, max_length=200)
    street = Name(required=True, max_length=64)
    legal_representative = Name(required=True, max_length=50)
    principal = Name(required=True, max_length=50)
    licence_valid_from = fields.Date(required=True)
    licence_valid_to = fields.Date(required=True)
    phone = Text(allow_none=True, max_length=32,
                 validate=validate.Regexp(r"^[0-9+\-() ]{5,32}$", error="电话号码格式有误"))
    remote_monitoring = fields.Boolean()


class InstitutionPatchSchema(InstitutionInSchema):
    """Loaded with partial=True: send only what changes. `status` (suspend, revoke, close) is the
    regulator's."""

    status = OneOf(INSTITUTION_STATUSES)


class InstitutionSchema(StrictSchema):
    id = fields.Integer(required=True)
    name = fields.String()
    uscc = fields.String()
    licence_no = fields.String()
    category = fields.String()
    scope = fields.List(fields.String())
    address = fields.String()
    street = fields.String()
    legal_representative = fields.String()
    principal = fields.String()
    licence_valid_from = fields.Date()
    licence_valid_to = fields.Date()
    phone = fields.String(allow_none=True)
    remote_monitoring = fields.Boolean()
    status = fields.String(metadata={"enum": list(INSTITUTION_STATUSES)})
    licence_status = fields.String(metadata={"enum": ["valid", "expiring", "expired", "suspended", "revoked"]})
    credit = fields.Nested(CreditSchema)
    code = fields.Nested(CodeSchema, allow_none=True)
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class InstitutionListArgs(PageArgs):
    q = Text(max_length=100, metadata={"description": "name, licence number, USCC or address contains"})
    category = OneOf(CATEGORIES)
    street = Name(max_length=64)
    grade = OneOf(GRADES)


class StaffInSchema(StrictSchema):
    name = Name(required=True, max_length=50)
    role = OneOf(STAFF_ROLES, required=True)
    id_number = Text(required=True, min_length=18, max_length=18,
                     metadata={"description": "居民身份证号 (checksum-validated; never public, masked in answers)"})
    title = Name(allow_none=True, max_length=50)
    qualification_no = Text(allow_none=True, max_length=64)
    practice_cert_no = Text(allow_none=True, max_length=64)
    practice_category = Name(allow_none=True, max_length=50)
    practice_scope = Text(allow_none=True, max_length=500)


class StaffPatchSchema(StaffInSchema):
    """Loaded with partial=True; `status: left` records that the person no longer works there."""

    status = OneOf(STAFF_STATUSES)


class StaffSchema(StrictSchema):
    id = fields.Integer(required=True)
    institution_id = fields.Integer()
    name = fields.String()
    role = fields.String()
    id_number = fields.String(metadata={"description": "masked: first 6 and last 4 characters"})
    title = fields.String(allow_none=True)
    qualification_no = fields.String(allow_none=True)
    practice_cert_no = fields.String(allow_none=True)
    practice_category = fields.String(allow_none=True)
    practice_scope = fields.String(allow_none=True)
    status = fields.String(metadata={"enum": list(STAFF_STATUSES)})
    credit = fields.Nested(CreditSchema)
    code = fields.Nested(CodeSchema, allow_none=True)
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class StaffListArgs(PageArgs):
    status = OneOf(STAFF_STATUSES)



class ImportArgs(StrictSchema):
    dry_run = fields.Boolean(load_default=False, metadata={"description": "validate everything, write nothing"})
    partial = fields.Boolean(load_default=False, metadata={"description": "write the good rows even if some are rejected"})


class ImportFileSchema(Schema):
    file = Upload(required=True, metadata={"description": ".xlsx, or .csv in UTF-8 (BOM or not) or GB18030"})


class RejectedRowSchema(Schema):
    row = fields.Integer(required=True, metadata={"description": "the spreadsheet's own row number (header = 1)"})
    fields_ = fields.Dict(data_key="fields", attribute="fields", keys=fields.String(),
                          values=fields.List(fields.String()), required=True)


class ImportResultSchema(Schema):
    created = fields.Integer(required=True)
    updated = fields.Integer(required=True)
    rejected = fields.List(fields.Nested(RejectedRowSchema), required=True)
    dry_run = fields.Boolean(required=True)
    written = fields.Boolean(metadata={"description": "whether anything was stored"})

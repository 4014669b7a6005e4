"""Request and response shapes of complaints (API.md, Complaints)."""

from __future__ import annotations

from flask_smorest.fields import Upload
from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates,
    validates_schema,
)

from api.database import SHANGHAI, utcnow
from api.models import DEPARTMENTS
from api.schemas import Id, Name, OneOf, PageArgs, StrictSchema, Text
from complaints.models import FINDINGS, REFERRAL_RECIPIENTS, STATUSES
from complaints.service import TRANSITIONS

# The key gets a receipt and its query code back, so it is a secret: long enough not to be guessed.
IDEMPOTENCY_KEY_MIN, IDEMPOTENCY_KEY_MAX = 16, 128
TRACKING_NO = validate.Regexp(r"^TS\d{14,}$", error="受理编号格式不正确")


class TargetSchema(StrictSchema):
    """Exactly one of: {code_token}, {institution_id}, {staff_id}, {name, address} (an unlicensed place)."""

    code_token = Text(max_length=32)
    institution_id = Id()
    staff_id = Id()
    name = Name(max_length=100, metadata={"description": "无证场所名称"})
    address = Name(max_length=200, metadata={"description": "无证场所地址"})

    @validates_schema
    def exactly_one_kind(self, data, **kwargs):
        kinds = [k for k in ("code_token", "institution_id", "staff_id") if k in data]
        place = "name" in data or "address" in data
        if len(kinds) + place != 1:
            raise ValidationError("请指定一个投诉对象：二维码、机构、人员，或无证场所的名称和地址", "_schema")
        if place and not ("name" in data and "address" in data):
            raise ValidationError("无证场所需同时填写名称和地址", "name" if "name" not in data else "address")


class ComplaintInSchema(StrictSchema):
    category = Text(required=True, max_length=32)
    content = Text(required=True, min_length=10, max_length=2000, multiline=True)
    target = fields.Nested(TargetSchema, required=True)
    details = fields.Dict(keys=fields.String(validate=validate.Length(max=50)), load_default=dict,
                          metadata={"description": "The category's own fields (see categories[].fields)"})
    occurred_at = fields.AwareDateTime(default_timezone=SHANGHAI, allow_none=True)
    contact_name = Name(max_length=50, allow_none=True)
    contact_phone = Text(max_length=20, allow_none=True)
    anonymous = fields.Boolean(required=True)

    @validates("occurred_at")
    def not_in_future(self, value, **kwargs):
        if value is not None and value > utcnow():
            raise ValidationError("发生时间不能晚于现在")

    @validates("details")
    def not_too_many(self, value, **kwargs):
        if len(value) > 20:
            raise ValidationError("字段过多")


class IdempotencyHeaderSchema(Schema):
    class Meta:
        unknown = EXCLUDE  # every other header passes

    idempotency_key = fields.String(
        data_key="Idempotency-Key",
        validate=[validate.Length(min=IDEMPOTENCY_KEY_MIN, max=IDEMPOTENCY_KEY_MAX,
                                  error="应为 16–128 个字符，请使用 UUID 等不可猜测的随机值"),
                  validate.Regexp(r"^[\x21-\x7e]*$", error="只能使用可见 ASCII 字符（不含空格）")],
        metadata={"description": (
            "Retry-safe submission: the same key and body answer the first receipt (with its query code) "
            "again. The key is a secret: 16–128 visible ASCII characters that cannot be guessed; send a "
            "new random UUID (uuid4) per complaint. A shorter key answers 422.")},
    )


class ReceiptSchema(Schema):
    tracking_no = fields.String(required=True)
    query_code = fields.String(required=True, metadata={"description": "Shown once; needed to track the case"})
    status = fields.String(required=True)
    department = fields.String(required=True)
    accept_due_at = fields.AwareDateTime(required=True)


class CategoryFieldSchema(Schema):
    name = fields.String(required=True)
    label = fields.String(required=True)
    type = fields.String(required=True, metadata={"enum": ["string", "number", "boolean", "date", "choice"]})
    required = fields.Boolean()
    max_length = fields.Integer()
    min = fields.Float()
    max = fields.Float()
    options = fields.List(fields.Dict())


class CategorySchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    department = fields.String(required=True, metadata={"description": "The department that handles its cases"})
    also_departments = fields.List(fields.String(), metadata={
        "description": "Co-handling departments: they see the cases (as the lead does wherever its cases "
                       "go), only the department holding a case acts on it"})
    serious = fields.Boolean()
    fields_ = fields.List(fields.Nested(CategoryFieldSchema), data_key="fields", attribute="fields")
    retired = fields.Boolean(metadata={
        "description": "No longer taken (listed only with include_retired=true): older cases keep it"})


class CategoryArgs(StrictSchema):
    include_retired = fields.Boolean(load_default=False, metadata={
        "description": "Also list retired categories, to name the category of older cases"})


class TrackArgs(StrictSchema):
    tracking_no = fields.String(required=True, validate=TRACKING_NO)
    query_code = Text(required=True, max_length=20)


class RatingInSchema(StrictSchema):
    query_code = Text(required=True, max_length=20)
    score = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=5))
    comment = Text(max_length=500, allow_none=True, multiline=True)


class RatingSchema(Schema):
    score = fields.Integer(required=True)
    comment = fields.String(allow_none=True)
    at = fields.AwareDateTime()


class PublicEventSchema(Schema):
    status = fields.String(required=True)
    action = fields.String()
    at = fields.AwareDateTime(required=True)
    note = fields.String(allow_none=True)


class TrackingSchema(Schema):
    tracking_no = fields.String(required=True)
    category = fields.String()
    category_name = fields.String()
    status = fields.String(required=True)
    department = fields.String(required=True)
    department_name = fields.String()
    submitted_at = fields.AwareDateTime()
    accept_due_at = fields.AwareDateTime()
    reply_due_at = fields.AwareDateTime(allow_none=True)
    timeline = fields.List(fields.Nested(PublicEventSchema), required=True)
    reply = fields.String(allow_none=True)
    rating = fields.Nested(RatingSchema, allow_none=True)


class UploadFormSchema(StrictSchema):
    query_code = Text(required=True, max_length=20)


class UploadFileSchema(Schema):
    file = Upload(required=True)


class AttachmentSchema(Schema):
    id = fields.Integer(required=True)
    content_type = fields.String(required=True)
    size = fields.Integer(required=True)
    filename = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()


class ActionInSchema(StrictSchema):
    action = OneOf(TRANSITIONS, required=True, metadata={"description": (
        "accept, reject (note), assign (handler_id; supervisors), transfer (department), investigate, "
        "resolve (finding), reply (note), close, extend (days, note), refer (referred_to, referred_to_name?, "
        "referred_on?, reference_no?: records a referral (移送) to the police or the judiciary while the case "
        "stays with its department and status; from accepted, assigned, investigating or resolved)")})
    note = Text(max_length=2000, allow_none=True, multiline=True,
                metadata={"description": "Public: the complainant sees it (for `reply`, it is the reply)"})
    internal_note = Text(max_length=2000, allow_none=True, multiline=True,
                         metadata={"description": "Regulators only"})
    handler_id = Id(allow_none=True)
    department = OneOf(DEPARTMENTS, allow_none=True)
    finding = OneOf(FINDINGS, allow_none=True)
    days = fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=1),  # the most: policy
                          metadata={"description": "extend: days, 1 to the policy's complaints.max_extension_days (30)"})
    referred_to = OneOf(REFERRAL_RECIPIENTS, allow_none=True, metadata={
        "description": "refer: to whom the case is referred (移送): public_security 公安机关, procuratorate "
                       "检察机关, court 人民法院, or other (then name it in referred_to_name)"})
    referred_to_name = Name(max_length=100, allow_none=True, metadata={
        "description": "refer: the receiving body by name (e.g. 济南市公安局历城区分局); required for other"})
    referred_on = fields.Date(allow_none=True, metadata={
        "description": "refer: the date of the referral (default: today in Beijing); not in the future, "
                       "not before the case was submitted"})
    reference_no = Text(max_length=64, allow_none=True, metadata={
        "description": "refer: the referral letter's number (移送书文号); the same body and number once per case"})


class ComplaintListArgs(PageArgs):
    status = OneOf(STATUSES)
    category = Text(max_length=32)
    institution_id = Id(strict=False)
    department = OneOf(DEPARTMENTS)
    overdue = fields.Boolean()


class TargetOutSchema(Schema):
    kind = fields.String(required=True)
    institution_id = fields.Integer(allow_none=True)
    institution_name = fields.String(allow_none=True)
    staff_id = fields.Integer(allow_none=True)
    staff_name = fields.String(allow_none=True)
    name = fields.String(allow_none=True)
    address = fields.String(allow_none=True)


class ComplaintSummarySchema(Schema):
    tracking_no = fields.String(required=True)
    category = fields.String(required=True)
    category_name = fields.String(metadata={"description": "The category's name (a retired category's too)"})
    status = fields.String(required=True)
    department = fields.String(required=True)
    target = fields.Nested(TargetOutSchema)
    content = fields.String()
    anonymous = fields.Boolean()
    handler_id = fields.Integer(allow_none=True)
    submitted_at = fields.AwareDateTime()
    accept_due_at = fields.AwareDateTime()
    reply_due_at = fields.AwareDateTime(allow_none=True)
    overdue = fields.Boolean()
    finding = fields.String(allow_none=True)


class ReferralSchema(Schema):
    referred_to = fields.String(required=True, metadata={"enum": list(REFERRAL_RECIPIENTS)})
    referred_to_name = fields.String(allow_none=True)
    referred_on = fields.Date(required=True)
    reference_no = fields.String(allow_none=True)


class EventSchema(Schema):
    action = fields.String(required=True)
    status = fields.String(required=True)
    department = fields.String()
    at = fields.AwareDateTime(required=True)
    actor_id = fields.Integer(allow_none=True)
    note = fields.String(allow_none=True)
    internal_note = fields.String(allow_none=True)
    referral = fields.Nested(ReferralSchema, metadata={
        "description": "On `refer` entries only: the referral recorded (regulators only)"})


class ContactSchema(Schema):
    name = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)


class ComplaintSchema(ComplaintSummarySchema):
    """The case for a regulator; an institution reading its own resolved case gets a subset."""

    details = fields.Dict()
    occurred_at = fields.AwareDateTime(allow_none=True)
    accepted_at = fields.AwareDateTime(allow_none=True)
    extended_days = fields.Integer(allow_none=True)
    reply = fields.String(allow_none=True)
    replied_at = fields.AwareDateTime(allow_none=True)
    rating = fields.Nested(RatingSchema, allow_none=True)
    closed_at = fields.AwareDateTime(allow_none=True)
    contact = fields.Nested(ContactSchema, allow_none=True,
                            metadata={"description": "Only for the handling department; each read is audited"})
    timeline = fields.List(fields.Nested(EventSchema))
    attachments = fields.List(fields.Nested(AttachmentSchema))

"""Request and response shapes of supervision (API.md, Supervision)."""

from __future__ import annotations

from flask_smorest.fields import Upload
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.models import DEPARTMENTS
from api.schemas import Id, Name, OneOf, PageArgs, StrictSchema, Text
from leads.models import LEAD_STATUSES
from registry.models import CATEGORIES


class LeadReasonSchema(Schema):
    kind = fields.String(required=True)
    detail = fields.String(required=True)
    at = fields.AwareDateTime(required=True)


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
    institution_id = Id(strict=False)
    min_score = fields.Integer(validate=validate.Range(min=0, max=100))


class DismissSchema(StrictSchema):
    note = Text(required=True, max_length=1000, multiline=True)


class RefreshResultSchema(Schema):
    institutions = fields.Integer(required=True, metadata={"description": "institutions with new lead reasons"})


class RuleSchema(Schema):
    code = fields.String(required=True)
    description = fields.String(required=True)
    points = fields.Integer(required=True)
    applies_to = fields.String(required=True, metadata={"enum": ["institution", "staff"]})
    basis = fields.String()


class ViolationInSchema(StrictSchema):
    subject_type = OneOf(("institution", "staff"), required=True)
    subject_id = Id(required=True)
    rule_code = Text(required=True, max_length=16)
    occurred_on = fields.Date(required=True)
    note = Text(max_length=2000, allow_none=True, multiline=True)
    decision_no = Text(max_length=64, allow_none=True, metadata={"description": "行政处罚决定书文号"})
    public = fields.Boolean(required=True)


class ViolationSchema(Schema):
    id = fields.Integer(required=True)
    subject_type = fields.String(required=True)
    subject_id = fields.Integer(required=True)
    institution_id = fields.Integer()
    rule_code = fields.String(required=True)
    description = fields.String()
    points = fields.Integer(required=True)
    occurred_on = fields.Date()
    note = fields.String(allow_none=True)
    decision_no = fields.String(allow_none=True)
    public = fields.Boolean()
    status = fields.String(required=True, metadata={"enum": ["pending", "objected", "final", "cancelled"]})
    recorded_at = fields.AwareDateTime()
    objection_due_at = fields.AwareDateTime(required=True)
    objection_reason = fields.String(allow_none=True)
    objected_at = fields.AwareDateTime(allow_none=True)
    decision_note = fields.String(allow_none=True)
    decided_at = fields.AwareDateTime(allow_none=True)


class ViolationListArgs(PageArgs):
    institution_id = Id(strict=False)
    status = OneOf(("pending", "objected", "final", "cancelled"))
    subject_type = OneOf(("institution", "staff"))


class ObjectionInSchema(StrictSchema):
    reason = Text(required=True, max_length=2000, multiline=True)


class DecisionInSchema(StrictSchema):
    decision = OneOf(("upheld", "cancelled"), required=True)
    note = Text(required=True, max_length=2000, multiline=True)


class CreditHistorySchema(Schema):
    computed_at = fields.AwareDateTime()
    cycle = fields.Integer()
    points = fields.Integer()
    grade = fields.String()
    band = fields.String(allow_none=True)
    risk = fields.String()
    lists = fields.List(fields.String())
    reason = fields.String()


class InstitutionCreditSchema(Schema):
    institution_id = fields.Integer()
    grade = fields.String(required=True)
    points = fields.Integer(required=True)
    colour = fields.String(required=True)
    supervision_mode = fields.String(required=True)
    mode_reason = fields.String(required=True, metadata={
        "description": "Why the mode is what it is: the record over the policy's look-back window, the category, "
                       "the commitment, remote monitoring (zh-CN)"})
    graded_risk_level = fields.String(allow_none=True, metadata={
        "enum": ["low", "medium", "high"], "description": "Cosmetic and dental institutions: the quantified risk "
        "level (量化分级) from the latest inspection, open self-check items and points; null for others"})
    risk_level = fields.String(required=True, metadata={"enum": ["low", "medium", "high"]})
    band = fields.String(allow_none=True, metadata={"enum": ["warning_talk", "key_supervision", "validation_deferred"]})
    lists = fields.List(fields.String(), required=True)
    commitment_valid_to = fields.Date(allow_none=True)
    history = fields.List(fields.Nested(CreditHistorySchema))


RESULTS = ("pass", "rectify", "penalty")


class FindingInSchema(StrictSchema):
    department = OneOf(DEPARTMENTS, required=True)
    item_code = Text(max_length=32, allow_none=True, metadata={"description": "a check item of the record's plan"})
    result = OneOf(RESULTS, required=True)
    note = Text(required=True, max_length=2000, multiline=True)


class InspectionInSchema(StrictSchema):
    institution_id = Id(required=True)
    inspected_on = fields.Date(required=True)
    result = OneOf(RESULTS, allow_none=True, metadata={
        "description": "required without `findings`; with them, if given, the most severe finding"})
    summary = Text(required=True, max_length=2000, multiline=True)
    public = fields.Boolean(required=True)
    departments = fields.List(OneOf(DEPARTMENTS), validate=validate.Length(min=1, max=len(DEPARTMENTS)),
                              allow_none=True, metadata={
                                  "description": "a joint inspection's departments (default: the recorder's, or the "
                                                 "draw's); the recorder's department must be one of them"})
    draw_id = Id(allow_none=True)
    plan_id = Id(allow_none=True, metadata={"description": "default: the draw's plan"})
    inspector_ids = fields.List(Id(), validate=validate.Length(max=30), allow_none=True, metadata={
        "description": "active officers of the departments on the record (default: the draw's team); the "
                       "recorder is always one"})
    findings = fields.List(fields.Nested(FindingInSchema), validate=validate.Length(max=100), allow_none=True)
    decision_no = Text(max_length=64, allow_none=True, metadata={"description": "行政处罚决定书文号"})


class FindingsInSchema(StrictSchema):
    findings = fields.List(fields.Nested(FindingInSchema), required=True, validate=validate.Length(min=1, max=100))


class LegalReviewInSchema(StrictSchema):
    decision = OneOf(("approved", "returned"), required=True)
    note = Text(required=True, max_length=2000, multiline=True)
    decision_no = Text(max_length=64, allow_none=True, metadata={"description": "行政处罚决定书文号 (approved)"})
    finding_ids = fields.List(Id(), validate=validate.Length(min=1, max=100), allow_none=True, metadata={
        "description": "the pending penalty findings reviewed; if they are no longer exactly the pending ones "
                       "(a penalty was added meanwhile), 409 CONFLICT and nothing is decided"})


class FindingSchema(Schema):
    id = fields.Integer(required=True)
    department = fields.String(required=True)
    item_code = fields.String(allow_none=True)
    result = fields.String(required=True, metadata={"enum": list(RESULTS)})
    note = fields.String()
    review = fields.String(allow_none=True, metadata={
        "enum": ["pending", "approved", "returned"], "description": "a penalty's legal review; null otherwise"})
    recorded_by = fields.Integer(allow_none=True)
    recorded_at = fields.AwareDateTime()


class ReviewSchema(Schema):
    decision = fields.String(required=True)
    note = fields.String()
    reviewed_by = fields.Integer(allow_none=True)
    reviewed_at = fields.AwareDateTime()


class InspectorSchema(Schema):
    account_id = fields.Integer(required=True)
    department = fields.String(required=True)


class InspectionRecordSchema(Schema):
    id = fields.Integer(required=True)
    institution_id = fields.Integer(required=True)
    institution_name = fields.String()
    inspected_on = fields.Date(required=True)
    result = fields.String(required=True, allow_none=True, metadata={
        "description": "the most severe finding still standing (null while every finding is returned)"})
    settled_result = fields.String(allow_none=True, metadata={
        "description": "the result as of the last time nothing awaited review: what is public and counts"})
    status = fields.String(required=True, metadata={
        "enum": ["recorded", "pending_review", "returned"],
        "description": "pending_review: a penalty awaits legal review; returned: sent back to the inspectors"})
    summary = fields.String()
    public = fields.Boolean()
    department = fields.String(metadata={"description": "the recorder's (lead) department"})
    departments = fields.List(fields.String(), required=True)
    officer_id = fields.Integer(allow_none=True)
    draw_id = fields.Integer(allow_none=True)
    plan_id = fields.Integer(allow_none=True)
    inspector_ids = fields.List(fields.Integer())
    inspectors = fields.List(fields.Nested(InspectorSchema))
    findings = fields.List(fields.Nested(FindingSchema))
    reviews = fields.List(fields.Nested(ReviewSchema))
    decision_no = fields.String(allow_none=True)
    penalty_approved_at = fields.AwareDateTime(allow_none=True)
    published_at = fields.AwareDateTime(allow_none=True, metadata={"description": "when the result became public"})
    evidence_count = fields.Integer()
    recorded_at = fields.AwareDateTime()


class InspectionListArgs(PageArgs):
    institution_id = Id(strict=False)
    status = OneOf(("recorded", "pending_review", "returned"))
    department = OneOf(DEPARTMENTS, metadata={"description": "records this department is on"})
    plan_id = Id(strict=False)
    draw_id = Id(strict=False)


class ConflictInSchema(StrictSchema):
    institution_id = Id(allow_none=True)
    street = Name(max_length=64, allow_none=True)


class ConflictSchema(Schema):
    id = fields.Integer()
    account_id = fields.Integer()
    institution_id = fields.Integer(allow_none=True)
    street = fields.String(allow_none=True)
    declared_at = fields.AwareDateTime()


class RatiosSchema(StrictSchema):
    A = fields.Float(required=True, validate=validate.Range(min=0, max=1))
    B = fields.Float(required=True, validate=validate.Range(min=0, max=1))
    C = fields.Float(required=True, validate=validate.Range(min=0, max=1))
    D = fields.Float(required=True, validate=validate.Range(min=0, max=1))


class GradedRatiosSchema(StrictSchema):
    """Per quantified risk level of cosmetic and dental institutions; a level left out takes the policy's
    `draws.graded_risk_ratios`."""

    low = fields.Float(validate=validate.Range(min=0, max=1))
    medium = fields.Float(validate=validate.Range(min=0, max=1))
    high = fields.Float(validate=validate.Range(min=0, max=1))


class DrawInSchema(StrictSchema):
    department = OneOf(DEPARTMENTS, metadata={"description": "A single department's draw (onecode-draw-v3)"})
    departments = fields.List(OneOf(DEPARTMENTS), validate=validate.Length(min=2, max=len(DEPARTMENTS)), metadata={
        "description": "A joint draw (onecode-draw-v4) instead of `department`: two or more departments; each "
                       "target's team then has `inspectors_per_target` inspectors of every one of them"})
    plan_id = Id(allow_none=True, metadata={"description": "Draw within this plan's scope (its categories and "
                                                           "streets); the draw's departments must be on the plan"})
    ratios = fields.Nested(RatiosSchema, required=True)
    graded_ratios = fields.Nested(GradedRatiosSchema, load_default=None, metadata={
        "description": "Cosmetic and dental institutions are sampled by their quantified risk level at these "
                       "ratios instead of by grade (default: the policy's, 10% / 30% / 100%)"})
    inspectors_per_target = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=10), metadata={
        "description": "Inspectors per target; in a joint draw, per department of the draw"})
    seed = fields.String(validate=validate.Regexp(r"^[\x21-\x7e]{1,64}$", error="1–64 个可见 ASCII 字符"), allow_none=True)

    @validates_schema
    def _one_kind(self, data, **kwargs):
        if ("department" in data) == ("departments" in data):
            raise ValidationError("请填写 department（单部门抽查）或 departments（联合抽查），二选一", "departments")


class DrawInspectorSchema(Schema):
    account_id = fields.Integer(required=True)
    department = fields.String(required=True)


class DrawTargetSchema(Schema):
    institution_id = fields.Integer(required=True)
    inspector_ids = fields.List(fields.Integer(), required=True)
    inspectors = fields.List(fields.Nested(DrawInspectorSchema), metadata={
        "description": "A joint draw's team, each inspector with its department (absent from single-department draws)"})
    reason = fields.String(required=True)
    status = fields.String(required=True, metadata={
        "enum": ["pending", "inspected"], "description": "inspected once a record names this draw and institution"})
    inspection_id = fields.Integer(allow_none=True, metadata={"description": "the earliest such record"})


class DrawSchema(Schema):
    id = fields.Integer(required=True)
    department = fields.String(metadata={"description": "The drawing department (a joint draw: the drawer's, or the "
                                                        "first of `departments` when an admin drew)"})
    departments = fields.List(fields.String(), metadata={"description": "Every department of the draw"})
    plan_id = fields.Integer(allow_none=True)
    algorithm = fields.String()
    seed = fields.String(required=True)
    drawn_at = fields.AwareDateTime()
    targets = fields.List(fields.Nested(DrawTargetSchema), required=True)
    inputs = fields.Dict(metadata={"description": "everything needed to re-run the draw (docs/draws.md)"})


class ListEntrySchema(Schema):
    institution_id = fields.Integer(required=True)
    institution_name = fields.String(required=True)
    address = fields.String()
    list = fields.String()
    reason = fields.String(required=True)
    listed_at = fields.AwareDateTime(required=True)
    ends_at = fields.AwareDateTime(allow_none=True, metadata={
        "description": "a black listing's term end (policy credit.black_list_term_days after listed_at), unless "
                       "lifted earlier; null on the red and key supervision lists (they last as long as their grounds)"})


class BlackListInSchema(StrictSchema):
    institution_id = Id(required=True)
    reason = Text(required=True, max_length=1000, multiline=True)


class LiftInSchema(StrictSchema):
    reason = Text(required=True, max_length=1000, multiline=True)


# ---- joint supervision: yearly plans (issue 18) ------------------------------------------------------

class PlanItemInSchema(StrictSchema):
    department = OneOf(DEPARTMENTS, required=True)
    code = Text(required=True, max_length=32, metadata={"description": "unique within its department in the plan"})
    text = Text(required=True, max_length=2000, multiline=True)
    basis = Text(max_length=1000, allow_none=True, multiline=True, metadata={"description": "监管依据"})


class PlanInSchema(StrictSchema):
    year = fields.Integer(required=True, strict=True, validate=validate.Range(min=2000, max=2100))
    name = Name(required=True, max_length=200)
    departments = fields.List(OneOf(DEPARTMENTS), required=True, validate=validate.Length(min=1, max=len(DEPARTMENTS)))
    categories = fields.List(OneOf(CATEGORIES), load_default=list, validate=validate.Length(max=len(CATEGORIES)),
                             metadata={"description": "institution categories in scope; none: all"})
    streets = fields.List(Name(max_length=64), load_default=list, validate=validate.Length(max=500),
                          metadata={"description": "streets in scope; none: all"})
    items = fields.List(fields.Nested(PlanItemInSchema), required=True, validate=validate.Length(min=1, max=1000))
    due_on = fields.Date(required=True, metadata={"description": "within the plan's year"})


class PlanItemSchema(Schema):
    department = fields.String(required=True)
    code = fields.String(required=True)
    text = fields.String(required=True)
    basis = fields.String(allow_none=True)


class PlanProgressSchema(Schema):
    institutions = fields.Integer(required=True, metadata={"description": "active institutions in scope"})
    inspected = fields.Integer(required=True, metadata={"description": "of them, inspected at least once under the plan"})
    completion_rate = fields.Float(required=True, metadata={"description": "inspected / institutions, 0–1"})
    penalties = fields.Integer(required=True, metadata={"description": "records under the plan with an approved penalty"})
    closed = fields.Integer(required=True, metadata={
        "description": "inspected institutions none of whose records under the plan awaits legal review or was returned"})
    close_rate = fields.Float(required=True, metadata={"description": "closed / inspected, 0–1"})


class PlanSchema(Schema):
    id = fields.Integer(required=True)
    year = fields.Integer(required=True)
    name = fields.String(required=True)
    departments = fields.List(fields.String(), required=True)
    categories = fields.List(fields.String(), required=True)
    streets = fields.List(fields.String(), required=True)
    due_on = fields.Date(required=True)
    items = fields.List(fields.Nested(PlanItemSchema), required=True)
    created_at = fields.AwareDateTime()
    created_by_id = fields.Integer(allow_none=True)
    progress = fields.Nested(PlanProgressSchema, required=True)


class PlanListArgs(PageArgs):
    year = fields.Integer(validate=validate.Range(min=2000, max=2100))
    department = OneOf(DEPARTMENTS)


# ---- evidence of an inspection (执法全过程记录, issue 18) ------------------------------------------

class EvidenceUploadSchema(Schema):
    file = Upload(required=True, metadata={"description": "JPEG, PNG, PDF or MP4 (decided by content), 50 MB "
                                                          "at most; stored byte for byte"})


class EvidenceRecorderSchema(Schema):
    id = fields.Integer(required=True)
    username = fields.String(required=True)
    department = fields.String(allow_none=True)


class EvidenceSchema(Schema):
    id = fields.Integer(required=True)
    inspection_id = fields.Integer(required=True)
    seq = fields.Integer(required=True, metadata={"description": "1, 2, … within the inspection"})
    sha256 = fields.String(required=True, metadata={
        "description": "the entry's hash: SHA-256 of its canonical serialisation with prev_sha256 (docs/decisions.md)"})
    prev_sha256 = fields.String(required=True, allow_none=True,
                                metadata={"description": "the previous entry's sha256; null for the first"})
    content_sha256 = fields.String(required=True, metadata={"description": "SHA-256 of the file's bytes"})
    media_type = fields.String(required=True, metadata={"enum": ["image/jpeg", "image/png", "application/pdf",
                                                                 "video/mp4"]})
    size = fields.Integer(required=True)
    filename = fields.String(allow_none=True, metadata={"description": "the name the client sent: a label only"})
    recorded_at = fields.AwareDateTime(required=True)
    recorded_by = fields.Nested(EvidenceRecorderSchema, required=True, allow_none=True)


class EvidenceProblemSchema(Schema):
    seq = fields.Integer(required=True, allow_none=True)
    reason = fields.String(required=True, metadata={"enum": [
        "missing_entry", "broken_link", "entry_altered", "file_missing", "file_altered", "count_mismatch",
        "head_mismatch"]})


class EvidenceAnchorSchema(Schema):
    count = fields.Integer(required=True)
    head = fields.String(required=True, allow_none=True)


class EvidenceVerificationSchema(Schema):
    intact = fields.Boolean(required=True)
    entries = fields.Integer(required=True, metadata={"description": "entries stored"})
    anchor = fields.Nested(EvidenceAnchorSchema, required=True,
                           metadata={"description": "what the inspection record says: count and last hash"})
    first_broken_seq = fields.Integer(required=True, allow_none=True)
    reason = fields.String(required=True, allow_none=True)
    problems = fields.List(fields.Nested(EvidenceProblemSchema), required=True)

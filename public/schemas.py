"""Shapes of the public disclosure lists (API.md, Joint supervision: 双随机一公开)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.models import DEPARTMENTS
from api.schemas import Name, OneOf, PageArgs

YEARS = (2000, 2100)  # the years an inspection plan may have (supervision.models.InspectionPlan)


class DisclosureArgs(PageArgs):
    year = fields.Integer(validate=validate.Range(min=YEARS[0], max=YEARS[1]),
                          metadata={"description": "year of the inspection date"})
    department = OneOf(DEPARTMENTS, metadata={"description": "records this department is on"})
    street = Name(max_length=64, metadata={"description": "街道 of the institution, as registered"})


class PublicResultSchema(Schema):
    id = fields.Integer(metadata={"description": "the inspection record"})
    institution_id = fields.Integer()
    institution_name = fields.String()
    street = fields.String()
    inspected_on = fields.Date()
    departments = fields.List(fields.String(), metadata={"description": "the departments on the record (a joint "
                                                                        "inspection has several), by code"})
    result = fields.String(metadata={"description": "pass, rectify or penalty: the most severe finding"})
    summary = fields.String()
    draw_id = fields.Integer(allow_none=True, metadata={"description": "the random draw (双随机) it came from"})
    published_at = fields.AwareDateTime(metadata={"description": "when the result became public"})
    decided_on = fields.Date(metadata={"description": "the decision day, Beijing time: the recording of the "
                                                      "result, or the approval (法制审核) of a penalty"})
    publish_due_on = fields.Date(metadata={"description": "decided_on plus 20 working days: the last day the "
                                                          "result may be published on"})


class PublicPenaltySchema(PublicResultSchema):
    decision_no = fields.String(allow_none=True, metadata={"description": "行政处罚决定书文号"})

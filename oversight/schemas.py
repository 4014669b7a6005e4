"""The stats endpoint's query and answer (API.md, "Oversight and data out")."""

from __future__ import annotations

import datetime as dt

from marshmallow import Schema, fields, validate

from api.models import DEPARTMENTS
from api.schemas import OneOf, StrictSchema, Text
from oversight.stats import ALL_DEPARTMENTS, GROUPS

# Dates the numbers may cover: no record predates the system, and none far in the future is of use.
DATES = validate.Range(min=dt.date(2000, 1, 1), max=dt.date(2100, 12, 31))


class StatsArgs(StrictSchema):
    date_from = fields.Date(data_key="from", validate=DATES,
                            metadata={"description": "Beijing date; default: 1 January of `to`'s year"})
    date_to = fields.Date(data_key="to", validate=DATES, metadata={"description": "Beijing date, included; default: today"})
    department = OneOf([*DEPARTMENTS, ALL_DEPARTMENTS], metadata={
        "description": "default: the caller's own department (officers, supervisors), all (admins and health "
                       "supervisors); another one or `all` only for admins and health supervisors"})
    street = Text(max_length=64, metadata={"description": "the institutions of one street"})
    group_by = OneOf(GROUPS, metadata={"description": "none: `groups` is empty and `total` has the numbers"})
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "xlsx"]),
                           metadata={"description": "xlsx: the monthly report workbook, with charts"})


def _rate(**kwargs):
    return fields.Float(allow_none=True, metadata={"description": "0-1; null when nothing to divide by"}, **kwargs)


class ComplaintNumbersSchema(Schema):
    received = fields.Integer()
    accepted = fields.Integer()
    closed = fields.Integer()
    overdue = fields.Integer()
    on_time_rate = _rate()
    avg_rating = fields.Float(allow_none=True)


class SelfCheckNumbersSchema(Schema):
    due = fields.Integer()
    filed = fields.Integer()
    filing_rate = _rate()
    non_compliant_items = fields.Integer()
    rectified_rate = _rate()


class LeadNumbersSchema(Schema):
    opened = fields.Integer()
    closed = fields.Integer()


class InspectionNumbersSchema(Schema):
    done = fields.Integer()
    penalties = fields.Integer()
    plan_completion_rate = _rate()


class CreditNumbersSchema(Schema):
    A = fields.Integer(allow_none=True)
    B = fields.Integer(allow_none=True)
    C = fields.Integer(allow_none=True)
    D = fields.Integer(allow_none=True)


class ListNumbersSchema(Schema):
    red = fields.Integer(allow_none=True)
    black = fields.Integer(allow_none=True)
    key = fields.Integer(allow_none=True)


class NumbersSchema(Schema):
    complaints = fields.Nested(ComplaintNumbersSchema)
    selfchecks = fields.Nested(SelfCheckNumbersSchema)
    leads = fields.Nested(LeadNumbersSchema)
    inspections = fields.Nested(InspectionNumbersSchema)
    credit = fields.Nested(CreditNumbersSchema, metadata={"description": "now; null per month"})
    lists = fields.Nested(ListNumbersSchema, metadata={"description": "now; null per month"})


class GroupSchema(NumbersSchema):
    key = fields.String(allow_none=True, metadata={
        "description": "a department, street, institution category or YYYY-MM; null: no street or category "
                       "(a complaint or lead about an unlicensed place)"})


class StatsSchema(Schema):
    date_from = fields.Date(data_key="from", attribute="from")
    date_to = fields.Date(data_key="to", attribute="to")
    groups = fields.List(fields.Nested(GroupSchema))
    total = fields.Nested(NumbersSchema)

"""Shared schema pieces: strict base schema, safe text fields (Text, Name), paging."""

from __future__ import annotations

import datetime as dt
import re

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from api import text

MAX_ID = 2**31 - 1
# Times a query may name (since, start_date, ...): no record predates the system and none far ahead is of
# use; it also keeps arithmetic on them (a 90-day default window, a conversion to UTC) from overflowing.
TIMES = validate.Range(min=dt.datetime(2000, 1, 1, tzinfo=dt.UTC), max=dt.datetime(2100, 12, 31, 23, 59, 59, tzinfo=dt.UTC),
                       error="应在 2000 年至 2100 年之间")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_SINGLE_LINE = re.compile(r"[\x00-\x1f\x7f]")


class StrictSchema(Schema):
    """Unknown fields are an error (the contract), not silently dropped."""

    class Meta:
        unknown = RAISE


class Text(fields.String):
    """A trimmed string with a length range, no control characters (PostgreSQL refuses NUL) and nothing
    else XML 1.0 cannot hold (lone surrogates, U+FFFE, U+FFFF: an export carrying one would not open).
    The API's parser refuses those in every request anyway (api/extensions.py); this field keeps the
    rule where schemas are loaded without it: imports, the H5 form."""

    def __init__(self, *, max_length: int, min_length: int = 1, multiline: bool = False, **kwargs):
        self._pattern = _CONTROL if multiline else _CONTROL_SINGLE_LINE
        kwargs.setdefault("validate", validate.Length(min=min_length, max=max_length))
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        found = self._pattern.search(value)
        if found:
            raise ValidationError(text.control(found.group()))
        unstorable = text.unstorable(value)
        if unstorable:
            raise ValidationError(unstorable)
        return value.strip()


class Name(Text):
    """A name: of an institution, a person, a place, an address or a street. Single-line, NFC-normalised
    and trimmed; bidi controls and invisible formatting characters (category Cf, U+2028/2029) refused,
    since a name is shown to the public and printed on posters, and must read as what it is."""

    def __init__(self, *, max_length: int, **kwargs):
        super().__init__(max_length=max_length, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        message = text.invisible(value)
        if message:
            raise ValidationError(message)
        return text.normal_name(value)


def Id(*, strict: bool = True, **kwargs) -> fields.Integer:  # noqa: N802 - reads like a field class
    """A database id: an integer in the range the database can hold; strict (no "12" for 12) in JSON
    bodies, where types are the client's to get right. Query strings are all text: `strict=False`."""
    return fields.Integer(strict=strict, validate=validate.Range(min=1, max=MAX_ID), **kwargs)


def OneOf(choices, **kwargs) -> fields.String:  # noqa: N802
    return fields.String(validate=validate.OneOf(list(choices)), **kwargs)


class PageArgs(StrictSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    page_size = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


def page_schema(item_schema: type[Schema]) -> type[Schema]:
    """{items, page, page_size, total} around a list of `item_schema`."""
    return type(
        f"{item_schema.__name__.removesuffix('Schema')}PageSchema",
        (Schema,),
        {
            "items": fields.List(fields.Nested(item_schema), required=True),
            "page": fields.Integer(required=True),
            "page_size": fields.Integer(required=True),
            "total": fields.Integer(required=True),
        },
    )


def paginate(session, statement, *, page: int, page_size: int) -> dict:
    """Run a select() for one page and count the whole, in two queries."""
    from sqlalchemy import func, select

    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    items = session.scalars(statement.limit(page_size).offset((page - 1) * page_size)).all()
    return {"items": items, "page": page, "page_size": page_size, "total": total}


class PolicySourceSchema(Schema):
    parameter = fields.String(metadata={"description": "section.name, as in the policy file"})
    local = fields.Boolean(metadata={"description": "A local policy parameter: no national or seed text sets it"})
    text = fields.String(allow_none=True, metadata={"description": "The text that sets it, or what the texts say"})


class PolicyVersionSchema(Schema):
    version = fields.Integer()
    effective_from = fields.Date()
    title = fields.String()


class PolicySchema(Schema):
    version = fields.Integer()
    effective_from = fields.Date()
    title = fields.String()
    parameters = fields.Dict(keys=fields.String(), values=fields.Dict(),
                             metadata={"description": "credit, violations, complaints, draws: each parameter's value"})
    sources = fields.List(fields.Nested(PolicySourceSchema))
    versions = fields.List(fields.Nested(PolicyVersionSchema), metadata={"description": "Every version, oldest first"})


class PolicyArgs(StrictSchema):
    on = fields.Date(load_default=None, metadata={"description": "The version in force that day (default today)"})

"""The libraries' validation messages in Chinese, bounds and choices kept; anything else unchanged."""

from __future__ import annotations

import pytest
from marshmallow import Schema, ValidationError, fields, validate

from api.zh_messages import in_chinese


class _Clinic(Schema):
    beds = fields.Integer(required=True, validate=validate.Range(min=0, max=500))
    rating = fields.Float(validate=validate.Range(min=0, min_inclusive=False))
    name = fields.String(validate=validate.Length(max=3))
    kind = fields.String(validate=validate.OneOf(["clinic", "hospital"]))
    opened = fields.Date()
    seen_at = fields.AwareDateTime()
    scopes = fields.List(fields.String(), validate=validate.ContainsOnly(["内科", "外科"]))


def _messages(data: dict) -> dict[str, str]:
    with pytest.raises(ValidationError) as raised:
        _Clinic().load(data)
    return {name: in_chinese(messages[0]) for name, messages in raised.value.messages.items()}


def test_each_message_of_a_typical_schema_is_translated_with_its_numbers_and_choices():
    messages = _messages({"beds": 900, "rating": -1, "name": "仁和诊所", "kind": "spa", "opened": "soon",
                          "seen_at": "2026-01-31T09:30:00", "scopes": ["牙科"], "extra": 1})

    assert messages == {
        "beds": "不能小于 0，且不能大于 500",
        "rating": "应大于 0",
        "name": "长度不能超过 3",
        "kind": "应为以下之一：clinic, hospital",
        "opened": "应为日期，如 2026-01-31",
        "seen_at": "应为带时区的时间，如 2026-01-31T09:30:00+08:00",
        "scopes": "每一项都应为以下之一：内科, 外科",
        "extra": "不接受此字段",
    }


def test_a_missing_field_is_required():
    assert _messages({}) == {"beds": "必填"}


@pytest.mark.parametrize("message", ["请填写投诉内容", "Something the project never says.", ""])
def test_a_message_it_does_not_know_passes_through_unchanged(message):
    assert in_chinese(message) == message

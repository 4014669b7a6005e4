"""marshmallow's and webargs' English validation messages in the contract's language (zh-CN).

The error envelope's field messages reach patients and clinic staff as they are (a mini-program shows
them beside the field). Messages the project writes itself are Chinese already and pass through; so
does anything not recognised here.
"""

from __future__ import annotations

import re

_OPS = {"greater than or equal to": "不能小于", "greater than": "应大于",
        "less than or equal to": "不能大于", "less than": "应小于"}
_OP = "|".join(sorted((re.escape(op) for op in _OPS), key=len, reverse=True))

_FIXED = {
    "Missing data for required field.": "必填",
    "Field may not be null.": "不能为空值（null）",
    "Unknown field.": "不接受此字段",
    "Invalid input type.": "类型不正确",
    "Invalid type.": "类型不正确",
    "Invalid value.": "取值无效",
    "Invalid input.": "取值无效",
    "Invalid JSON body.": "请求体不是有效的 JSON",
    "Not a valid string.": "应为文本",
    "Not a valid utf-8 string.": "应为有效的 UTF-8 文本",
    "Not a valid integer.": "应为整数",
    "Not a valid number.": "应为数字",
    "Number too large.": "数值过大",
    "Special numeric values (nan or infinity) are not permitted.": "不能为 NaN 或无穷大",
    "Not a valid boolean.": "应为 true 或 false",
    "Not a valid date.": "应为日期，如 2026-01-31",
    "Not a valid datetime.": "应为时间，如 2026-01-31T09:30:00+08:00",
    "Not a valid aware datetime.": "应为带时区的时间，如 2026-01-31T09:30:00+08:00",
    "Not a valid naive datetime.": "应为不带时区的时间，如 2026-01-31T09:30:00",
    "Not a valid time.": "应为时刻，如 09:30:00",
    "Not a valid period of time.": "应为时长",
    "Not a valid list.": "应为列表",
    "Not a valid tuple.": "应为列表",
    "Not a valid mapping type.": "应为对象",
    "Not a valid email address.": "邮箱地址格式不正确",
    "Not a valid URL.": "网址格式不正确",
    "Not a valid UUID.": "应为 UUID",
    "String does not match expected pattern.": "格式不正确",
}

_PATTERNS = [
    (re.compile(r"Shorter than minimum length (\d+)\."), lambda m: f"长度不能少于 {m[1]}"),
    (re.compile(r"Longer than maximum length (\d+)\."), lambda m: f"长度不能超过 {m[1]}"),
    (re.compile(r"Length must be between (\d+) and (\d+)\."), lambda m: f"长度应在 {m[1]} 到 {m[2]} 之间"),
    (re.compile(r"Length must be (\d+)\."), lambda m: f"长度应为 {m[1]}"),
    (re.compile(r"Must be one of: (.*)\."), lambda m: f"应为以下之一：{m[1]}"),
    (re.compile(r"One or more of the choices you made was not in: (.*)\."), lambda m: f"每一项都应为以下之一：{m[1]}"),
    (re.compile(rf"Must be ({_OP}) (\S+) and ({_OP}) (\S+)\."),
     lambda m: f"{_OPS[m[1]]} {m[2]}，且{_OPS[m[3]]} {m[4]}"),
    (re.compile(rf"Must be ({_OP}) (\S+)\."), lambda m: f"{_OPS[m[1]]} {m[2]}"),
]


def in_chinese(message: str) -> str:
    """The Chinese for one of the libraries' messages; any other message unchanged."""
    if message in _FIXED:
        return _FIXED[message]
    for pattern, chinese in _PATTERNS:
        found = pattern.fullmatch(message)
        if found:
            return chinese(found)
    return message

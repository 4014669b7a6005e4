"""Hostile text: the characters the API refuses at its edge, and what the writers do with those that
were stored before it did.

Two rules, both in Chinese messages that name the code point (a regulator fixing a spreadsheet can
search for it):
- Nowhere: characters XML 1.0 cannot hold (C0 controls other than tab, LF and CR; lone surrogates;
  U+FFFE and U+FFFF). An .xlsx or an SVG poster carrying one is not well-formed and opens nowhere; a
  lone surrogate cannot even be encoded as UTF-8 for the database; PostgreSQL refuses NUL.
- Not in names (institutions, people, addresses, streets): bidi controls and invisible formatting
  characters (Unicode category Cf: U+200B-200F, U+202A-202E, U+2060-206F, U+FEFF, U+00AD, ...) and
  the line and paragraph separators U+2028/2029. `正规诊所\\u202e所诊黑` displays as something it is not.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
REPLACEMENT = "\ufffd"
_INVISIBLE_CATEGORIES = {"Cf", "Zl", "Zp"}  # every bidi control (U+202A-202E, 2066-2069, 200E/200F, 061C) is Cf


def _is_invisible(character: str) -> bool:
    return unicodedata.category(character) in _INVISIBLE_CATEGORIES


def code_point(character: str) -> str:
    return f"U+{ord(character):04X}"


def unstorable(text: str) -> str | None:
    """The message for the first character of `text` that XML 1.0 (hence .xlsx, SVG) cannot hold."""
    found = XML_FORBIDDEN.search(text)
    if found is None:
        return None
    return control(found.group()) if found.group() < " " else f"不能包含无法保存或导出的字符（{code_point(found.group())}）"


def control(character: str) -> str:
    return f"不能包含控制字符（{code_point(character)}）"


def invisible(text: str) -> str | None:
    """The message for the first bidi control or invisible formatting character of `text`."""
    found = next((character for character in text if _is_invisible(character)), None)
    if found is None:
        return None
    return f"不能包含文字方向控制符或不可见字符（{code_point(found)}）"


def unstorable_in(data, path: str = "") -> dict[str, list[str]]:
    """{"a.b.0.c": [message]} for every string in a loaded JSON body, query string, form or header
    set (keys included) that holds a character XML 1.0 cannot hold."""
    problems: dict[str, list[str]] = {}
    if isinstance(data, Mapping):
        for key, value in data.items():
            name = xml_safe(str(key))
            where = f"{path}.{name}" if path else name
            message = unstorable(str(key))
            if message:
                problems.setdefault(where, []).append(message)
            problems.update(unstorable_in(value, where))
    elif isinstance(data, list | tuple):
        for index, value in enumerate(data):
            problems.update(unstorable_in(value, f"{path}.{index}" if path else str(index)))
    elif isinstance(data, str):
        message = unstorable(data)
        if message:
            problems[path or "_schema"] = [message]
    return problems


def xml_safe(text: str) -> str:
    """`text` with every character XML 1.0 cannot hold replaced by U+FFFD: what a writer of .xlsx or SVG
    puts out for data stored before these characters were refused."""
    return XML_FORBIDDEN.sub(REPLACEMENT, text)


def plain(text: str) -> str:
    """`text` without bidi controls and invisible characters: for file names and printed names made
    from data stored before they were refused."""
    return "".join(character for character in text if not _is_invisible(character))


def normal_name(text: str) -> str:
    """A name as stored: NFC, trimmed."""
    return unicodedata.normalize("NFC", text).strip()

"""The dashboard's charts as geometry: rectangles, lines and texts in a viewBox, for a template to
draw as inline SVG (oversight/templates/oversight/_chart.html, which escapes every text).

Nothing here knows HTML or SVG syntax: a chart is numbers and strings, so it can be tested as data and
the template cannot be handed markup by accident. Sizes are in viewBox units; the page scales the
SVG to its width (a laptop's column or a phone's screen).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

INK, MUTED, GRID = "#1f2328", "#59636e", "#d0d7de"
BAR = "#0969da"
# The codes' colours (API.md, Codes) for grades A and C/D, and a blue for B: each 4.5:1 or more on white.
GRADE_COLOURS = {"A": "#1a7f37", "B": "#0969da", "C": "#9a6700", "D": "#cf222e"}
WIDTH = 420


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    fill: str
    title: str  # the bar's own text (a tooltip, and read by screen readers)


@dataclass(frozen=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float


@dataclass(frozen=True)
class Text:
    x: float
    y: float
    text: str
    anchor: str = "middle"  # start, middle, end
    kind: str = "label"  # label (axis), value (a bar's number), note (no data)


@dataclass(frozen=True)
class Chart:
    key: str  # the id prefix of its <title> and <desc>
    title: str
    desc: str  # every value as a sentence: the chart's text equivalent
    width: float
    height: float
    rects: list[Rect] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    texts: list[Text] = field(default_factory=list)


@dataclass(frozen=True)
class Item:
    label: str
    value: float | None  # None: nothing to show (a rate with nothing to divide by)
    text: str  # the value as the page shows it ("12", "85.0%", "无应自查")
    colour: str = BAR


def percent(rate: float | None, *, none: str = "—") -> str:
    return none if rate is None else f"{rate * 100:.1f}%"


def _scale(top: float) -> tuple[float, float]:
    """A round maximum for an axis of counts and its step (about four steps; whole numbers)."""
    if top <= 0:
        return 4, 1
    raw = top / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    step = max(1.0, math.ceil(step))
    return math.ceil(top / step) * step, step


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def columns(key: str, title: str, items: Sequence[Item], *, unit: str, height: float = 240) -> Chart:
    """Vertical bars of counts (complaints per month, institutions per grade), an axis with round
    steps; values written above the bars while they fit, the category under every n-th bar."""
    left, right, top, bottom = 40, 8, 22, 30
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    maximum, step = _scale(max((item.value or 0 for item in items), default=0))
    chart = Chart(key, title, _sentence(title, items, unit), WIDTH, height)
    base = top + plot_h
    ticks = int(round(maximum / step))
    for index in range(ticks + 1):
        y = base - plot_h * index / ticks
        chart.lines.append(Line(left, y, WIDTH - right, y))
        chart.texts.append(Text(left - 6, y + 4, _number(step * index), "end"))
    slot = plot_w / max(len(items), 1)
    every = max(1, math.ceil(len(items) / 12))
    for index, item in enumerate(items):
        value = item.value or 0
        bar_h = plot_h * value / maximum
        x = left + slot * index + slot * 0.15
        centre = left + slot * (index + 0.5)
        chart.rects.append(Rect(x, base - bar_h, slot * 0.7, bar_h, item.colour, f"{item.label}：{item.text}{unit}"))
        if len(items) <= 24:
            chart.texts.append(Text(centre, base - bar_h - 5, item.text, kind="value"))
        if index % every == 0:
            chart.texts.append(Text(centre, base + 18, item.label))
    return chart


def rows(key: str, title: str, items: Sequence[Item], *, label_width: float = 112, row: float = 30) -> Chart:
    """Horizontal bars of rates, 0 to 100% (filing rate by street): the name on the left, the rate at
    the end of its bar; a row without a rate says so in words."""
    right, top, bottom = 56, 8, 26
    plot_w = WIDTH - label_width - right
    height = top + row * max(len(items), 1) + bottom
    chart = Chart(key, title, _sentence(title, items, ""), WIDTH, height)
    base = top + row * max(len(items), 1)
    for tick in range(5):
        x = label_width + plot_w * tick / 4
        chart.lines.append(Line(x, top, x, base))
        chart.texts.append(Text(x, base + 18, f"{tick * 25}%"))
    for index, item in enumerate(items):
        y = top + row * index
        chart.texts.append(Text(label_width - 8, y + row / 2 + 5, _short(item.label), "end"))
        if item.value is None:
            chart.texts.append(Text(label_width + 6, y + row / 2 + 5, item.text, "start", "note"))
            continue
        bar_w = plot_w * min(max(item.value, 0), 1)
        chart.rects.append(Rect(label_width, y + row * 0.2, bar_w, row * 0.6, item.colour, f"{item.label}：{item.text}"))
        chart.texts.append(Text(label_width + bar_w + 5, y + row / 2 + 5, item.text, "start", "value"))
    if not items:
        chart.texts.append(Text(label_width + 6, top + row / 2 + 5, "本期无数据", "start", "note"))
    return chart


def _short(label: str, limit: int = 7) -> str:
    """A long street name cut to fit beside its bar (the table and the bar's title give it whole)."""
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _sentence(title: str, items: Sequence[Item], unit: str) -> str:
    if not items:
        return f"{title}：本期无数据。"
    return f"{title}：" + "；".join(f"{item.label} {item.text}{unit if item.value is not None else ''}"
                                   for item in items) + "。"

"""Charts as inline SVG for the dashboard: pure functions from numbers to markup.

No script and no external asset: each chart is one ``<svg class="chart" role="img"
aria-label="...">`` sized by its ``viewBox`` (the page's CSS scales it to the column's
width), with a ``<title>`` on every mark for a hover tooltip. Every piece of text that
comes in is escaped here, so the result may go into a page as it is.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from typing import TypeGuard

Fmt = Callable[[float], str]

INK = "#1d2330"
MUTED = "#5b6475"
GRID = "#e3e6ee"
ACCENT = "#2f62c8"
BAND = "#2f62c8"
WARN = "#c2410c"
PALETTE = ("#2f62c8", "#15803d", "#7e22ce", "#0e7490", "#a16207", "#475569", "#db2777", "#4d7c0f")
FONT = 12
CHAR = 7.0  # the width of an average character at FONT, for laying out labels


def plain(v: float) -> str:
    """A number as people read it: no more digits than its size needs."""
    if math.isnan(v):
        return "–"
    if abs(v) >= 100 or float(v).is_integer():
        return f"{v:,.0f}"
    return f"{v:,.1f}" if abs(v) >= 10 else f"{v:,.2f}"


def percent(v: float) -> str:
    """A share (0-1) as a percentage (a decimal where a whole number would round)."""
    if math.isnan(v):
        return "–"
    pct = 100 * v
    return f"{pct:.0f}%" if abs(pct - round(pct)) < 0.05 else f"{pct:.1f}%"


def whole_percent(v: float) -> str:
    """A share (0-1) as a whole percentage."""
    return "–" if math.isnan(v) else f"{100 * v:.0f}%"


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _n(v: float) -> str:
    """A coordinate: short, and never an exponent."""
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _clip(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: chars - 1].rstrip() + "…"


def _svg(label: str, width: float, height: float, body: Sequence[str], kind: str) -> str:
    return (
        f'<svg class="chart" role="img" aria-label="{_e(label)}" data-kind="{_e(kind)}" '
        f'viewBox="0 0 {_n(width)} {_n(height)}" width="{_n(width)}" height="{_n(height)}" '
        f'preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg" '
        f'font-family="system-ui, sans-serif" font-size="{FONT}">'
        f"<title>{_e(label)}</title>{''.join(body)}</svg>"
    )


def _text(
    x: float,
    y: float,
    text: str,
    *,
    anchor: str = "start",
    fill: str = INK,
    size: int = FONT,
    weight: str = "",
) -> str:
    extra = f' font-weight="{weight}"' if weight else ""
    return (
        f'<text x="{_n(x)}" y="{_n(y)}" text-anchor="{anchor}" fill="{fill}" '
        f'font-size="{size}"{extra}>{_e(text)}</text>'
    )


def _empty(label: str, width: float, message: str) -> str:
    body = [_text(width / 2, 34, message, anchor="middle", fill=MUTED)]
    return _svg(label, width, 56, body, "empty")


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (about ``count`` of them)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0, 1.0]
    if high <= low:
        low, high = low - 1, high + 1
    raw = (high - low) / max(1, count - 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.floor(low / step) * step
    ticks = []
    v = start
    while v < high + step * 0.999:
        ticks.append(round(v, 10))
        v += step
    return ticks


@dataclass(frozen=True)
class Point:
    """One x position of a line chart: its label, value and optional interval."""

    label: str
    value: float | None
    low: float | None = None
    high: float | None = None
    note: str = ""  # more for the tooltip (e.g. "n 112")


def _finite(v: float | None) -> TypeGuard[float]:
    return v is not None and math.isfinite(v)


def line_chart(
    points: Sequence[Point],
    *,
    label: str,
    fmt: Fmt = plain,
    y_min: float | None = None,
    y_max: float | None = None,
    reference: float | None = None,
    band_label: str = "95% interval",
    width: float = 540,
    height: float = 220,
) -> str:
    """A line over categories (periods), with a shaded band where points carry
    ``low``/``high`` and a dashed ``reference`` line (e.g. zero)."""
    if not any(_finite(p.value) for p in points):
        return _empty(label, width, "no data yet")
    left, right, top, bottom = 52.0, 30.0, 14.0, 34.0
    values = [v for p in points for v in (p.value, p.low, p.high) if _finite(v)]
    if reference is not None:
        values.append(reference)
    lo = min(values) if y_min is None else y_min
    hi = max(values) if y_max is None else y_max
    ticks = nice_ticks(lo, hi)
    lo, hi = min(ticks[0], lo), max(ticks[-1], hi)
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / max(1, len(points) - 1) if len(points) > 1 else 0.0

    def x(i: int) -> float:
        return left + (i * step if len(points) > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top + plot_h * (1 - (v - lo) / (hi - lo))

    body: list[str] = []
    for t in ticks:
        body.append(
            f'<line x1="{_n(left)}" x2="{_n(width - right)}" y1="{_n(y(t))}" y2="{_n(y(t))}" '
            f'stroke="{GRID}"/>'
        )
        body.append(_text(left - 6, y(t) + 4, fmt(t), anchor="end", fill=MUTED))
    if reference is not None:
        body.append(
            f'<line x1="{_n(left)}" x2="{_n(width - right)}" y1="{_n(y(reference))}" '
            f'y2="{_n(y(reference))}" stroke="{MUTED}" stroke-dasharray="4 3"/>'
        )
    every = max(1, math.ceil(len(points) / 12))
    for i, p in enumerate(points):
        if i % every == 0 or i == len(points) - 1:
            body.append(_text(x(i), height - 12, p.label, anchor="middle", fill=MUTED))
    # the band and the line, broken where a value is missing
    segments: list[list[int]] = [[]]
    for i, p in enumerate(points):
        if _finite(p.value):
            segments[-1].append(i)
        elif segments[-1]:
            segments.append([])
    for seg in segments:
        banded = [i for i in seg if _finite(points[i].low) and _finite(points[i].high)]
        if len(banded) > 1:
            upper = [f"{_n(x(i))},{_n(y(points[i].high or 0.0))}" for i in banded]
            lower = [f"{_n(x(i))},{_n(y(points[i].low or 0.0))}" for i in reversed(banded)]
            body.append(
                f'<polygon points="{" ".join(upper + lower)}" fill="{BAND}" '
                f'fill-opacity="0.14"><title>{_e(band_label)}</title></polygon>'
            )
        if len(seg) > 1:
            path = " ".join(f"{_n(x(i))},{_n(y(points[i].value or 0.0))}" for i in seg)
            body.append(
                f'<polyline points="{path}" fill="none" stroke="{ACCENT}" stroke-width="2.2"/>'
            )
    for i, p in enumerate(points):
        if not _finite(p.value):
            continue
        tip = f"{p.label}: {fmt(p.value)}"
        if _finite(p.low) and _finite(p.high):
            tip += f" ({fmt(p.low or 0.0)} to {fmt(p.high or 0.0)})"
        if p.note:
            tip += f", {p.note}"
        body.append(
            f'<circle cx="{_n(x(i))}" cy="{_n(y(p.value))}" r="3.5" fill="{ACCENT}">'
            f"<title>{_e(tip)}</title></circle>"
        )
    return _svg(label, width, height, body, "line")


def bar_chart(
    items: Sequence[tuple[str, float]],
    *,
    label: str,
    fmt: Fmt = plain,
    color: str = ACCENT,
    width: float = 540,
    height: float = 220,
) -> str:
    """Vertical bars, one per category, each with its value on top."""
    if not items:
        return _empty(label, width, "nothing to show")
    left, right, top, bottom = 52.0, 12.0, 18.0, 34.0
    hi = max(0.0, *(v for _, v in items))
    ticks = nice_ticks(0.0, hi if hi > 0 else 1.0)
    hi = max(ticks[-1], hi)
    plot_w, plot_h = width - left - right, height - top - bottom
    slot = plot_w / len(items)
    bar = min(64.0, slot * 0.7)
    body: list[str] = []
    for t in ticks:
        yy = top + plot_h * (1 - t / hi)
        body.append(
            f'<line x1="{_n(left)}" x2="{_n(width - right)}" y1="{_n(yy)}" y2="{_n(yy)}" '
            f'stroke="{GRID}"/>'
        )
        body.append(_text(left - 6, yy + 4, fmt(t), anchor="end", fill=MUTED))
    chars = max(4, int(slot / CHAR))
    for i, (name, value) in enumerate(items):
        h = plot_h * max(0.0, value) / hi
        cx = left + slot * (i + 0.5)
        body.append(
            f'<rect x="{_n(cx - bar / 2)}" y="{_n(top + plot_h - h)}" width="{_n(bar)}" '
            f'height="{_n(max(h, 0.5))}" fill="{color}" rx="2">'
            f"<title>{_e(f'{name}: {fmt(value)}')}</title></rect>"
        )
        body.append(_text(cx, top + plot_h - h - 4, fmt(value), anchor="middle"))
        body.append(_text(cx, height - 12, _clip(name, chars), anchor="middle", fill=MUTED))
    return _svg(label, width, height, body, "bars")


@dataclass(frozen=True)
class Bar:
    """One row of a horizontal bar chart."""

    label: str
    value: float
    note: str = ""  # shown after the value (e.g. "62% negative")
    href: str = ""  # the row links here (a relative address)
    warn: bool = False  # drawn in the warning colour


def hbar_chart(
    items: Sequence[Bar],
    *,
    label: str,
    fmt: Fmt = plain,
    scale: float | None = None,
    width: float = 540,
    label_chars: int = 30,
) -> str:
    """Horizontal bars: a label on the left, the bar, its value (and note) after it."""
    if not items:
        return _empty(label, width, "nothing to show")
    notes = max(len(fmt(b.value)) + len(b.note) for b in items)
    row, label_w, value_w = 24.0, CHAR * label_chars + 10, 8 * notes + 28
    height = row * len(items) + 8
    top = max([scale or 0.0] + [b.value for b in items]) or 1.0
    room = width - label_w - value_w
    body: list[str] = []
    for i, b in enumerate(items):
        y = 4 + row * i
        w = max(1.5, room * max(0.0, b.value) / top)
        tip = f"{b.label}: {fmt(b.value)}" + (f", {b.note}" if b.note else "")
        shown = [
            _text(0, y + 14, _clip(b.label, label_chars)),
            f'<rect x="{_n(label_w)}" y="{_n(y + 2)}" width="{_n(w)}" height="16" '
            f'fill="{WARN if b.warn else ACCENT}" rx="2"><title>{_e(tip)}</title></rect>',
            _text(label_w + w + 6, y + 14, fmt(b.value), weight="600"),
        ]
        if b.note:
            shown.append(
                _text(label_w + w + 16 + 8 * len(fmt(b.value)), y + 14, b.note, fill=MUTED)
            )
        if b.href:
            body.append(f'<a href="{_e(b.href)}">{"".join(shown)}</a>')
        else:
            body.extend(shown)
    return _svg(label, width, height, body, "hbars")


@dataclass(frozen=True)
class Interval:
    """A headline figure with its 95% interval, on its own scale, and a reference value
    (e.g. the weeks before) to compare with."""

    label: str
    value: float
    low: float
    high: float
    scale_low: float
    scale_high: float
    reference: float | None = None
    reference_label: str = "before"
    note: str = ""


def interval_chart(rows: Sequence[Interval], *, label: str, width: float = 540) -> str:
    """One line per figure: its scale, the interval as a bar, the value as a dot and the
    reference as a tick; each figure on its own scale (NPS -100..100, CES 1..7 …)."""
    if not rows:
        return _empty(label, width, "no answers in this window")
    row, label_w, right = 40.0, 160.0, 100.0
    height = row * len(rows) + 6
    span = width - label_w - right
    body: list[str] = []
    for i, r in enumerate(rows):
        y = 10 + row * i
        mid = y + 10
        lo, hi = r.scale_low, r.scale_high
        if hi <= lo:
            hi = lo + 1

        def x(v: float, lo: float = lo, hi: float = hi) -> float:
            return label_w + span * (min(max(v, lo), hi) - lo) / (hi - lo)

        body.append(_text(0, mid + 4, _clip(r.label, int((label_w - 8) / CHAR))))
        body.append(
            f'<line x1="{_n(label_w)}" x2="{_n(label_w + span)}" y1="{_n(mid)}" '
            f'y2="{_n(mid)}" stroke="{GRID}" stroke-width="6" stroke-linecap="round"/>'
        )
        body.append(_text(label_w, mid + 20, plain(lo), anchor="start", fill=MUTED, size=10))
        body.append(_text(label_w + span, mid + 20, plain(hi), anchor="end", fill=MUTED, size=10))
        if all(math.isfinite(v) for v in (r.low, r.high)):
            tip = f"95% interval {plain(r.low)} to {plain(r.high)}"
            body.append(
                f'<rect x="{_n(x(r.low))}" y="{_n(mid - 5)}" '
                f'width="{_n(max(1.0, x(r.high) - x(r.low)))}" height="10" fill="{BAND}" '
                f'fill-opacity="0.25" rx="3"><title>{_e(tip)}</title></rect>'
            )
        if r.reference is not None and math.isfinite(r.reference):
            rx = x(r.reference)
            body.append(
                f'<line x1="{_n(rx)}" x2="{_n(rx)}" y1="{_n(mid - 9)}" y2="{_n(mid + 9)}" '
                f'stroke="{MUTED}" stroke-width="2">'
                f"<title>{_e(f'{r.reference_label}: {plain(r.reference)}')}</title></line>"
            )
        if math.isfinite(r.value):
            body.append(
                f'<circle cx="{_n(x(r.value))}" cy="{_n(mid)}" r="5" fill="{ACCENT}">'
                f"<title>{_e(f'{r.label}: {plain(r.value)}')}</title></circle>"
            )
        text = plain(r.value) + (f" ({r.note})" if r.note else "")
        body.append(_text(label_w + span + 10, mid + 4, text, weight="600"))
    return _svg(label, width, height, body, "intervals")


@dataclass(frozen=True)
class Mark:
    """One event on a lane chart."""

    at: datetime
    lane: str
    tip: str
    warn: bool = False


def lane_chart(marks: Sequence[Mark], *, label: str, width: float = 1120) -> str:
    """Events in time order, one lane per department (a swimlane timeline)."""
    if not marks:
        return _empty(label, width, "no events")
    lanes = list(dict.fromkeys(m.lane for m in sorted(marks, key=lambda m: m.at)))
    row, label_w, right, top = 26.0, 110.0, 16.0, 8.0
    height = top + row * len(lanes) + 30
    first = min(m.at for m in marks)
    span = max((max(m.at for m in marks) - first).total_seconds(), 86400.0)
    plot_w = width - label_w - right

    def x(at: datetime) -> float:
        return label_w + plot_w * (at - first).total_seconds() / span

    body: list[str] = []
    for i, lane in enumerate(lanes):
        y = top + row * i + row / 2
        body.append(_text(0, y + 4, _clip(lane, 16), fill=MUTED))
        body.append(
            f'<line x1="{_n(label_w)}" x2="{_n(width - right)}" y1="{_n(y)}" y2="{_n(y)}" '
            f'stroke="{GRID}"/>'
        )
    axis_y = top + row * len(lanes) + 16
    for k in range(5):
        at = first + timedelta(seconds=span * k / 4)
        anchor = "start" if k == 0 else "end" if k == 4 else "middle"
        body.append(_text(label_w + plot_w * k / 4, axis_y, at.strftime("%Y-%m-%d"), anchor=anchor))
    for m in marks:
        i = lanes.index(m.lane)
        color = WARN if m.warn else PALETTE[i % len(PALETTE)]
        ring = f' stroke="{INK}" stroke-width="1.2"' if m.warn else ""
        body.append(
            f'<circle cx="{_n(x(m.at))}" cy="{_n(top + row * i + row / 2)}" '
            f'r="{6 if m.warn else 4.5}" fill="{color}" fill-opacity="0.8"{ring}>'
            f"<title>{_e(m.tip)}</title></circle>"
        )
    return _svg(label, width, height, body, "lanes")

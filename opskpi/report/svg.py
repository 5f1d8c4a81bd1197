"""Tiny inline-SVG charts in pure Python: lines (with threshold lines), bars and stacked areas.

Every chart is one `<svg>` element with a viewBox (it scales to its container), a `<title>` for screen
readers and no external reference: no fonts, images, scripts or links. Every text is escaped here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

PALETTE = ("#2563eb", "#d97706", "#059669", "#7c3aed", "#dc2626", "#0891b2", "#4b5563", "#be185d")
SEVERITY_COLOURS = {"critical": "#991b1b", "high": "#dc2626", "medium": "#f59e0b", "low": "#fcd34d"}
PROVISIONAL_FILL = "#e5e7eb"
PROVISIONAL_LABEL = "provisional"


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    colour: str = PALETTE[0]
    dashed: bool = False


@dataclass(frozen=True)
class Threshold:
    name: str
    value: float
    colour: str = "#dc2626"


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def nice_ticks(lo: float, hi: float, count: int = 4) -> list[float]:
    """About `count` round tick values covering [lo, hi]."""
    if hi <= lo:
        hi = lo + (abs(lo) * 0.01 or 1.0)
    raw = (hi - lo) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(lo / step) * step
    ticks = []
    value = first
    while value <= hi + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < hi:
        ticks.append(round(value, 10))
    return ticks


class _Frame:
    """Plot area geometry and the value -> pixel mapping."""

    def __init__(self, n: int, lo: float, hi: float, width: int, height: int, left: int = 56):
        self.n, self.lo, self.hi = n, lo, hi
        self.width, self.height = width, height
        self.left, self.right, self.top, self.bottom = left, 12, 26, 24

    @property
    def plot_w(self) -> float:
        return self.width - self.left - self.right

    @property
    def plot_h(self) -> float:
        return self.height - self.top - self.bottom

    def x(self, i: int) -> float:
        if self.n <= 1:
            return self.left + self.plot_w / 2
        return self.left + self.plot_w * i / (self.n - 1)

    def slot(self) -> float:
        return self.plot_w / max(self.n, 1)

    def y(self, value: float) -> float:
        span = (self.hi - self.lo) or 1.0
        clipped = min(max(value, self.lo), self.hi)
        return self.top + self.plot_h * (1 - (clipped - self.lo) / span)


def _open(title: str, width: int, height: int, css_class: str) -> list[str]:
    return [f'<svg class="{css_class}" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="{escape(title)}" preserveAspectRatio="xMidYMid meet">',
            f"<title>{escape(title)}</title>"]


def _axes(frame: _Frame, ticks: Sequence[float], y_format: Callable[[float], str],
          x_labels: Sequence[str]) -> list[str]:
    out = []
    for tick in ticks:
        y = frame.y(tick)
        out.append(f'<line class="grid" x1="{frame.left}" x2="{frame.width - frame.right}" '
                   f'y1="{y:.1f}" y2="{y:.1f}"/>')
        out.append(f'<text class="tick" x="{frame.left - 6}" y="{y + 4:.1f}" text-anchor="end">'
                   f"{escape(y_format(tick))}</text>")
    if x_labels:
        picks = sorted({0, len(x_labels) // 2, len(x_labels) - 1}) if len(x_labels) > 2 else range(len(x_labels))
        for i in picks:
            anchor = "start" if i == 0 and len(x_labels) > 1 else ("end" if i == len(x_labels) - 1 else "middle")
            if len(x_labels) == 1:
                anchor = "middle"
            out.append(f'<text class="tick" x="{frame.x(i):.1f}" y="{frame.height - 6}" text-anchor="{anchor}">'
                       f"{escape(x_labels[i])}</text>")
    return out


def _legend(items: Sequence[tuple[str, str, bool]], frame: _Frame, provisional: bool = False) -> list[str]:
    out, x = [], float(frame.left)
    for name, colour, dashed in items:
        dash = ' stroke-dasharray="4 3"' if dashed else ""
        out.append(f'<line x1="{x:.1f}" x2="{x + 14:.1f}" y1="11" y2="11" stroke="{colour}" stroke-width="2.5"{dash}/>')
        out.append(f'<text class="legend" x="{x + 18:.1f}" y="15">{escape(name)}</text>')
        x += 28 + 7 * len(name)
    if provisional:
        out.append(f'<rect x="{x:.1f}" y="5" width="14" height="10" fill="{PROVISIONAL_FILL}"/>')
        out.append(f'<text class="legend" x="{x + 18:.1f}" y="15">{PROVISIONAL_LABEL}</text>')
    return out


def _provisional_bands(flags: Sequence[bool], frame: _Frame, edges: Callable[[int], tuple[float, float]]) -> list[str]:
    """A shaded band behind each run of days whose figure is provisional (its window reaches before the data's
    first complete day): the reader sees that those points are not yet comparable with the later ones.
    `edges(i)` is day i's (left, right) in pixels."""
    out, start = [], None
    for i, flag in enumerate([*flags, False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            left = max(edges(start)[0], frame.left)
            right = min(edges(i - 1)[1], frame.width - frame.right)
            out.append(f'<rect class="provisional" x="{left:.1f}" y="{frame.top}" width="{right - left:.1f}" '
                       f'height="{frame.plot_h:.1f}" fill="{PROVISIONAL_FILL}"><title>{PROVISIONAL_LABEL}: the '
                       "window starts before the data</title></rect>")
            start = None
    return out


def _segments(values: Sequence[float | None]) -> list[list[tuple[int, float]]]:
    """Runs of consecutive non-missing points (a gap in the data is a gap in the line)."""
    runs: list[list[tuple[int, float]]] = [[]]
    for i, value in enumerate(values):
        if value is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((i, value))
    return [r for r in runs if r]


def _bounds(values: list[float], y_min: float | None, y_max: float | None) -> tuple[float, float]:
    lo = min(values) if values else 0.0
    hi = max(values) if values else 1.0
    lo = y_min if y_min is not None else lo
    hi = y_max if y_max is not None else hi
    if hi - lo < 1e-9:
        pad = abs(hi) * 0.05 or 1.0
        lo, hi = (lo - pad, hi + pad) if y_min is None else (lo, hi + pad)
    return lo, hi


def line_chart(series: Sequence[Series], x_labels: Sequence[str], *, title: str,
               y_format: Callable[[float], str] = _num, thresholds: Sequence[Threshold] = (),
               y_min: float | None = None, y_max: float | None = None, width: int = 480, height: int = 210,
               flag_below: float | None = None, provisional: Sequence[bool] = ()) -> str:
    """Lines over x; missing values break the line; single points get a dot. `flag_below` marks points under
    that value in red (e.g. availability below its SLO); `provisional` (per x) shades the provisional days."""
    values = [v for s in series for v in s.values if v is not None] + [t.value for t in thresholds]
    lo, hi = _bounds(values, y_min, y_max)
    ticks = nice_ticks(lo, hi)
    lo, hi = min(lo, ticks[0]), max(hi, ticks[-1])
    n = max((len(s.values) for s in series), default=len(x_labels)) or 1
    frame = _Frame(n, lo, hi, width, height)
    out = _open(title, width, height, "chart line-chart")
    half = frame.plot_w / (2 * max(n - 1, 1))
    out += _provisional_bands(provisional, frame, lambda i: (frame.x(i) - half, frame.x(i) + half))
    out += _axes(frame, ticks, y_format, x_labels)
    for t in thresholds:
        y = frame.y(t.value)
        out.append(f'<line class="threshold" x1="{frame.left}" x2="{frame.width - frame.right}" y1="{y:.1f}" '
                   f'y2="{y:.1f}" stroke="{t.colour}" stroke-dasharray="5 4"/>')
    for s in series:
        dash = ' stroke-dasharray="4 3"' if s.dashed else ""
        for run in _segments(s.values):
            if len(run) == 1:
                i, v = run[0]
                out.append(f'<circle cx="{frame.x(i):.1f}" cy="{frame.y(v):.1f}" r="2.5" fill="{s.colour}"/>')
                continue
            points = " ".join(f"{frame.x(i):.1f},{frame.y(v):.1f}" for i, v in run)
            out.append(f'<polyline fill="none" stroke="{s.colour}" stroke-width="2" points="{points}"{dash}/>')
        if flag_below is not None:
            for i, v in enumerate(s.values):
                if v is not None and v < flag_below:
                    out.append(f'<circle class="below" cx="{frame.x(i):.1f}" cy="{frame.y(v):.1f}" r="3" '
                               'fill="#dc2626"/>')
    out += _legend([(s.name, s.colour, s.dashed) for s in series]
                   + [(t.name, t.colour, True) for t in thresholds], frame, provisional=any(provisional))
    out.append("</svg>")
    return "".join(out)


def bar_chart(series: Series, x_labels: Sequence[str], *, title: str, y_format: Callable[[float], str] = _num,
              line: Series | None = None, line_format: Callable[[float], str] | None = None,
              width: int = 480, height: int = 210, provisional: Sequence[bool] = ()) -> str:
    """Bars of one series; an optional line on its own scale (its range is written in the legend); `provisional`
    (per x) shades the provisional days."""
    values = [v for v in series.values if v is not None]
    lo, hi = _bounds(values + [0.0], 0.0, None)
    ticks = nice_ticks(lo, hi)
    frame = _Frame(len(series.values) or 1, ticks[0], max(hi, ticks[-1]), width, height)
    out = _open(title, width, height, "chart bar-chart")
    slot = frame.slot()
    out += _provisional_bands(provisional, frame, lambda i: (frame.left + slot * i, frame.left + slot * (i + 1)))
    out += _axes(frame, ticks, y_format, x_labels)
    base = frame.y(0.0)
    for i, v in enumerate(series.values):
        if v is None:
            continue
        x = frame.left + slot * i + slot * 0.15
        top = frame.y(v)
        out.append(f'<rect x="{x:.1f}" y="{top:.1f}" width="{slot * 0.7:.1f}" height="{max(base - top, 0):.1f}" '
                   f'fill="{series.colour}"/>')
    legend = [(series.name, series.colour, False)]
    if line is not None:
        lvals = [v for v in line.values if v is not None]
        if lvals:
            llo, lhi = _bounds(lvals, 0.0, None)
            lframe = _Frame(len(line.values) or 1, llo, lhi, width, height)
            lframe_x = [frame.left + slot * (i + 0.5) for i in range(len(line.values))]
            for run in _segments(line.values):
                pts = " ".join(f"{lframe_x[i]:.1f},{lframe.y(v):.1f}" for i, v in run)
                if len(run) == 1:
                    i, v = run[0]
                    out.append(f'<circle cx="{lframe_x[i]:.1f}" cy="{lframe.y(v):.1f}" r="2.5" fill="{line.colour}"/>')
                else:
                    out.append(f'<polyline fill="none" stroke="{line.colour}" stroke-width="2" points="{pts}"/>')
            fmt = line_format or _num
            legend.append((f"{line.name} (0 to {fmt(lhi)})", line.colour, line.dashed))
    out += _legend(legend, frame, provisional=any(provisional))
    out.append("</svg>")
    return "".join(out)


def stacked_area_chart(layers: Sequence[Series], x_labels: Sequence[str], *, title: str,
                       y_format: Callable[[float], str] = _num, lines: Sequence[Series] = (),
                       width: int = 480, height: int = 210) -> str:
    """Layers stacked bottom-up (missing values count as 0), plus optional lines on the same scale."""
    n = max((len(s.values) for s in layers), default=0) or 1
    totals = [sum((s.values[i] or 0.0) for s in layers if i < len(s.values)) for i in range(n)]
    extra = [v for s in lines for v in s.values if v is not None]
    lo, hi = _bounds(totals + extra + [0.0], 0.0, None)
    ticks = nice_ticks(lo, hi)
    frame = _Frame(n, ticks[0], max(hi, ticks[-1]), width, height)
    out = _open(title, width, height, "chart stacked-chart")
    out += _axes(frame, ticks, y_format, x_labels)
    lower = [0.0] * n
    for s in layers:
        upper = [lower[i] + ((s.values[i] or 0.0) if i < len(s.values) else 0.0) for i in range(n)]
        top = [f"{frame.x(i):.1f},{frame.y(upper[i]):.1f}" for i in range(n)]
        bottom = [f"{frame.x(i):.1f},{frame.y(lower[i]):.1f}" for i in reversed(range(n))]
        if n == 1:  # one day: a bar instead of an area
            x = frame.x(0) - 12
            out.append(f'<rect x="{x:.1f}" y="{frame.y(upper[0]):.1f}" width="24" '
                       f'height="{frame.y(lower[0]) - frame.y(upper[0]):.1f}" fill="{s.colour}"/>')
        else:
            out.append(f'<polygon points="{" ".join(top + bottom)}" fill="{s.colour}" fill-opacity="0.85"/>')
        lower = upper
    for s in lines:
        for run in _segments(s.values):
            pts = " ".join(f"{frame.x(i):.1f},{frame.y(v):.1f}" for i, v in run)
            if len(run) == 1:
                i, v = run[0]
                out.append(f'<circle cx="{frame.x(i):.1f}" cy="{frame.y(v):.1f}" r="3" fill="{s.colour}"/>')
            else:
                dash = ' stroke-dasharray="4 3"' if s.dashed else ""
                out.append(f'<polyline fill="none" stroke="{s.colour}" stroke-width="2" points="{pts}"{dash}/>')
    out += _legend([(s.name, s.colour, False) for s in layers] + [(s.name, s.colour, s.dashed) for s in lines], frame)
    out.append("</svg>")
    return "".join(out)

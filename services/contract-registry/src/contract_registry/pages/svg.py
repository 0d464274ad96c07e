"""Small, pure SVG charts: series in, an SVG document (a string) out.

No JavaScript, no external fonts or stylesheets: presentation attributes only, so a chart
renders the same inline in the contract page, as an `<img>`, or opened on its own. Every
chart has a `<title>` and a `<desc>` (named by `aria-labelledby`) and every mark its own
`<title>` (a tooltip, read by screen readers). All text is XML-escaped here, once.
An empty series never fails: it gives a chart that says "No data yet".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape as _xml_escape

WIDTH = 720
HEIGHT = 300
MARGIN_LEFT = 72
MARGIN_RIGHT = 16
MARGIN_TOP = 56  # title and legend
MARGIN_BOTTOM = 36  # period labels
FONT = 'font-family="system-ui, sans-serif"'
AXIS_COLOUR = "#555"
GRID_COLOUR = "#ddd"
NO_DATA = "No data yet"


def esc(text: object) -> str:
    """Text or attribute value made safe for XML (quotes included)."""
    return _xml_escape(str(text), {'"': "&quot;", "'": "&#39;"})


def num(value: float) -> str:
    """A coordinate: at most two decimals, no trailing zeros, never `-0`."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


@dataclass(frozen=True)
class Frame:
    """What every chart has: an id (unique on a page), a title and a description."""

    dom_id: str
    title: str
    desc: str
    width: int = WIDTH
    height: int = HEIGHT
    y: int = 0  # where a panel sits inside a stack of charts

    @property
    def plot(self) -> tuple[float, float, float, float]:
        """left, top, right, bottom of the plotting area."""
        return (
            MARGIN_LEFT,
            MARGIN_TOP,
            self.width - MARGIN_RIGHT,
            self.height - MARGIN_BOTTOM,
        )


@dataclass(frozen=True)
class LinearScale:
    """Values in [lo, hi] onto pixels [px_lo, px_hi] (px_lo may be the larger: SVG's y)."""

    lo: float
    hi: float
    px_lo: float
    px_hi: float

    def __call__(self, value: float) -> float:
        span = self.hi - self.lo
        share = (value - self.lo) / span if span else 0.5
        return self.px_lo + share * (self.px_hi - self.px_lo)


@dataclass(frozen=True)
class LineSeries:
    """One line; `None` leaves a gap. `marks` colours each point (no points without it)."""

    name: str
    values: Sequence[float | None]
    colour: str
    dashed: bool = False
    marks: Sequence[str] | None = None
    tips: Sequence[str] | None = None


@dataclass(frozen=True)
class BarSeries:
    name: str
    values: Sequence[float]
    colour: str
    tips: Sequence[str] | None = None


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi]: steps of 1, 2, 2.5 or 5 × 10ⁿ."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0, 1.0]
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        pad = abs(lo) * 0.01 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.floor(lo / step) * step
    last = math.ceil(hi / step) * step
    steps = round((last - first) / step)
    return [round(first + i * step, 10) for i in range(steps + 1)]


def tick_label(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


# --- pieces -------------------------------------------------------------------------------


def document(frame: Frame, body: Sequence[str]) -> str:
    """The `<svg>` element with its title and description, around `body`."""
    ids = f"{frame.dom_id}-title {frame.dom_id}-desc"
    placed = f' y="{frame.y}"' if frame.y else ""
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" id="{esc(frame.dom_id)}"{placed} '
            f'width="{frame.width}" height="{frame.height}" '
            f'viewBox="0 0 {frame.width} {frame.height}" role="img" '
            f'aria-labelledby="{esc(ids)}" {FONT} font-size="12">',
            f'<title id="{esc(frame.dom_id)}-title">{esc(frame.title)}</title>',
            f'<desc id="{esc(frame.dom_id)}-desc">{esc(frame.desc)}</desc>',
            f'<rect width="{frame.width}" height="{frame.height}" fill="#fff"/>',
            f'<text x="{MARGIN_LEFT}" y="20" font-size="15" font-weight="bold" '
            f'fill="#222">{esc(frame.title)}</text>',
            *body,
            "</svg>",
        ]
    )


def no_data(frame: Frame, message: str = NO_DATA) -> str:
    """The chart of an empty series: its frame and a sentence in the middle."""
    left, top, right, bottom = frame.plot
    return document(
        frame,
        [
            f'<rect class="no-data" x="{num(left)}" y="{num(top)}" '
            f'width="{num(right - left)}" height="{num(bottom - top)}" fill="#f7f7f7" '
            f'stroke="{GRID_COLOUR}"/>',
            f'<text x="{num((left + right) / 2)}" y="{num((top + bottom) / 2)}" '
            f'text-anchor="middle" font-size="16" fill="#666">{esc(message)}</text>',
        ],
    )


def legend(entries: Sequence[tuple[str, str, bool]]) -> list[str]:
    """(name, colour, dashed) swatches in a row under the title."""
    out: list[str] = ['<g class="legend">']
    x = float(MARGIN_LEFT)
    for name, colour, dashed in entries:
        dash = ' stroke-dasharray="6 4"' if dashed else ""
        out.append(
            f'<line x1="{num(x)}" y1="36" x2="{num(x + 18)}" y2="36" stroke="{esc(colour)}" '
            f'stroke-width="3"{dash}/>'
        )
        out.append(f'<text x="{num(x + 24)}" y="40" fill="#222">{esc(name)}</text>')
        x += 24 + 7 * len(name) + 18
    out.append("</g>")
    return out


def y_axis(frame: Frame, scale: LinearScale, ticks: Sequence[float], label: str) -> list[str]:
    left, top, right, bottom = frame.plot
    out = ['<g class="y-axis">']
    for tick in ticks:
        y = num(scale(tick))
        out.append(
            f'<line x1="{num(left)}" y1="{y}" x2="{num(right)}" y2="{y}" stroke="{GRID_COLOUR}"/>'
        )
        out.append(
            f'<text x="{num(left - 6)}" y="{y}" dy="4" text-anchor="end" fill="{AXIS_COLOUR}">'
            f"{esc(tick_label(tick))}</text>"
        )
    middle = num((top + bottom) / 2)
    out.append(
        f'<text x="14" y="{middle}" transform="rotate(-90 14 {middle})" text-anchor="middle" '
        f'fill="{AXIS_COLOUR}">{esc(label)}</text>'
    )
    out.append(
        f'<line x1="{num(left)}" y1="{num(top)}" x2="{num(left)}" y2="{num(bottom)}" '
        f'stroke="{AXIS_COLOUR}"/>'
    )
    out.append("</g>")
    return out


def band_centres(frame: Frame, count: int) -> tuple[list[float], float]:
    """The centre of each period's band on the x axis, and the band's width."""
    left, _, right, _ = frame.plot
    band = (right - left) / max(count, 1)
    return [left + band * (i + 0.5) for i in range(count)], band


def x_axis(frame: Frame, labels: Sequence[str]) -> list[str]:
    """Period labels under their bands (every n-th one when they would overlap)."""
    left, _, right, bottom = frame.plot
    centres, band = band_centres(frame, len(labels))
    every = max(1, math.ceil(60 / band)) if band else 1
    out = [
        '<g class="x-axis">',
        f'<line x1="{num(left)}" y1="{num(bottom)}" x2="{num(right)}" y2="{num(bottom)}" '
        f'stroke="{AXIS_COLOUR}"/>',
    ]
    for i, (label, x) in enumerate(zip(labels, centres, strict=True)):
        if i % every == 0 or i == len(labels) - 1:
            out.append(
                f'<text x="{num(x)}" y="{num(bottom + 18)}" text-anchor="middle" '
                f'fill="{AXIS_COLOUR}">{esc(label)}</text>'
            )
    out.append("</g>")
    return out


def value_scale(
    frame: Frame, values: Sequence[float], *, zero: bool, pad: float = 0.0
) -> tuple[LinearScale, list[float]]:
    """A y scale over `values` (from 0 when `zero`; widened by `pad` × their span on each
    side, so a point on a limit line stays off the axis), ending on round ticks."""
    lo = min([*values, 0.0] if zero else values)
    hi = max([*values, 0.0] if zero else values)
    lo, hi = lo - (hi - lo) * pad, hi + (hi - lo) * pad
    ticks = nice_ticks(lo, hi)
    _, top, _, bottom = frame.plot
    return LinearScale(ticks[0], ticks[-1], bottom, top), ticks


# --- charts -------------------------------------------------------------------------------


def line_chart(
    frame: Frame, labels: Sequence[str], series: Sequence[LineSeries], y_label: str
) -> str:
    """Lines over periods; `None` values leave gaps (a marked point shows as a hollow grey
    circle on the axis instead). No value at all → the "No data yet" chart."""
    values = [v for s in series for v in s.values if v is not None]
    if not labels or not values:
        return no_data(frame)
    scale, ticks = value_scale(frame, values, zero=False, pad=0.05)
    centres, _ = band_centres(frame, len(labels))
    body = [
        *legend([(s.name, s.colour, s.dashed) for s in series]),
        *y_axis(frame, scale, ticks, y_label),
        *x_axis(frame, labels),
    ]
    for s in series:
        body += _line(s, centres, scale, frame.plot[3])
    return document(frame, body)


def _line(s: LineSeries, xs: Sequence[float], scale: LinearScale, floor: float) -> list[str]:
    dash = ' stroke-dasharray="6 4"' if s.dashed else ""
    out = [f'<g class="series" data-series="{esc(s.name)}">']
    run: list[str] = []
    points = list(zip(xs, s.values, strict=False))
    for x, value in [*points, (0.0, None)]:  # a trailing gap closes the last run
        if value is not None:
            run.append(f"{num(x)},{num(scale(value))}")
            continue
        if len(run) == 1 and not s.marks:  # a lone point of an unmarked line: a short tick
            px, py = run[0].split(",")
            run = [f"{num(float(px) - 8)},{py}", f"{num(float(px) + 8)},{py}"]
        if len(run) > 1:
            out.append(
                f'<polyline points="{" ".join(run)}" fill="none" stroke="{esc(s.colour)}" '
                f'stroke-width="2"{dash}/>'
            )
        run = []
    for i, (x, value) in enumerate(points):
        if s.marks is None:
            continue
        tip = f"<title>{esc(s.tips[i])}</title>" if s.tips else ""
        if value is None:
            out.append(
                f'<circle class="mark no-value" cx="{num(x)}" cy="{num(floor)}" r="5" '
                f'fill="#fff" stroke="#999" stroke-width="2">{tip}</circle>'
            )
        else:
            out.append(
                f'<circle class="mark" cx="{num(x)}" cy="{num(scale(value))}" r="5" '
                f'fill="{esc(s.marks[i])}" stroke="#fff">{tip}</circle>'
            )
    out.append("</g>")
    return out


def bar_chart(
    frame: Frame,
    labels: Sequence[str],
    series: Sequence[BarSeries],
    y_label: str,
    *,
    stacked: bool = False,
    y_max: float | None = None,
) -> str:
    """Bars per period, side by side or stacked (stacked values below 0 count as 0); the
    y axis reaches `y_max` at least (a score's 100). No period → the "No data yet" chart;
    a period of zeros is data (bars of no height)."""
    if not labels or not series:
        return no_data(frame)
    if stacked:
        totals = [sum(max(0.0, s.values[i]) for s in series) for i in range(len(labels))]
    else:
        totals = [v for s in series for v in s.values]
    scale, ticks = value_scale(frame, [*totals, *([y_max] if y_max else [])], zero=True)
    centres, band = band_centres(frame, len(labels))
    body = [
        *legend([(s.name, s.colour, False) for s in series]),
        *y_axis(frame, scale, ticks, y_label),
        *x_axis(frame, labels),
    ]
    width = band * 0.7 / (1 if stacked else len(series))
    base = [0.0] * len(labels)
    for k, s in enumerate(series):
        body.append(f'<g class="series" data-series="{esc(s.name)}">')
        for i, x in enumerate(centres):
            value = max(0.0, s.values[i]) if stacked else s.values[i]
            lo, hi = (base[i], base[i] + value) if stacked else (min(0.0, value), max(0.0, value))
            left = x - band * 0.35 + (0 if stacked else k * width)
            tip = f"<title>{esc(s.tips[i])}</title>" if s.tips else ""
            body.append(
                f'<rect class="bar" x="{num(left)}" y="{num(scale(hi))}" width="{num(width)}" '
                f'height="{num(scale(lo) - scale(hi))}" fill="{esc(s.colour)}">{tip}</rect>'
            )
            if stacked:
                base[i] += value
        body.append("</g>")
    return document(frame, body)


def stack(frame: Frame, panels: Sequence[str], panel_height: int = HEIGHT) -> str:
    """Several charts (each made with `Frame.y` set to its place) in one document."""
    if not panels:
        return no_data(frame)
    height = MARGIN_TOP + panel_height * len(panels)
    outer = Frame(frame.dom_id, frame.title, frame.desc, frame.width, height)
    return document(outer, [f'<g transform="translate(0 {MARGIN_TOP})">', *panels, "</g>"])

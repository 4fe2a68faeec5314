"""Charts drawn on the server as inline SVG: no script, no chart library, no CDN.

Each function returns markup that Jinja inserts as is; every text inside it is
escaped here. Sizes are in viewBox units, so charts scale with their container.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 200
PAD_LEFT, PAD_BOTTOM, PAD_TOP = 56, 24, 12


def _number(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M".replace(".0M", "M")
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    return f"{value:,.0f}"


def _scale(top: float) -> float:
    """A round upper bound for the axis (1, 2 or 5 times a power of ten; up to 10, an even
    number, so that the middle gridline of a count is a whole number too)."""
    if top <= 10:
        return float(next(even for even in (2, 4, 6, 10) if top <= even))
    magnitude = 10 ** (len(str(int(top))) - 1)
    for step in (1, 2, 5, 10):
        if top <= step * magnitude:
            return float(step * magnitude)
    return float(10 * magnitude)


def line(points: Sequence[tuple[date | datetime, int]], *, label: str) -> Markup:
    """An area chart of ``points`` (x in order), with the first, middle and last dates."""
    if not points:
        return Markup('<p class="muted">No data yet.</p>')
    top = _scale(max(v for _, v in points))
    inner_w, inner_h = WIDTH - PAD_LEFT - 8, HEIGHT - PAD_BOTTOM - PAD_TOP
    step = inner_w / max(1, len(points) - 1)
    coords = [(PAD_LEFT + i * step, PAD_TOP + inner_h * (1 - v / top))
              for i, (_, v) in enumerate(points)]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    base = PAD_TOP + inner_h
    area = f"{PAD_LEFT:.1f},{base:.1f} {path} {coords[-1][0]:.1f},{base:.1f}"
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'aria-label="{escape(label)}">', f"<title>{escape(label)}</title>"]
    for fraction in (0, 0.5, 1):
        y = PAD_TOP + inner_h * (1 - fraction)
        parts.append(f'<line class="grid" x1="{PAD_LEFT}" x2="{WIDTH - 8}" y1="{y:.1f}" '
                     f'y2="{y:.1f}"/>')
        parts.append(f'<text class="axis" x="{PAD_LEFT - 6}" y="{y + 4:.1f}" '
                     f'text-anchor="end">{_number(top * fraction)}</text>')
    parts.append(f'<polygon class="area" points="{area}"/>')
    parts.append(f'<polyline class="stroke" points="{path}"/>')
    for index in sorted({0, len(points) // 2, len(points) - 1}):
        x = coords[index][0]
        anchor = "start" if index == 0 else "end" if index == len(points) - 1 else "middle"
        parts.append(f'<text class="axis" x="{x:.1f}" y="{HEIGHT - 6}" '
                     f'text-anchor="{anchor}">{escape(_when(points[index][0]))}</text>')
    last_x, last_y = coords[-1]
    parts.append(f'<circle class="dot" cx="{last_x:.1f}" cy="{last_y:.1f}" r="3.5">'
                 f"<title>{escape(_when(points[-1][0]))}: {points[-1][1]:,}</title></circle>")
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (texts escaped above, the rest numbers)


def bars(rows: Sequence[tuple[str, Sequence[tuple[str, int]]]], *, label: str) -> Markup:
    """Horizontal stacked bars: one row per item, segments (css class, value) in order."""
    if not rows:
        return Markup('<p class="muted">Nothing sent yet.</p>')
    row_h, label_w, width = 28, 180, WIDTH
    height = row_h * len(rows) + 8
    top = max(1, max(sum(v for _, v in segments) for _, segments in rows))
    parts = [f'<svg class="chart bars" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(label)}">', f"<title>{escape(label)}</title>"]
    for i, (name, segments) in enumerate(rows):
        y = 4 + i * row_h
        short = name if len(name) <= 26 else name[:25] + "…"
        parts.append(f'<text class="axis" x="0" y="{y + 17}">{escape(short)}</text>')
        x = float(label_w)
        total = sum(v for _, v in segments)
        for css, value in segments:
            w = (width - label_w - 70) * value / top
            if w > 0:
                parts.append(f'<rect class="{escape(css)}" x="{x:.1f}" y="{y + 4}" '
                             f'width="{w:.1f}" height="{row_h - 10}" rx="2">'
                             f"<title>{escape(css)}: {value:,}</title></rect>")
            x += w
        parts.append(f'<text class="axis" x="{x + 6:.1f}" y="{y + 17}">{total:,}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (texts escaped above, the rest numbers)


def _when(moment: date | datetime) -> str:
    if isinstance(moment, datetime):
        return moment.strftime("%H:%M")
    return moment.strftime("%d %b")

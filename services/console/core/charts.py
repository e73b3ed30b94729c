"""Small inline SVG charts for the analysts' page: horizontal bars and a line, no script and no external asset."""

from __future__ import annotations

import html
from collections.abc import Sequence

WIDTH = 420
BAR_HEIGHT = 18
LABEL_WIDTH = 130
COLOUR = "#0072B2"
SECOND = "#E69F00"


def bars(title: str, rows: Sequence[tuple[str, float | None]], unit: str = "", *, empty: str = "no data yet") -> str:
    """One bar per (label, value), longest first as given; values are written at the bar's end."""
    values = [(label, value) for label, value in rows if value is not None]
    if not values:
        return _frame(title, 40, f'<text x="8" y="34" class="empty">{html.escape(empty)}</text>')
    top = max(value for _, value in values) or 1.0
    plot = WIDTH - LABEL_WIDTH - 70
    shapes = []
    for index, (label, value) in enumerate(values):
        y = 24 + index * (BAR_HEIGHT + 4)
        width = max(1.0, plot * value / top)
        shapes.append(f'<text x="4" y="{y + 13}">{html.escape(_short(label))}</text>')
        shapes.append(
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{width:.1f}" height="{BAR_HEIGHT}" fill="{COLOUR}">'
            f"<title>{html.escape(label)}: {value:g}{unit}</title></rect>"
        )
        shapes.append(f'<text x="{LABEL_WIDTH + width + 4:.1f}" y="{y + 13}">{value:.3g}{html.escape(unit)}</text>')
    return _frame(title, 30 + len(values) * (BAR_HEIGHT + 4), "".join(shapes))


def line(title: str, points: Sequence[tuple[float, float]], *, x_label: str, y_label: str) -> str:
    """A polyline through (x, y) points with dots, scaled to the data; axis ends labelled."""
    if not points:
        return _frame(title, 40, '<text x="8" y="34" class="empty">no data yet</text>')
    height, left, bottom = 160, 40, 24
    xs, ys = [x for x, _ in points], [y for _, y in points]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    y0, y1 = min(min(ys), 0.0), max(max(ys), 1e-9)

    def at(x: float, y: float) -> tuple[float, float]:
        return left + (x - x0) / (x1 - x0) * (WIDTH - left - 10), 20 + (1 - (y - y0) / (y1 - y0)) * (height - 20)

    path = " ".join(f"{px:.1f},{py:.1f}" for px, py in (at(x, y) for x, y in points))
    dots = "".join(
        f'<circle cx="{px:.1f}" cy="{py:.1f}" r="2.5" fill="{SECOND}"/>' for px, py in (at(x, y) for x, y in points)
    )
    axes = (
        f'<line x1="{left}" y1="{height + 20}" x2="{WIDTH - 10}" y2="{height + 20}" stroke="#999"/>'
        f'<line x1="{left}" y1="20" x2="{left}" y2="{height + 20}" stroke="#999"/>'
        f'<text x="2" y="26">{y1:.2g}</text><text x="2" y="{height + 20}">{y0:.2g}</text>'
        f'<text x="{left}" y="{height + 20 + bottom - 6}">{html.escape(x_label)}</text>'
        f'<text x="{WIDTH - 120}" y="14">{html.escape(y_label)}</text>'
    )
    body = f'{axes}<polyline points="{path}" fill="none" stroke="{COLOUR}" stroke-width="1.5"/>{dots}'
    return _frame(title, height + 20 + bottom, body)


def _frame(title: str, height: int, body: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{WIDTH}" height="{height}" '
        f'role="img" aria-label="{html.escape(title)}">'
        f'<text x="4" y="13" class="chart-title">{html.escape(title)}</text>'
        f"{body}</svg>"
    )


def _short(label: str, limit: int = 18) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"

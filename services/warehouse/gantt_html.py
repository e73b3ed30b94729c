"""The timeline as one self-contained HTML page: an inline SVG with hover details (gantt.py describes the chart)."""

from __future__ import annotations

import html
from pathlib import Path

from services.warehouse.chart import ARROW, CRITICAL_EDGE, WAITING, dependency_links, executor_colours, row_label, title
from services.warehouse.core.timeline import RunTimeline

LABEL_WIDTH = 220
ROW_HEIGHT = 30
PLOT_WIDTH = 900
PAGE = """<!doctype html>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font: 13px system-ui, sans-serif; margin: 16px; }}
svg text {{ font: 12px system-ui, sans-serif; }}
.legend span {{ margin-right: 14px; }}
.legend i {{ display: inline-block; width: 12px; height: 12px; margin-right: 4px; vertical-align: -1px; }}
</style>
<h3>{title}</h3>
<p class="legend">{legend}
<span><i style="border: 2px solid {critical}"></i>★ critical path</span>
<span><i style="background: #999; opacity: .45"></i>failed attempt</span>
<span><i style="background: {waiting}"></i>waiting for an executor</span>
· seconds since the run was planned; dashed line: the run finished; hover a bar for details</p>
<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">
<defs><marker id="arrow" viewBox="0 0 6 6" refX="6" refY="3" markerWidth="6" markerHeight="6" orient="auto">
<path d="M0,0 L6,3 L0,6 z" fill="{arrow}"/></marker></defs>
{shapes}
</svg>
"""


def write_html(timeline: RunTimeline, path: Path) -> None:
    bars = timeline.bars()
    critical = set(timeline.critical_path())
    colours = executor_colours(timeline)
    span = max([bar.end for bar in bars] + [timeline.makespan_s or 0.0, 1e-3])
    height = ROW_HEIGHT * len(timeline.tasks) + 40

    def x(seconds: float) -> float:
        return LABEL_WIDTH + seconds * PLOT_WIDTH / span

    def y(row: int) -> int:
        return row * ROW_HEIGHT + 20

    shapes = []
    for row, task in enumerate(timeline.tasks):
        on_path = task.task_id in critical
        label = html.escape(row_label(timeline, row, critical))
        shapes.append(
            _element(
                "text",
                label,
                x=4,
                y=y(row) + 5,
                font_weight="bold" if on_path else "normal",
                fill=CRITICAL_EDGE if on_path else "#222",
            )
        )
        if task.skip_reason is not None:
            reason = html.escape(f"skipped: {task.skip_reason}")
            shapes.append(_element("text", reason, x=x(0) + 4, y=y(row) + 5, fill="#666", font_style="italic"))
    for bar in bars:
        shapes.append(
            _element(
                "rect",
                x=x(bar.queued_from),
                y=y(bar.row) - 3,
                width=x(bar.start) - x(bar.queued_from),
                height=6,
                fill=WAITING,
            )
        )
        span_text = f"{bar.start:.3f} to {bar.end:.3f} s"
        tip = f"task {bar.span.task_id} attempt {bar.span.attempt} · {bar.span.status} · {bar.span.executor or '?'}"
        tip += f" · {span_text}"
        if bar.span.error:
            tip += f" · {bar.span.error}"
        failed = bar.span.status == "error"
        shapes.append(
            _element(
                "rect",
                f"<title>{html.escape(tip)}</title>",
                x=x(bar.start),
                y=y(bar.row) - 10,
                width=max(x(bar.end) - x(bar.start), 1.5),
                height=20,
                fill=colours.get(bar.span.executor or "", "#bbb"),
                stroke=CRITICAL_EDGE if bar.critical else "none",
                stroke_width=2.5 if bar.critical else 0,
                stroke_dasharray="4 2" if failed else "none",
                fill_opacity=0.45 if failed else 1,
            )
        )
    for x0, row0, x1, row1 in dependency_links(timeline, bars):
        shapes.append(
            _element("line", x1=x(x0), y1=y(row0), x2=x(x1), y2=y(row1), stroke=ARROW, marker_end="url(#arrow)")
        )
    if timeline.makespan_s:
        end = x(timeline.makespan_s)
        shapes.append(_element("line", x1=end, y1=0, x2=end, y2=height - 20, stroke="#444", stroke_dasharray="5 3"))
    for tick in range(6):
        seconds = span * tick / 5
        shapes.append(_element("text", f"{seconds:.2f} s", x=x(seconds), y=height - 4, font_size=11, fill="#555"))
    legend = "".join(
        f'<span><i style="background: {colour}"></i>{html.escape(name)}</span>' for name, colour in colours.items()
    )
    path.write_text(
        PAGE.format(
            title=html.escape(title(timeline)),
            legend=legend,
            critical=CRITICAL_EDGE,
            waiting=WAITING,
            arrow=ARROW,
            width=LABEL_WIDTH + PLOT_WIDTH + 40,
            height=height,
            shapes="\n".join(shapes),
        )
    )


def _element(tag: str, content: str = "", **attributes: object) -> str:
    """An SVG element; attribute names use _ for - (stroke_width -> stroke-width), numbers get one decimal."""
    rendered = " ".join(
        f'{name.replace("_", "-")}="{f"{value:.1f}" if isinstance(value, float) else html.escape(str(value))}"'
        for name, value in attributes.items()
    )
    return f"<{tag} {rendered}>{content}</{tag}>"

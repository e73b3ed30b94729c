"""A run's Gantt chart: one row per task, one bar per attempt, coloured by the executor that ran it.

Bars that overlap in time are tasks that ran in parallel. A thin grey lead-in shows how long an attempt waited
between dispatch and start; failed attempts are hatched; critical-path tasks are outlined and starred; grey
arrows go from a dependency's end to the start of the task that needed it. PNG (matplotlib) or one
self-contained HTML page (inline SVG). What the chart shows comes from core/timeline.py.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

from services.warehouse.core.timeline import (
    ARROW,
    CRITICAL_EDGE,
    WAITING,
    RunTimeline,
    dependency_links,
    executor_colours,
    row_label,
    title,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure


class UnsupportedChartFormat(ValueError):
    pass


def render(timeline: RunTimeline, path: Path) -> Path:
    writers = {".png": write_png, ".html": write_html}
    writer = writers.get(path.suffix.lower())
    if writer is None:
        raise UnsupportedChartFormat(f"{path}: a timeline is written as .png or .html")
    path.parent.mkdir(parents=True, exist_ok=True)
    writer(timeline, path)
    return path


# PNG


def write_png(timeline: RunTimeline, path: Path) -> None:
    png_figure(timeline).savefig(path, dpi=120)


def png_figure(timeline: RunTimeline) -> Figure:
    from matplotlib.figure import Figure  # Figure alone: no pyplot state, no display backend
    from matplotlib.patches import Patch

    bars = timeline.bars()
    critical = set(timeline.critical_path())
    colours = executor_colours(timeline)
    figure = Figure(figsize=(12, 1.6 + 0.42 * max(1, len(timeline.tasks))), layout="constrained")
    axes = figure.subplots()
    for bar in bars:
        axes.barh(bar.row, bar.start - bar.queued_from, left=bar.queued_from, height=0.22, color=WAITING)
        failed = bar.span.status == "error"
        axes.barh(
            bar.row,
            max(bar.end - bar.start, 0.002),
            left=bar.start,
            height=0.62,
            color=colours.get(bar.span.executor or "", "#bbbbbb"),
            hatch="///" if failed else None,
            edgecolor=CRITICAL_EDGE if bar.critical else ("#444444" if failed else "none"),
            linewidth=2.2 if bar.critical else 0.8,
        )
        if bar.span.attempt > 1:
            axes.text(bar.end, bar.row, f" #{bar.span.attempt}", va="center", fontsize=8)
    for x0, row0, x1, row1 in dependency_links(timeline, bars):
        axes.annotate("", xy=(x1, row1), xytext=(x0, row0), arrowprops={"arrowstyle": "->", "color": ARROW, "lw": 0.8})
    for row, task in enumerate(timeline.tasks):
        if task.skip_reason is not None:
            axes.text(
                0, row, f"  skipped: {task.skip_reason}", va="center", fontsize=8, color="#666666", style="italic"
            )
    if timeline.makespan_s:
        axes.axvline(timeline.makespan_s, color="#444444", linestyle="--", linewidth=1)
    axes.set_yticks(range(len(timeline.tasks)))
    axes.set_yticklabels([row_label(timeline, row, critical) for row in range(len(timeline.tasks))])
    for tick, task in zip(axes.get_yticklabels(), timeline.tasks, strict=True):
        if task.task_id in critical:
            tick.set_color(CRITICAL_EDGE)
            tick.set_fontweight("bold")
    axes.invert_yaxis()
    axes.set_xlim(left=0)
    axes.set_xlabel("seconds since the run was planned (dashed: the run finished)")
    axes.grid(axis="x", alpha=0.3)
    axes.set_title(title(timeline), fontsize=9, loc="left")
    legend = [Patch(color=colour, label=name) for name, colour in colours.items()]
    legend.append(Patch(facecolor="white", edgecolor=CRITICAL_EDGE, linewidth=2, label="critical path"))
    legend.append(Patch(facecolor="white", edgecolor="#444444", hatch="///", label="failed attempt"))
    legend.append(Patch(color=WAITING, label="waiting for an executor"))
    # A figure legend "outside" gets its own band under the axes from the constrained layout; one anchored to the
    # axes at a fixed fraction below them landed on the x-axis label when a small run made the figure short.
    figure.legend(handles=legend, loc="outside lower center", ncols=4, fontsize=8, frameon=False)
    return figure


# HTML

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

"""A run's Gantt chart: one row per task, one bar per attempt, coloured by the executor that ran it.

Bars that overlap in time are tasks that ran in parallel. A thin grey lead-in shows how long an attempt waited
between dispatch and start; hatched bars failed; critical-path tasks are outlined and starred; grey arrows go
from a dependency's end to the start of the task that needed it. PNG (matplotlib) or self-contained HTML (SVG).
"""

from __future__ import annotations

import html
from pathlib import Path

from services.warehouse.core.timeline import Bar, RunTimeline

# Colour-blind-safe (Okabe-Ito), one per executor in order of first use; more executors reuse them.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999")
CRITICAL_EDGE = "#B00020"


class UnsupportedChartFormat(ValueError):
    pass


def render(timeline: RunTimeline, path: Path) -> Path:
    suffix = path.suffix.lower()
    if suffix not in (".png", ".html"):
        raise UnsupportedChartFormat(f"{path}: a timeline is written as .png or .html")
    path.parent.mkdir(parents=True, exist_ok=True)
    (_render_png if suffix == ".png" else _render_html)(timeline, path)
    return path


def title(timeline: RunTimeline) -> str:
    def seconds(value: float | None) -> str:
        return "?" if value is None else f"{value:.2f} s"

    speedup = "?" if timeline.speedup is None else f"{timeline.speedup:.2f}x"
    return (
        f"run {timeline.run_id} · {timeline.status} · makespan {seconds(timeline.makespan_s)} · "
        f"one by one {seconds(timeline.sequential_s)} · critical path {seconds(timeline.critical_path_s)} · "
        f"speedup {speedup}"
    )


def executor_colours(timeline: RunTimeline) -> dict[str, str]:
    return {name: PALETTE[index % len(PALETTE)] for index, name in enumerate(timeline.executors())}


def row_label(timeline: RunTimeline, row: int, critical: set[str]) -> str:
    task = timeline.tasks[row]
    star = "★ " if task.task_id in critical else ""
    return f"{star}{task.task_id} · {task.tool or 'llm'}"


def _dependency_links(timeline: RunTimeline, bars: list[Bar]) -> list[tuple[float, int, float, int]]:
    """(x, row) of each dependency's settling end to (x, row) of the first start of the task that needed it."""
    rows = {task.task_id: row for row, task in enumerate(timeline.tasks)}
    ends: dict[int, float] = {}
    starts: dict[int, float] = {}
    for bar in bars:
        settling = timeline.tasks[bar.row].settling
        if settling is not None and bar.span.attempt == settling.attempt:
            ends[bar.row] = bar.end
        starts[bar.row] = min(starts.get(bar.row, bar.queued_from), bar.queued_from)
    return [
        (ends[rows[dep]], rows[dep], starts[row], row)
        for row, task in enumerate(timeline.tasks)
        for dep in task.deps
        if dep in rows and rows[dep] in ends and row in starts
    ]


def _render_png(timeline: RunTimeline, path: Path) -> None:
    from matplotlib.figure import Figure  # Figure alone: no pyplot state, no display backend
    from matplotlib.patches import Patch

    bars = timeline.bars()
    critical = set(timeline.critical_path())
    colours = executor_colours(timeline)
    figure = Figure(figsize=(12, 1.6 + 0.42 * max(1, len(timeline.tasks))), layout="constrained")
    axes = figure.subplots()
    for bar in bars:
        axes.barh(bar.row, bar.start - bar.queued_from, left=bar.queued_from, height=0.22, color="#d0d0d0")
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
    for x0, row0, x1, row1 in _dependency_links(timeline, bars):
        axes.annotate(
            "", xy=(x1, row1), xytext=(x0, row0), arrowprops={"arrowstyle": "->", "color": "#9a9a9a", "lw": 0.8}
        )
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
    legend.append(Patch(color="#d0d0d0", label="waiting for an executor"))
    axes.legend(handles=legend, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncols=4, fontsize=8, frameon=False)
    figure.savefig(path, dpi=120)


def _render_html(timeline: RunTimeline, path: Path) -> None:
    bars = timeline.bars()
    critical = set(timeline.critical_path())
    colours = executor_colours(timeline)
    label_width, row_height, width = 220, 30, 900
    span = max([bar.end for bar in bars] + [timeline.makespan_s or 0.0, 1e-3])
    scale = width / span
    height = row_height * len(timeline.tasks) + 40

    def x(seconds: float) -> float:
        return label_width + seconds * scale

    shapes = []
    for row, task in enumerate(timeline.tasks):
        y = row * row_height + 20
        weight = "bold" if task.task_id in critical else "normal"
        fill = CRITICAL_EDGE if task.task_id in critical else "#222"
        shapes.append(
            f'<text x="4" y="{y + 5}" font-weight="{weight}" fill="{fill}">'
            f"{html.escape(row_label(timeline, row, critical))}</text>"
        )
        if task.skip_reason is not None:
            shapes.append(
                f'<text x="{x(0) + 4}" y="{y + 5}" fill="#666" font-style="italic">skipped: {html.escape(task.skip_reason)}</text>'
            )
    for bar in bars:
        y = bar.row * row_height + 20
        tip = (
            f"task {bar.span.task_id} attempt {bar.span.attempt} · {bar.span.status} · {bar.span.executor or '?'} · "
            f"{bar.start:.3f}–{bar.end:.3f} s" + (f" · {bar.span.error}" if bar.span.error else "")
        )
        shapes.append(
            f'<rect x="{x(bar.queued_from):.1f}" y="{y - 3}" width="{(bar.start - bar.queued_from) * scale:.1f}" height="6" fill="#d0d0d0"/>'
        )
        stroke = f'stroke="{CRITICAL_EDGE}" stroke-width="2.5"' if bar.critical else ""
        dash = ' stroke-dasharray="4 2" fill-opacity="0.45"' if bar.span.status == "error" else ""
        shapes.append(
            f'<rect x="{x(bar.start):.1f}" y="{y - 10}" width="{max((bar.end - bar.start) * scale, 1.5):.1f}" height="20" '
            f'fill="{colours.get(bar.span.executor or "", "#bbb")}" {stroke}{dash}><title>{html.escape(tip)}</title></rect>'
        )
    for x0, row0, x1, row1 in _dependency_links(timeline, bars):
        shapes.append(
            f'<line x1="{x(x0):.1f}" y1="{row0 * row_height + 20}" x2="{x(x1):.1f}" y2="{row1 * row_height + 20}" '
            'stroke="#9a9a9a" stroke-width="1" marker-end="url(#arrow)"/>'
        )
    if timeline.makespan_s:
        shapes.append(
            f'<line x1="{x(timeline.makespan_s):.1f}" y1="0" x2="{x(timeline.makespan_s):.1f}" y2="{height - 20}" stroke="#444" stroke-dasharray="5 3"/>'
        )
    for tick in range(0, 6):
        seconds = span * tick / 5
        shapes.append(f'<text x="{x(seconds):.1f}" y="{height - 4}" font-size="11" fill="#555">{seconds:.2f} s</text>')
    legend = "".join(
        f'<span><i style="background:{colour}"></i>{html.escape(name)}</span>' for name, colour in colours.items()
    )
    path.write_text(
        f"""<!doctype html>
<meta charset="utf-8">
<title>{html.escape(title(timeline))}</title>
<style>
body {{ font: 13px system-ui, sans-serif; margin: 16px; }}
svg text {{ font: 12px system-ui, sans-serif; }}
.legend span {{ margin-right: 14px; }} .legend i {{ display: inline-block; width: 12px; height: 12px; margin-right: 4px; vertical-align: -1px; }}
</style>
<h3>{html.escape(title(timeline))}</h3>
<p class="legend">{legend}<span><i style="border:2px solid {CRITICAL_EDGE}"></i>★ critical path</span>
<span><i style="background:#999;opacity:.45"></i>failed attempt</span><span><i style="background:#d0d0d0"></i>waiting for an executor</span>
· seconds since the run was planned; dashed line: the run finished; hover a bar for details</p>
<svg xmlns="http://www.w3.org/2000/svg" width="{label_width + width + 40}" height="{height}">
<defs><marker id="arrow" viewBox="0 0 6 6" refX="6" refY="3" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0 L6,3 L0,6 z" fill="#9a9a9a"/></marker></defs>
{chr(10).join(shapes)}
</svg>
"""
    )

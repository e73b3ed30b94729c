"""The timeline as a PNG, drawn with matplotlib (gantt.py describes the chart)."""

from __future__ import annotations

from pathlib import Path

from services.warehouse.chart import ARROW, CRITICAL_EDGE, WAITING, dependency_links, executor_colours, row_label, title
from services.warehouse.core.timeline import RunTimeline


def write_png(timeline: RunTimeline, path: Path) -> None:
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
    axes.legend(handles=legend, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncols=4, fontsize=8, frameon=False)
    figure.savefig(path, dpi=120)

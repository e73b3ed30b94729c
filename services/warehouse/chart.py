"""What both timeline charts (PNG and HTML) share: title, colours, row labels, dependency arrows."""

from __future__ import annotations

from services.warehouse.core.timeline import Bar, RunTimeline

# Colour-blind-safe (Okabe-Ito), one per executor in order of first use; more executors reuse them.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999")
CRITICAL_EDGE = "#B00020"
WAITING = "#d0d0d0"
ARROW = "#9a9a9a"


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


def dependency_links(timeline: RunTimeline, bars: list[Bar]) -> list[tuple[float, int, float, int]]:
    """(x, row) of each dependency's settling end to (x, row) of the first dispatch of the task that needed it."""
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

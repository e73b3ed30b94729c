"""A run's Gantt chart: one row per task, one bar per attempt, coloured by the executor that ran it.

Bars that overlap in time are tasks that ran in parallel. A thin grey lead-in shows how long an attempt waited
between dispatch and start; failed attempts are hatched; critical-path tasks are outlined and starred; grey
arrows go from a dependency's end to the start of the task that needed it. PNG (matplotlib) or one
self-contained HTML page (inline SVG).
"""

from __future__ import annotations

from pathlib import Path

from services.warehouse.core.timeline import RunTimeline
from services.warehouse.gantt_html import write_html
from services.warehouse.gantt_png import write_png


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

"""The PNG timeline's legend stays clear of the x-axis label, however few tasks the run had."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.warehouse.core.timeline import AttemptSpan, RunTimeline, TaskLine
from services.warehouse.gantt import png_figure

PLANNED = datetime(2026, 1, 1, tzinfo=UTC)


def small_run(tasks: int) -> RunTimeline:
    lines = []
    for number in range(1, tasks + 1):
        started = PLANNED + timedelta(seconds=0.1 * number)
        span = AttemptSpan(
            task_id=str(number),
            attempt=1,
            status="ok",
            executor=f"executor-{number}",
            dispatched_at=started - timedelta(seconds=0.05),
            started_at=started,
            finished_at=started + timedelta(seconds=0.5),
        )
        lines.append(TaskLine(str(number), "sleep", "", (), (span,)))
    return RunTimeline("small", "succeeded", 0.7, 0.5 * tasks, 0.5, tasks / 1.4, PLANNED, tuple(lines))


@pytest.mark.parametrize("tasks", [1, 2, 3, 12])
def test_legend_does_not_cover_the_axis_label_when_the_run_is_small(tasks: int) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure = png_figure(small_run(tasks))
    renderer = FigureCanvasAgg(figure).get_renderer()
    figure.draw(renderer)  # lays the figure out as savefig would
    label = figure.axes[0].xaxis.label.get_window_extent(renderer)
    legend = figure.legends[0] if figure.legends else figure.axes[0].get_legend()
    box = legend.get_window_extent(renderer)
    assert not box.overlaps(label), f"legend {box} covers the x-axis label {label}"
    assert figure.bbox.contains(box.x0, box.y0) and figure.bbox.contains(box.x1, box.y1)  # and is not cut off

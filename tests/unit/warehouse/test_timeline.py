"""A run's timeline: parallel attempts side by side, the measured critical path, and the chart files."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.cli.main import app
from services.warehouse import gantt
from services.warehouse.query import open_reader
from services.warehouse.runs import RunNotFound, load_timeline, resolve_run_id
from services.warehouse.settings import WarehouseSettings
from services.warehouse.store import WarehouseStore
from tests.unit.warehouse.events import fan_out_run, write


@pytest.fixture
def warehouse(settings: WarehouseSettings) -> WarehouseSettings:
    """A warehouse file, no writer running, holding two fan-out runs (one with a retried task)."""
    store = WarehouseStore.open(settings.database_path, checkpoint_threshold="16MB", timeout_s=1)
    write(store, *fan_out_run("run-wide-1", width=4, executors=3, failing="2"), *fan_out_run("run-other"))
    store.close()
    return settings


def test_parallel_attempts_overlap_on_the_chart_when_tasks_ran_together(warehouse: WarehouseSettings) -> None:
    with open_reader(warehouse) as reader:
        timeline = load_timeline(reader, "run-wide-1")
    bars = timeline.bars()
    searches = [bar for bar in bars if bar.span.task_id in ("1", "3", "4")]
    assert max(bar.start for bar in searches) < min(bar.end for bar in searches)  # all running at once
    join = next(bar for bar in bars if bar.span.task_id == "5")
    assert join.start >= max(bar.end for bar in bars if bar.span.task_id != "5")
    assert [bar.span.attempt for bar in bars if bar.span.task_id == "2"] == [1, 2]
    assert set(timeline.executors()) == {"executor-1", "executor-2", "executor-3"}


def test_critical_path_follows_measured_durations_when_attempts_finished(warehouse: WarehouseSettings) -> None:
    with open_reader(warehouse) as reader:
        timeline = load_timeline(reader, "run-wide-1")
    # Task 4 ran longest (1.3 s); the planned path named task 1.
    assert timeline.planned_critical_path == ("1", "5")
    assert timeline.critical_path() == ["4", "5"]
    assert [task.status for task in timeline.tasks] == ["succeeded"] * 5


def test_png_and_html_are_written_when_a_chart_is_asked_for(warehouse: WarehouseSettings, tmp_path: Path) -> None:
    with open_reader(warehouse) as reader:
        timeline = load_timeline(reader, "run-wide-1")
    png = gantt.render(timeline, tmp_path / "charts" / "run.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = gantt.render(timeline, tmp_path / "run.html").read_text()
    assert page.count("<rect") >= 6 and "★ 4 · kb_search" in page
    assert "<script" not in page and "src=" not in page  # self-contained
    with pytest.raises(gantt.UnsupportedChartFormat):
        gantt.render(timeline, tmp_path / "run.svg")


def test_run_is_found_by_the_start_of_its_id_when_that_is_unique(warehouse: WarehouseSettings) -> None:
    with open_reader(warehouse) as reader:
        assert resolve_run_id(reader, "run-w") == "run-wide-1"
        with pytest.raises(RunNotFound, match="several runs"):
            resolve_run_id(reader, "run-")
        with pytest.raises(RunNotFound, match="no run"):
            resolve_run_id(reader, "nope")


def test_runs_show_lists_tasks_and_writes_the_timeline_when_asked(warehouse: WarehouseSettings, tmp_path: Path) -> None:
    chart = tmp_path / "wide.png"
    result = CliRunner().invoke(
        app,
        ["runs", "show", "run-wide", "--gantt", str(chart)],
        env={"GENESIS_WAREHOUSE_DIR": warehouse.dir, "COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert "run run-wide-1 · succeeded" in result.stdout
    assert "executor-" in result.stdout and "★" in result.stdout
    assert chart.exists() and str(chart) in result.stdout


def test_runs_list_shows_the_latest_runs_first_when_asked(warehouse: WarehouseSettings) -> None:
    result = CliRunner().invoke(app, ["runs", "list"], env={"GENESIS_WAREHOUSE_DIR": warehouse.dir, "COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "run-wide-1" in result.stdout and "run-other" in result.stdout

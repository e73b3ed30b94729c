"""The console's warehouse reads: a finished run folded from its stored events, and a SQL box that only reads."""

from __future__ import annotations

import pytest

from services.console.core.sql_guard import RefusedQuery
from services.console.warehouse import WarehouseViews
from services.warehouse.query import BadQuery
from services.warehouse.settings import WarehouseSettings

ESCAPES = [
    "COPY (SELECT 1) TO '{tmp}/out.csv'",
    "COPY runs TO '{tmp}/snapshots/runs.csv'",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_text('/etc/hostname')",
    "SELECT * FROM glob('/*')",
    "ATTACH '{tmp}/other.duckdb' AS other",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET enable_external_access = true",
    "CREATE TABLE mine AS SELECT 1",
    "SELECT 1; DROP TABLE runs",
]


@pytest.mark.parametrize("mode", ["stored", "held"])
@pytest.mark.parametrize("statement", ESCAPES)
def test_sql_box_refuses_to_touch_files_or_change_anything_when_asked(
    statement: str, mode: str, request: pytest.FixtureRequest
) -> None:
    settings: WarehouseSettings = request.getfixturevalue(mode)
    views = WarehouseViews(settings, max_rows=100)
    with pytest.raises((RefusedQuery, BadQuery)):
        views.sql(statement.format(tmp=settings.root))
    assert not (settings.root / "out.csv").exists() and not (settings.root / "snapshots" / "runs.csv").exists()


@pytest.mark.parametrize("mode", ["stored", "held"])
def test_sql_box_answers_a_select_over_the_views_when_the_warehouse_has_runs(
    mode: str, request: pytest.FixtureRequest
) -> None:
    views = WarehouseViews(request.getfixturevalue(mode), max_rows=2)
    result, _, source = views.sql("WITH t AS (SELECT tool, attempts FROM tool_latency) SELECT * FROM t")
    assert result.columns == ["tool", "attempts"] and {row[0] for row in result.rows} <= {"kb_search", "calculator"}
    everything, cut, _ = views.sql("SELECT * FROM task_attempts")
    assert len(everything.rows) == 2 and cut  # at most max_rows, and it says so
    assert ("snapshots" in source) == (mode == "held")


def test_bad_sql_is_a_one_line_message_when_duckdb_refuses_it(stored: WarehouseSettings) -> None:
    with pytest.raises(BadQuery, match="nope") as refused:
        WarehouseViews(stored, max_rows=10).sql("SELECT * FROM nope")
    assert "\n" not in str(refused.value)
    with pytest.raises(RefusedQuery, match="not valid SQL"):
        WarehouseViews(stored, max_rows=10).sql("SELEC 1")


def test_finished_run_is_folded_from_its_stored_events_when_not_on_the_live_feed(stored: WarehouseSettings) -> None:
    views = WarehouseViews(stored, max_rows=10)
    run = views.run("run-wide")
    assert run is not None and run.status == "succeeded" and run.tasks["2"].retried
    assert [task.state for task in run.tasks.values()] == ["succeeded"] * 4
    assert views.run("no-such-run") is None
    rows = views.runs(status="succeeded", label="job=fan", limit=10)
    assert {row["run_id"] for row in rows} == {"run-wide", "run-plain"} and rows[0]["speedup"] == 2.5
    assert views.runs(status="failed", label=None, limit=10) == []


def test_charts_are_inline_svg_when_the_views_have_data(stored: WarehouseSettings) -> None:
    drawn = WarehouseViews(stored, max_rows=10).charts()
    for name in ("tool_latency", "speedup", "error_rates", "tokens", "rewards"):
        assert drawn[name].startswith("<svg") and "<script" not in drawn[name] and "href" not in drawn[name]
    assert "kb_search" in drawn["tool_latency"] and "no data yet" in drawn["rewards"]
    assert drawn["policies"] == []


def test_a_query_is_stopped_with_the_setting_named_when_it_runs_past_the_time_limit(stored: WarehouseSettings) -> None:
    views = WarehouseViews(stored, max_rows=10, timeout_s=0.2)
    endless = "SELECT count(*) FROM range(1000000000) AS a(i), range(1000000000) AS b(j) WHERE a.i + b.j = -1"
    with pytest.raises(BadQuery, match=r"console\.sql_timeout_s \(0\.2 s\)"):
        views.sql(endless)
    result, _, _ = views.sql("SELECT 1 AS one")  # a new reader: the next query runs normally
    assert result.rows == [(1,)]

"""Analysts read while the writer runs: day-partitioned Parquet snapshots, or the file when no writer holds it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.cli.main import app
from services.warehouse.query import BadQuery, WarehouseUnavailable, open_reader
from services.warehouse.settings import WarehouseSettings
from services.warehouse.snapshots import SNAPSHOT_TABLES, every_day, write_snapshot
from services.warehouse.store import WarehouseStore
from tests.unit.warehouse.events import fan_out_run, write

runner = CliRunner()


@pytest.fixture
def writer(settings: WarehouseSettings) -> Iterator[WarehouseStore]:
    """A writer holding the warehouse file, as the running service does."""
    store = WarehouseStore.open(settings.database_path, checkpoint_threshold="16MB", timeout_s=1)
    yield store
    store.close()


def test_analyst_reads_snapshots_when_a_writer_holds_the_file(
    writer: WarehouseStore, settings: WarehouseSettings
) -> None:
    write(writer, *fan_out_run("run-1"), *fan_out_run("run-2"))
    write_snapshot(writer.connection.cursor(), settings.snapshot_dir, every_day(writer.connection))
    with open_reader(settings) as reader:
        assert reader.source.startswith("snapshots in")
        assert reader.query("SELECT count(*) FROM runs").rows == [(2,)]
        assert reader.query("SELECT count(*) FROM events").rows == [(len(fan_out_run("x")) * 2,)]
        assert reader.query("SELECT count(*) FROM rewards").rows == [(0,)]  # no file yet: an empty table
        assert reader.query("SELECT tool, attempts FROM tool_latency ORDER BY tool").rows == [
            ("calculator", 2),
            ("kb_search", 6),
        ]
        assert reader.query("SELECT DISTINCT day::VARCHAR FROM task_attempts").rows == [("2026-03-01",)]


def test_snapshot_is_one_file_per_table_and_day_when_rewritten(
    writer: WarehouseStore, settings: WarehouseSettings
) -> None:
    write(writer, *fan_out_run("run-1"))
    write_snapshot(writer.connection.cursor(), settings.snapshot_dir, every_day(writer.connection))
    write(writer, *fan_out_run("run-2"))
    written = write_snapshot(
        writer.connection.cursor(), settings.snapshot_dir, {"runs": set(every_day(writer.connection)["runs"])}
    )
    files = sorted(
        path.relative_to(settings.snapshot_dir).as_posix()
        for path in settings.snapshot_dir.rglob("*")
        if path.is_file()
    )
    assert written == 1
    assert "runs/day=2026-03-01/data.parquet" in files
    assert not [name for name in files if "partial" in name]
    assert {name.split("/")[0] for name in files} == set(SNAPSHOT_TABLES) - {"task_skips", "rewards", "policies"}
    with open_reader(settings) as reader:
        assert reader.query("SELECT count(*) FROM runs").rows == [(2,)]  # rewritten
        assert reader.query("SELECT count(DISTINCT run_id) FROM turns").rows == [(1,)]  # not touched yet


def test_analyst_reads_the_file_when_no_writer_holds_it(settings: WarehouseSettings) -> None:
    store = WarehouseStore.open(settings.database_path, checkpoint_threshold="16MB", timeout_s=1)
    write(store, *fan_out_run("run-1"))
    store.close()
    with open_reader(settings) as reader:
        assert "read-only" in reader.source
        assert reader.query("SELECT status FROM runs").rows == [("succeeded",)]
        with pytest.raises(BadQuery):
            reader.query("DELETE FROM runs")


def test_reader_says_what_to_do_when_there_is_no_warehouse(settings: WarehouseSettings) -> None:
    with pytest.raises(WarehouseUnavailable, match="genesis up"):
        open_reader(settings)


def test_reader_says_to_wait_when_the_writer_has_no_snapshot_yet(
    writer: WarehouseStore, settings: WarehouseSettings
) -> None:
    with pytest.raises(WarehouseUnavailable, match="not written a snapshot yet"):
        open_reader(settings)


def test_sql_prints_a_json_array_of_row_objects_when_asked(writer: WarehouseStore, settings: WarehouseSettings) -> None:
    write(writer, *fan_out_run("run-1"))
    write_snapshot(writer.connection.cursor(), settings.snapshot_dir, every_day(writer.connection))
    result = _genesis(settings, "warehouse", "sql", "SELECT run_id, status, finished_at FROM runs", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(row["run_id"], row["status"]) for row in rows] == [("run-1", "succeeded")]
    assert rows[0]["finished_at"].startswith("2026-03-01T09:00:01")


def test_sql_prints_csv_with_a_header_when_asked(settings: WarehouseSettings) -> None:
    store = WarehouseStore.open(settings.database_path, checkpoint_threshold="16MB", timeout_s=1)
    write(store, *fan_out_run("run-1"))
    store.close()
    result = _genesis(settings, "warehouse", "sql", "SELECT tool, attempts FROM tool_latency ORDER BY tool", "--csv")
    assert result.stdout.splitlines() == ["tool,attempts", "calculator,1", "kb_search,3"]


def test_sql_exits_2_with_the_reason_on_stderr_when_the_query_is_bad(settings: WarehouseSettings) -> None:
    store = WarehouseStore.open(settings.database_path, checkpoint_threshold="16MB", timeout_s=1)
    store.close()
    result = _genesis(settings, "warehouse", "sql", "SELEC nothing")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "bad query" in result.stderr and "syntax error" in result.stderr


def _genesis(settings: WarehouseSettings, *args: str):
    return runner.invoke(app, list(args), env={"GENESIS_WAREHOUSE_DIR": str(Path(settings.dir))})

"""Analysts read while the writer runs: day-partitioned Parquet snapshots, or the file when no writer holds it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

import services.warehouse.snapshots as snapshot_module
from services.cli.main import app
from services.warehouse.query import BadQuery, WarehouseUnavailable, open_reader
from services.warehouse.settings import WarehouseSettings
from services.warehouse.snapshots import SNAPSHOT_TABLES, Snapshots, snapshot_files
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
    Snapshots(settings.snapshot_dir).write(writer.connection.cursor())
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


def test_snapshot_adds_only_the_new_rows_when_written_again(
    writer: WarehouseStore, settings: WarehouseSettings
) -> None:
    snapshots = Snapshots(settings.snapshot_dir)
    write(writer, *fan_out_run("run-1"))
    first = snapshots.write(writer.connection.cursor())
    write(writer, *fan_out_run("run-2"))
    second = snapshots.write(writer.connection.cursor(), {"runs": {date(2026, 3, 1)}})
    tables = set(SNAPSHOT_TABLES) - {"task_skips", "rewards", "policies"}  # no rows: no files
    assert first == second == len(tables)  # a base per table and day, then one part each (runs: rewritten)
    assert {path.parts[0] for path in _files(settings)} == tables
    assert len(_files(settings, "events")) == 2
    assert len(_files(settings, "runs")) == 1
    with open_reader(settings) as reader:
        assert reader.query("SELECT count(*) FROM runs").rows == [(2,)]
        assert reader.query("SELECT count(*) FROM events").rows == [(len(fan_out_run("x")) * 2,)]
        assert reader.query("SELECT count(DISTINCT run_id) FROM turns").rows == [(2,)]


def test_snapshot_parts_merge_in_tiers_when_a_tier_fills(writer: WarehouseStore, settings: WarehouseSettings) -> None:
    snapshots = Snapshots(settings.snapshot_dir, fanout=2)
    snapshots.write(writer.connection.cursor())  # nothing yet: no files
    counts = []
    for number in range(1, 9):
        write(writer, *fan_out_run(f"run-{number}"))
        snapshots.write(writer.connection.cursor(), {"runs": {date(2026, 3, 1)}})
        counts.append(len(_files(settings, "events")))
    assert counts == [1, 1, 2, 1, 2, 2, 3, 1]  # a binary counter: parts of 1, 2, 4 and 8 snapshots
    with open_reader(settings) as reader:
        assert reader.query("SELECT count(*), count(DISTINCT event_id) FROM events").rows == [
            (len(fan_out_run("x")) * 8, len(fan_out_run("x")) * 8)
        ]


def test_replaced_files_stay_readable_until_the_grace_period_ends(
    writer: WarehouseStore, settings: WarehouseSettings
) -> None:
    now = [0.0]
    snapshots = Snapshots(settings.snapshot_dir, fanout=2, grace_s=60, clock=lambda: now[0])
    write(writer, *fan_out_run("run-1"))
    snapshots.write(writer.connection.cursor())
    listed = [path for table in SNAPSHOT_TABLES for path in snapshot_files(settings.snapshot_dir, table)]
    write(writer, *fan_out_run("run-2"))
    snapshots.write(writer.connection.cursor(), {"runs": {date(2026, 3, 1)}})
    assert all(path.exists() for path in listed)  # what a query listed, though every day has a new generation
    now[0] = 61.0
    snapshots.write(writer.connection.cursor())
    assert not any(path.exists() for path in listed)
    with open_reader(settings) as reader:
        assert reader.query("SELECT count(*) FROM runs").rows == [(2,)]


def test_first_snapshot_retires_files_an_earlier_writer_left(
    writer: WarehouseStore, settings: WarehouseSettings
) -> None:
    write(writer, *fan_out_run("run-1"))
    old = settings.snapshot_dir / "events"
    for day in ("2026-03-01", "2020-01-01"):  # the layout before parts: one file per day, one day no longer held
        (old / f"day={day}").mkdir(parents=True)
        writer.connection.execute(f"COPY (SELECT * EXCLUDE (day) FROM events) TO '{old}/day={day}/data.parquet'")
    now = [0.0]
    snapshots = Snapshots(settings.snapshot_dir, grace_s=60, clock=lambda: now[0])
    snapshots.write(writer.connection.cursor())
    with open_reader(settings) as reader:
        assert reader.query("SELECT day::VARCHAR, count(*) FROM events GROUP BY day").rows == [
            ("2026-03-01", len(fan_out_run("x")))
        ]
    now[0] = 61.0
    snapshots.write(writer.connection.cursor())
    assert not [path for path in old.rglob("*") if path.name == "data.parquet"]
    Snapshots(settings.snapshot_dir, grace_s=60, clock=lambda: now[0]).write(writer.connection.cursor())  # a restart
    now[0] = 122.0
    snapshots.write(writer.connection.cursor())  # its predecessor, still writing: its deletions are its own
    assert len(list((old / ".generations").iterdir())) == 2  # the restarted writer's generation, and the one before


def test_snapshot_publishes_nothing_when_an_export_fails(
    writer: WarehouseStore, settings: WarehouseSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    snapshots = Snapshots(settings.snapshot_dir)
    write(writer, *fan_out_run("run-1"))
    snapshots.write(writer.connection.cursor())
    write(writer, *fan_out_run("run-2"))
    export = snapshot_module._copy
    calls = []

    def failing_third(*args: object) -> None:
        calls.append(args)
        if len(calls) == 3:
            raise OSError("disk full")
        export(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(snapshot_module, "_copy", failing_third)
    with pytest.raises(OSError, match="disk full"):
        snapshots.write(writer.connection.cursor(), {"runs": {date(2026, 3, 1)}})
    with open_reader(settings) as reader:
        assert reader.query("SELECT count(*) FROM runs").rows == [(1,)]
        assert reader.query("SELECT count(DISTINCT run_id) FROM events").rows == [(1,)]
    monkeypatch.setattr(snapshot_module, "_copy", export)
    snapshots.write(writer.connection.cursor(), {"runs": {date(2026, 3, 1)}})
    with open_reader(settings) as reader:
        assert reader.query("SELECT count(*) FROM runs").rows == [(2,)]
        assert reader.query("SELECT count(*), count(DISTINCT event_id) FROM events").rows == [
            (len(fan_out_run("x")) * 2, len(fan_out_run("x")) * 2)
        ]
    generations = list(settings.snapshot_dir.glob("*/.generations/*"))
    assert len(generations) == 2 * (len(SNAPSHOT_TABLES) - 3)  # the first ones (retired) and the current ones


def _files(settings: WarehouseSettings, table: str = "*") -> list[Path]:
    """The Parquet files a reader's glob finds, relative to the snapshot folder."""
    return sorted(
        path.relative_to(settings.snapshot_dir) for path in settings.snapshot_dir.glob(f"{table}/day=*/*.parquet")
    )


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
    Snapshots(settings.snapshot_dir).write(writer.connection.cursor())
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

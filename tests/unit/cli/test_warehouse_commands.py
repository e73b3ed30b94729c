"""runs list gives whole run ids and JSON; runs show --gantt refuses a missing folder; trainer backfill works
while the warehouse service holds its file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from schemas import new_event_id
from services.warehouse.settings import WarehouseSettings
from services.warehouse.snapshots import Snapshots
from services.warehouse.store import WarehouseStore
from tests.unit.warehouse.events import fan_out_run, write


@pytest.fixture
def run_ids(writer: WarehouseStore, warehouse_settings: WarehouseSettings) -> list[str]:
    """Three runs whose time-ordered ids share a long prefix, in a warehouse whose writer is running."""
    ids = [new_event_id() for _ in range(3)]
    write(writer, *(event for run_id in ids for event in fan_out_run(run_id)))
    Snapshots(warehouse_settings.snapshot_dir).write(writer.connection.cursor())
    return ids


def env(settings: WarehouseSettings) -> dict[str, str]:
    return {"GENESIS_WAREHOUSE_DIR": settings.dir}


def test_runs_list_shows_every_run_id_whole_when_the_terminal_is_80_columns(
    genesis, run_ids: list[str], warehouse_settings: WarehouseSettings
) -> None:
    listed = genesis("runs", "list", env=env(warehouse_settings), columns=80)
    assert listed.exit_code == 0, listed.output
    shown = {line.split()[0] for line in listed.stdout.splitlines() if line.strip()}
    assert set(run_ids) <= shown, listed.stdout
    assert "…" not in listed.stdout
    assert max(len(line) for line in listed.stdout.splitlines()) <= 80


def test_runs_list_prints_json_records_when_asked(genesis, run_ids: list[str], warehouse_settings) -> None:
    listed = genesis("runs", "list", "--json", env=env(warehouse_settings))
    assert listed.exit_code == 0, listed.output
    records = json.loads(listed.stdout)
    assert sorted(record["run_id"] for record in records) == sorted(run_ids)
    assert {"status", "tasks", "makespan_s", "speedup", "job"} <= set(records[0])


def test_runs_show_takes_an_id_from_runs_list_when_fed_from_it(genesis, run_ids: list[str], warehouse_settings):
    listed = json.loads(genesis("runs", "list", "--json", env=env(warehouse_settings)).stdout)
    shown = genesis("runs", "show", listed[0]["run_id"], env=env(warehouse_settings))
    assert shown.exit_code == 0, shown.output


def test_gantt_into_a_missing_folder_fails_without_creating_it_when_asked(
    genesis, run_ids: list[str], warehouse_settings: WarehouseSettings, tmp_path: Path
) -> None:
    target = tmp_path / "nope" / "dir" / "x.png"
    shown = genesis("runs", "show", run_ids[0], "--gantt", str(target), env=env(warehouse_settings))
    assert shown.exit_code == 2
    assert "no folder" in shown.output and str(target.parent) in shown.output
    assert not (tmp_path / "nope").exists()


def test_trainer_backfill_reads_the_snapshots_when_the_warehouse_service_holds_the_file(
    genesis, run_ids: list[str], warehouse_settings: WarehouseSettings
) -> None:
    done = genesis("trainer", "backfill", "--json", env=env(warehouse_settings))
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["traces"] == len(run_ids)


def test_trainer_backfill_says_what_to_do_when_there_is_no_warehouse(genesis, tmp_path: Path) -> None:
    done = genesis("trainer", "backfill", env={"GENESIS_WAREHOUSE_DIR": str(tmp_path / "none")})
    assert done.exit_code == 1
    assert "genesis up" in done.output

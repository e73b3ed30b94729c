from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.warehouse.settings import WarehouseSettings
from services.warehouse.snapshots import Snapshots
from services.warehouse.store import WarehouseStore
from tests.unit.warehouse.events import fan_out_run, write


@pytest.fixture
def stored(tmp_path: Path) -> WarehouseSettings:
    """A warehouse file, no writer running, holding a fan-out run with a retried task and a plain one."""
    settings = WarehouseSettings(dir=str(tmp_path / "warehouse"))
    store = WarehouseStore.open(settings.database_path, checkpoint_threshold="16MB", timeout_s=1)
    write(store, *fan_out_run("run-wide", width=3, executors=2, failing="2"), *fan_out_run("run-plain"))
    store.close()
    return settings


@pytest.fixture
def held(tmp_path: Path) -> Iterator[WarehouseSettings]:
    """The same, while a writer holds the file: readers get the Parquet snapshots."""
    settings = WarehouseSettings(dir=str(tmp_path / "warehouse"))
    store = WarehouseStore.open(settings.database_path, checkpoint_threshold="16MB", timeout_s=1)
    write(store, *fan_out_run("run-wide", width=3, executors=2, failing="2"))
    Snapshots(settings.snapshot_dir).write(store.connection.cursor())
    yield settings
    store.close()

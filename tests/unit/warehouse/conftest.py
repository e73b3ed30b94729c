from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from services.warehouse.settings import WarehouseSettings
from services.warehouse.store import WarehouseStore


@pytest.fixture
def store() -> Iterator[WarehouseStore]:
    opened = WarehouseStore(duckdb.connect())
    yield opened
    opened.close()


@pytest.fixture
def settings(tmp_path: Path) -> WarehouseSettings:
    return WarehouseSettings(dir=str(tmp_path / "warehouse"))

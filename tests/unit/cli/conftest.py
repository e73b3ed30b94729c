from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from services.cli import console as cli_console
from services.cli.main import cli
from services.warehouse.settings import WarehouseSettings
from services.warehouse.store import WarehouseStore


@pytest.fixture
def genesis(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """`genesis ARGS` in this process, as a user runs it (examples in the help included), on a terminal ``columns``
    wide; env: extra variables."""
    runner = CliRunner()
    command = cli()

    def run(*args: str, env: dict[str, str] | None = None, columns: int = 200) -> Result:
        for shared in (cli_console.console, cli_console.errors):  # made at import, perhaps with another COLUMNS
            monkeypatch.setattr(shared, "_width", columns)
        return runner.invoke(command, list(args), env={"COLUMNS": str(columns), **(env or {})}, prog_name="genesis")

    return run


@pytest.fixture
def warehouse_settings(tmp_path: Path) -> WarehouseSettings:
    return WarehouseSettings(dir=str(tmp_path / "warehouse"))


@pytest.fixture
def writer(warehouse_settings: WarehouseSettings) -> Iterator[WarehouseStore]:
    """A writer holding the warehouse file, as the running warehouse service does."""
    store = WarehouseStore.open(warehouse_settings.database_path, checkpoint_threshold="16MB", timeout_s=1)
    yield store
    store.close()

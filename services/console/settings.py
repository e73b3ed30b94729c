"""The console's configuration: the `console` section of configs/genesis.yaml (GENESIS_CONSOLE_<KEY>)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from configs.settings import load_section


class ConsoleSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    # Where the pages are served; 0 picks a free port (the health file and the log say which).
    host: str = "127.0.0.1"
    port: int = 8080
    # At start the live feed reads the event topics from this long ago, so runs already going are shown whole.
    lookback_s: float = 900.0
    # The live feed's reads wait up to this long to gather 64 KiB of events (0: each read returns the moment an event
    # is there). Pages then move in steps of at most this, and the console wakes ~10 times a second, not per event.
    feed_batch_wait_ms: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 100
    # Finished runs kept in memory for their pages; older ones are read from the warehouse.
    keep_finished: int = 500
    # The SQL box returns at most this many rows (the CSV too).
    sql_max_rows: int = 5000
    # A query of the SQL box still running after this long is stopped (DuckDB's interrupt) and reported as such.
    sql_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if self.sql_timeout_s <= 0:
            raise ValueError(f"console.sql_timeout_s must be above 0, got {self.sql_timeout_s}")

    # A submission that cannot reach Kafka within this long is refused with that reason.
    submit_timeout_s: float = 15.0


def load_console_settings() -> ConsoleSettings:
    return load_section("console", ConsoleSettings)

"""The warehouse's configuration: the `warehouse` section of configs/genesis.yaml (GENESIS_WAREHOUSE_<KEY>)."""

from __future__ import annotations

from pathlib import Path

import msgspec

from configs.settings import load_section

DATABASE_FILE = "warehouse.duckdb"


class WarehouseSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    # The warehouse's own consumer group. Its offsets live in DuckDB; the ones committed to Kafka only feed lag tools.
    group_id: str = "genesis-warehouse"
    # Prometheus metrics on /metrics and health on /healthz (0: any free port, shown by `genesis status`).
    metrics_port: int = 9403
    # Holds the DuckDB file, the Parquet snapshots and the rendered timelines.
    dir: str = ".genesis/warehouse"
    # A batch is written in one transaction when it holds this many events, or when its oldest has waited this
    # long. Large batches amortise the per-statement and per-commit costs; the wait bounds the delay when quiet.
    batch_max_events: int = 50_000
    batch_max_wait_s: float = 0.5
    # DuckDB folds its write-ahead log into the file when the log reaches this size, inside one commit. Small
    # values rewrite the partly filled last row group of every table at each fold (16 MB halves the ingest rate);
    # large values stall that commit longer and make the log's replay after a crash longer.
    checkpoint_threshold: str = "256MB"
    # Parquet snapshots for analysts are written at most this often (and never take over a fifth of the time).
    snapshot_interval_s: float = 5.0
    # Text fields (arguments, results, prompts, answers, errors) pass through the curator's PII scrubber first.
    scrub_pii: bool = True
    # Batches are prepared (decoded, scrubbed, turned into Arrow tables) in a worker process with its own
    # interpreter lock, so consuming, preparing and committing overlap; false: on a thread of the service.
    prepare_in_process: bool = True
    # At start-up the writer waits this long for readers (`genesis warehouse sql`) to release the file.
    open_timeout_s: float = 30.0

    @property
    def root(self) -> Path:
        return Path(self.dir).expanduser().resolve()

    @property
    def database_path(self) -> Path:
        return self.root / DATABASE_FILE

    @property
    def snapshot_dir(self) -> Path:
        return self.root / "snapshots"

    @property
    def timeline_dir(self) -> Path:
        return self.root / "timelines"


def load_warehouse_settings() -> WarehouseSettings:
    return load_section("warehouse", WarehouseSettings)

"""Where background services keep their pid, health and log files."""

from __future__ import annotations

from pathlib import Path

import msgspec

from configs.settings import load_section


class RuntimeSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    state_dir: str = ".genesis"
    heartbeat_interval_s: float = 1.0
    # A service whose heartbeat is older than this is reported unhealthy.
    unhealthy_after_s: float = 10.0
    ready_timeout_s: float = 90.0
    # genesis up restarts a service that exits after restart_backoff_base_s, doubling with each quick exit in a row
    # (one within restart_stable_after_s of its start) up to restart_backoff_max_s, and gives up after
    # restart_give_up_after quick exits in a row.
    restart_backoff_base_s: float = 0.5
    restart_backoff_max_s: float = 30.0
    restart_give_up_after: int = 5
    restart_stable_after_s: float = 30.0

    @property
    def run_dir(self) -> Path:
        return Path(self.state_dir).expanduser().resolve() / "run"

    @property
    def log_dir(self) -> Path:
        return Path(self.state_dir).expanduser().resolve() / "logs"


def load_runtime_settings() -> RuntimeSettings:
    return load_section("runtime", RuntimeSettings)

"""The executor's configuration: how much it runs at once, how often it commits, how much text it keeps per turn."""

from __future__ import annotations

from typing import Annotated

import msgspec

from configs.settings import load_section


class ExecutorSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    group_id: str = "genesis-executors"
    # Prometheus metrics on /metrics and health on /healthz (0: any free port, shown by `genesis status`).
    metrics_port: int = 9402
    # Tasks in flight per executor process; tools are I/O-bound, so this can be well above the core count.
    concurrency: int = 64
    # Arguments and outputs longer than this are clipped in TurnRecorded (sizes stay exact).
    max_text_bytes: int = 4096
    # Offsets of finished tasks are committed at most this often: one round trip for many tasks. A crash re-delivers
    # at most this long's worth of finished tasks (the planner drops repeated results).
    commit_interval_s: float = 0.05
    # On shutdown, tasks in flight get this long to finish and publish before the process exits.
    drain_timeout_s: float = 30.0
    # Ids of finished or cancelled runs kept to skip their late tasks; the oldest are forgotten past this many.
    remember_finished_runs: int = 100_000
    # The attempts taken here, with their start and result, so that the same call dispatched twice runs its tool once
    # (a planner that dispatches at least once repeats dispatches after it dies): at most this many bytes, the oldest
    # forgotten first; 64 MiB keeps about 60,000 small calls, 25 s at 2,500 tasks/s. A repeat comes within a
    # planner's take-over, seconds after the first copy.
    remember_attempts_bytes: Annotated[int, msgspec.Meta(ge=64 * 1024)] = 64 * 1024 * 1024


def load_executor_settings() -> ExecutorSettings:
    return load_section("executor", ExecutorSettings)

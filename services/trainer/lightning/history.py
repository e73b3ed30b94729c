"""The warehouse's finished runs logged as rollouts, scored as the trainer service scores live runs."""

from __future__ import annotations

from pathlib import Path

import duckdb

from services.trainer.backfill import finished_runs
from services.trainer.core.traces import scored_trace
from services.trainer.core.trajectory import Checker
from services.trainer.lightning.store import RolloutLog, export_jsonl, make_store
from services.trainer.settings import TrainerConfig


async def record_history(
    database: Path | duckdb.DuckDBPyConnection, config: TrainerConfig, checker: Checker, out: Path | None
) -> tuple[list[float], int | None]:
    """Each run's reward, in the order recorded, and how many rollouts went to ``out`` (None: no export)."""
    log = RolloutLog(make_store(config.store))
    rewards = []
    for finished, turns in finished_runs(database):
        trace = scored_trace(finished, turns, config.reward, checker)
        await log.record(trace)
        rewards.append(trace.reward.total)
    exported = await export_jsonl(log.store, out) if out is not None else None
    return rewards, exported

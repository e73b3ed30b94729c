"""genesis trainer backfill: finished runs in the warehouse (its real schema) become rollouts with rewards."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from services.trainer.backfill import WarehouseUnavailable, finished_runs
from services.trainer.core.trajectory import succeeded
from services.trainer.lightning.history import record_history
from services.trainer.settings import load_trainer_config
from services.warehouse.sql import script

RUNS = [
    # run_id, status, answer, expected_answer, makespan_s, turns, tool_errors
    ("right", "succeeded", "42", "42", 1.0, 2, 0),
    ("wrong", "succeeded", "41", "42", 1.0, 2, 0),
    ("failed", "failed", None, None, 3.0, 3, 3),
    ("still-planned", "planned", None, None, None, None, None),
    ("rejected", "rejected", None, None, None, None, None),
]


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute(script("schema.sql"))
        for run_id, status, answer, expected, makespan, turns, errors in RUNS:
            finished_at = "2026-01-01 12:00:00+00" if makespan is not None else None
            connection.execute(
                "INSERT INTO runs (run_id, status, strategy, finished_at, makespan_s, turns, tool_errors, tasks, "
                "answer, expected_answer, labels, day) "
                "VALUES (?, ?, 'parallel', ?, ?, ?, ?, 2, ?, ?, ?, DATE '2026-01-01')",
                [
                    run_id,
                    status,
                    finished_at,
                    makespan,
                    turns,
                    errors,
                    json.dumps(answer) if answer else None,
                    expected,
                    json.dumps({"suite": "backfill"}),
                ],
            )
        for number in range(3):
            connection.execute(
                "INSERT INTO turns (event_id, run_id, task_id, attempt, operation_name, tool_name, started_at, "
                "latency_s, status, error, day) VALUES (?, 'failed', '1', ?, 'execute_tool', 'quote', "
                "TIMESTAMPTZ '2026-01-01 11:59:57+00' + INTERVAL (?) SECOND, 0.5, 'error', '429', DATE '2026-01-01')",
                [f"turn-{number}", number + 1, number],
            )
    return path


def test_finished_runs_come_back_as_events_with_their_turns_when_read_from_the_warehouse(warehouse: Path) -> None:
    runs = {finished.run_id: (finished, turns) for finished, turns in finished_runs(warehouse)}
    assert set(runs) == {"right", "wrong", "failed"}
    finished, turns = runs["failed"]
    assert finished.metrics.tool_errors == 3 and finished.labels == {"suite": "backfill"}
    assert [turn.attempt for turn in turns] == [1, 2, 3] and turns[0].error == "429"
    assert runs["right"][0].answer == "42"


async def test_backfill_logs_each_finished_run_as_a_rollout_with_its_reward_when_run(
    warehouse: Path, tmp_path: Path
) -> None:
    out = tmp_path / "rollouts.jsonl"
    rewards, exported = await record_history(warehouse, load_trainer_config(), succeeded, out)
    by_run = {json.loads(line)["rollout"]["input"]["run_id"]: json.loads(line) for line in out.read_text().splitlines()}
    assert exported == 3 and set(by_run) == {"right", "wrong", "failed"}
    assert sorted(rewards) == pytest.approx(sorted([1.0 + 0.1 + 0.05, -0.5 + 0.1 + 0.05, -0.5 + 0.1 + 0.05 - 0.6]))
    assert len(by_run["failed"]["spans"]) == 1 + 3 + 1  # the run, its three turns, the reward


def test_backfill_says_where_it_looked_when_there_is_no_warehouse(tmp_path: Path) -> None:
    with pytest.raises(WarehouseUnavailable, match="no warehouse at"):
        list(finished_runs(tmp_path / "missing.duckdb"))

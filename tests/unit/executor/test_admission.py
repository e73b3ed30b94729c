"""An executor skips, without running the tool, an attempt that is superseded, past its run's deadline, or of a
run that has already finished; it remembers finished runs in bounded memory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from schemas import TaskReady
from services.executor.core.admission import FinishedRuns, skip_reason

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def ready(**fields: object) -> TaskReady:
    return TaskReady(run_id="r1", task_id="2", attempt=3, tool="sleep", **fields)


def test_runs_the_attempt_when_nothing_has_passed() -> None:
    task = ready(start_by=NOW + timedelta(seconds=1), deadline_at=NOW + timedelta(seconds=60))
    assert skip_reason(task, now=NOW, finished_runs=set()) is None


def test_runs_the_attempt_when_it_has_no_start_by_and_no_deadline() -> None:
    assert skip_reason(ready(), now=NOW, finished_runs=set()) is None


def test_skips_when_the_start_by_has_passed() -> None:
    reason = skip_reason(ready(start_by=NOW - timedelta(seconds=1)), now=NOW, finished_runs=set())
    assert reason == "attempt 3 was not started by 2026-11-27T11:59:59+00:00; the planner dispatches it again"


def test_skips_when_the_run_deadline_has_passed() -> None:
    reason = skip_reason(ready(deadline_at=NOW), now=NOW, finished_runs=set())
    assert reason == "the run's deadline 2026-11-27T12:00:00+00:00 has passed"


def test_skips_when_the_run_has_finished() -> None:
    assert skip_reason(ready(), now=NOW, finished_runs={"r1"}) == "run r1 has already finished"


def test_forgets_the_oldest_run_when_more_finish_than_it_keeps() -> None:
    runs = FinishedRuns(capacity=2)
    for run_id in ("a", "b", "c"):
        runs.add(run_id)
    assert "a" not in runs and "b" in runs and "c" in runs and len(runs) == 2


@given(st.lists(st.text(min_size=1, max_size=8), max_size=200), st.integers(min_value=1, max_value=20))
def test_keeps_exactly_the_newest_runs_when_runs_keep_finishing(run_ids: list[str], capacity: int) -> None:
    runs = FinishedRuns(capacity)
    for run_id in run_ids:
        runs.add(run_id)
    newest = list(dict.fromkeys(reversed(run_ids)))[:capacity]
    assert len(runs) == len(newest) and all(run_id in runs for run_id in newest)

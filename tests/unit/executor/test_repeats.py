"""An executor answers a repeated dispatch of a call it has taken with the first copy's start and result instead of
calling the tool again; a different call under the same attempt runs; memory stays within its byte bound."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from schemas import TaskFinished, TaskReady, TaskStarted
from services.executor.core.repeats import ENTRY_BYTES, TakenAttempts


def ready(task_id: str = "2", attempt: int = 1, **args: object) -> TaskReady:
    return TaskReady(run_id="r1", task_id=task_id, attempt=attempt, tool="search", args=args or {"q": "kafka"})


def started(task: TaskReady) -> TaskStarted:
    return TaskStarted(run_id=task.run_id, task_id=task.task_id, attempt=task.attempt, executor="e1")


def finished(task: TaskReady, result: object = "found") -> TaskFinished:
    return TaskFinished(run_id=task.run_id, task_id=task.task_id, attempt=task.attempt, status="ok", result=result)


def test_runs_the_call_when_this_executor_never_took_it() -> None:
    assert TakenAttempts(1 << 20).repeat_of(ready()) is None


def test_answers_with_the_first_start_when_the_same_call_is_still_running() -> None:
    taken, task = TakenAttempts(1 << 20), ready()
    first = started(task)
    taken.started(task, first)
    repeat = taken.repeat_of(ready())
    assert repeat is not None and repeat.started is first and repeat.finished is None


def test_answers_with_the_first_start_and_result_when_the_same_call_has_finished() -> None:
    taken, task = TakenAttempts(1 << 20), ready()
    first, result = started(task), finished(task)
    taken.started(task, first)
    taken.finished(result)
    repeat = taken.repeat_of(ready())
    assert repeat is not None and (repeat.started, repeat.finished) == (first, result)


def test_runs_the_dispatch_when_the_same_attempt_carries_other_arguments() -> None:
    taken, task = TakenAttempts(1 << 20), ready(q="kafka")
    taken.started(task, started(task))
    assert taken.repeat_of(ready(q="duckdb")) is None


def test_runs_the_next_attempt_of_a_task_taken_before() -> None:
    taken, task = TakenAttempts(1 << 20), ready(attempt=1)
    taken.started(task, started(task))
    assert taken.repeat_of(ready(attempt=2)) is None


def test_keeps_the_first_result_when_an_attempt_is_reported_finished_twice() -> None:
    taken, task = TakenAttempts(1 << 20), ready()
    taken.started(task, started(task))
    taken.finished(finished(task, "first"))
    taken.finished(finished(task, "second"))
    repeat = taken.repeat_of(task)
    assert repeat is not None and repeat.finished is not None and repeat.finished.result == "first"


def test_forgets_the_oldest_attempts_when_their_results_pass_the_byte_bound() -> None:
    taken = TakenAttempts(4 * ENTRY_BYTES + 3000)
    tasks = [ready(task_id=str(n)) for n in range(3)]
    for task in tasks:
        taken.started(task, started(task))
        taken.finished(finished(task, "x" * 1000))
    assert taken.repeat_of(tasks[0]) is None
    assert taken.repeat_of(tasks[1]) is not None and taken.repeat_of(tasks[2]) is not None
    assert taken.bytes <= 4 * ENTRY_BYTES + 3000


@given(
    st.lists(st.tuples(st.integers(0, 30), st.booleans(), st.integers(0, 3000)), max_size=120),
    st.integers(4 * ENTRY_BYTES, 20_000),
)
def test_stays_within_its_byte_bound_and_keeps_the_newest_call_that_fits(
    steps: list[tuple[int, bool, int]], max_bytes: int
) -> None:
    taken = TakenAttempts(max_bytes)
    for task_id, ends, result_bytes in steps:
        task = ready(task_id=str(task_id))
        taken.started(task, started(task))
        if ends:
            taken.finished(finished(task, "x" * result_bytes))
        assert 0 <= taken.bytes <= max_bytes
    if steps and not steps[-1][1]:
        assert taken.repeat_of(ready(task_id=str(steps[-1][0]))) is not None

"""A task's result and arguments are bounded: too large fails the task with the sizes, or with the claim check on
travels by reference to the blob store. Whatever a tool does, the outcome is an error about that task alone."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from schemas import TaskReady
from schemas.codec import encode_event
from services.executor.core.limits import TaskLimits, check_fits
from services.executor.core.perform import perform
from services.executor.tools import ToolRegistry, ToolSpec
from streams.blobs import LocalBlobStore, marker

AT = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SMALL = TaskLimits(max_argument_bytes=1_000, max_result_bytes=1_000)


def ready(tool: str, **args: object) -> TaskReady:
    return TaskReady(run_id="r1", task_id="3", attempt=1, tool=tool, args=dict(args), timeout_s=5.0)


def registry_of(**tools) -> ToolRegistry:
    registry = ToolRegistry()
    for name, fn in tools.items():
        registry.register(ToolSpec(name=name, fn=fn, timeout_s=1.0))
    return registry


async def repeat(text: str, times: int) -> str:
    return text * times


async def echo(value: object) -> object:
    return value


async def run(task: TaskReady, registry: ToolRegistry, limits: TaskLimits = SMALL, blobs=None):
    turns, finished = await perform(
        task, registry, executor="executor-1", now=lambda: AT, max_text_bytes=100, limits=limits, blobs=blobs
    )
    (turn,) = turns  # one turn per attempt of a plain tool
    return turn, finished


async def test_fails_without_retry_and_names_both_sizes_when_the_result_is_over_the_limit() -> None:
    turn, finished = await run(ready("repeat", text="x", times=2_000), registry_of(repeat=repeat))
    assert finished.status == "error" and finished.retryable is False
    assert finished.error == "result is 2002 bytes, over tools.max_result_bytes (1000)"
    assert finished.result is None and turn.status == "error"


async def test_keeps_the_result_when_it_is_exactly_at_the_limit() -> None:
    _, finished = await run(ready("repeat", text="x", times=998), registry_of(repeat=repeat))
    assert finished.status == "ok" and finished.result == "x" * 998


async def test_stores_the_result_and_sends_its_reference_when_the_claim_check_is_on(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    limits = TaskLimits(max_argument_bytes=1_000, max_result_bytes=1_000, claim_check=True)
    turn, finished = await run(ready("repeat", text="y", times=5_000), registry_of(repeat=repeat), limits, store)
    assert finished.status == "ok" and finished.result is None and finished.result_ref is not None
    assert msgspec.json.decode(store.get(finished.result_ref)) == "y" * 5_000
    assert turn.output_bytes == 5_002 and len(encode_event(finished)) < 1_000


async def test_reads_stored_results_back_into_the_arguments_when_a_dependency_was_stored(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    ref = store.put(msgspec.json.encode(["a", "b"]))
    _, finished = await run(ready("echo", value={"items": marker(ref)}), registry_of(echo=echo), SMALL, store)
    assert finished.result == {"items": ["a", "b"]}


async def test_fails_the_task_when_a_stored_argument_is_missing(tmp_path: Path) -> None:
    ref = "sha256:" + "0" * 64
    _, finished = await run(ready("echo", value=marker(ref)), registry_of(echo=echo), SMALL, LocalBlobStore(tmp_path))
    assert finished.status == "error" and finished.retryable is False
    assert "cannot be read" in finished.error and ref in finished.error


async def test_fails_without_running_the_tool_when_the_arguments_are_over_the_limit() -> None:
    calls = []

    async def record(text: str) -> str:
        calls.append(text)
        return text

    _, finished = await run(ready("record", text="z" * 2_000), registry_of(record=record))
    assert finished.error == "arguments are 2011 bytes, over tools.max_argument_bytes (1000)"
    assert calls == [] and finished.retryable is False


@pytest.mark.parametrize(
    "value",
    [object(), iter([1, 2]), {"key": object()}, complex(1, 2)],
    ids=["object", "iterator", "nested-object", "complex"],
)
async def test_fails_without_retry_when_the_tool_returns_something_json_cannot_carry(value: object) -> None:
    async def odd() -> object:
        return value

    _, finished = await run(ready("odd"), registry_of(odd=odd))
    assert finished.status == "error" and finished.retryable is False
    assert finished.error.startswith("odd returned a value JSON cannot carry:")
    encode_event(finished)  # the failure itself always travels


async def test_clips_the_reason_when_a_tool_raises_with_a_huge_message() -> None:
    async def loud() -> None:
        raise RuntimeError("E" * 5_000_000)

    turn, finished = await run(ready("loud"), registry_of(loud=loud))
    assert finished.status == "error" and len(finished.error) < 2_100
    assert finished.error.endswith("characters)") and turn.error == finished.error
    assert len(encode_event(finished)) < 3_000


async def test_reports_a_timeout_when_the_tool_hangs() -> None:
    async def hangs() -> None:
        await asyncio.Event().wait()

    _, finished = await run(ready("hangs"), registry_of(hangs=hangs))
    assert finished.status == "error" and finished.retryable is True
    assert finished.error == "hangs timed out after 1 s"


def test_refuses_at_start_up_a_result_limit_kafka_could_not_carry() -> None:
    with pytest.raises(ValueError, match=r"tools.max_result_bytes \(2000000\).*kafka.max_message_bytes \(1048576\)"):
        check_fits(TaskLimits(max_result_bytes=2_000_000), 1_048_576)
    check_fits(TaskLimits(), 1_048_576)

"""Specification of one task run by the executor: the turn it records and the result it reports."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schemas import TaskReady
from services.executor.core.perform import perform
from services.executor.tools import ToolError, ToolRegistry, ToolResult, ToolSpec

AT = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def ready(tool: str, **args: object) -> TaskReady:
    return TaskReady(run_id="r1", task_id="3", attempt=2, tool=tool, args=dict(args), timeout_s=5.0)


async def run(task: TaskReady, registry: ToolRegistry, max_text_bytes: int = 4096):
    turns, finished = await perform(
        task, registry, executor="executor-7", now=lambda: AT, max_text_bytes=max_text_bytes
    )
    (turn,) = turns  # one turn per attempt of a plain tool
    return turn, finished


async def test_reports_the_result_and_a_tool_turn_when_the_tool_succeeds(registry: ToolRegistry) -> None:
    turn, finished = await run(ready("calculator", expression="6 * 7"), registry)
    assert (finished.status, finished.result, finished.attempt, finished.executor) == ("ok", 42, 2, "executor-7")
    assert finished.started_at == AT and finished.finished_at >= AT
    assert (turn.operation, turn.tool_name, turn.status) == ("execute_tool", "calculator", "ok")
    assert turn.arguments == '{"expression":"6 * 7"}' and turn.arguments_bytes == len(turn.arguments)
    assert turn.output == "42" and turn.output_bytes == 2


async def test_reports_a_non_retryable_error_when_the_arguments_are_wrong(registry: ToolRegistry) -> None:
    turn, finished = await run(ready("calculator", formula="1 + 1"), registry)
    assert finished.status == "error" and finished.retryable is False
    assert "missing a required argument: 'expression'" in (finished.error or "")
    assert turn.status == "error" and turn.error == finished.error


async def test_reports_a_non_retryable_error_when_the_tool_is_unknown(registry: ToolRegistry) -> None:
    _, finished = await run(ready("teleport"), registry)
    assert finished.status == "error" and finished.retryable is False
    assert "unknown tool 'teleport'" in (finished.error or "")


async def test_records_tokens_and_a_chat_turn_when_the_tool_is_the_llm() -> None:
    async def llm(prompt: str) -> ToolResult:
        return ToolResult(value="Paris", input_tokens=12, output_tokens=3, model="small-model")

    registry = ToolRegistry()
    registry.register(ToolSpec(name="llm", fn=llm))
    turn, finished = await run(ready("llm", prompt="Capital of France?"), registry)
    assert (turn.operation, turn.model, turn.input_tokens, turn.output_tokens) == ("chat", "small-model", 12, 3)
    assert (finished.input_tokens, finished.output_tokens, finished.result) == (12, 3, "Paris")


async def test_clips_long_text_but_keeps_exact_sizes_when_output_is_large() -> None:
    async def echo(text: str) -> str:
        return text

    registry = ToolRegistry()
    registry.register(ToolSpec(name="echo", fn=echo))
    turn, finished = await run(ready("echo", text="x" * 10_000), registry, max_text_bytes=100)
    assert len(turn.output) == 100 and turn.output_bytes == 10_002  # the JSON string's quotes included
    assert finished.result == "x" * 10_000  # the planner gets the whole result


@pytest.mark.parametrize("retryable", [True, False])
async def test_keeps_the_tools_verdict_on_retrying_when_it_raises_tool_error(retryable: bool) -> None:
    async def flaky() -> None:
        raise ToolError("upstream said no", retryable=retryable)

    registry = ToolRegistry()
    registry.register(ToolSpec(name="flaky", fn=flaky))
    _, finished = await run(ready("flaky"), registry)
    assert finished.retryable is retryable and "upstream said no" in (finished.error or "")

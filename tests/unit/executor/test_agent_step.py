"""Agent steps: a free-text plan task runs as model turns of a schema-enforced shape, with at most K tool calls,
and each model call and tool call becomes a TurnRecorded of its own."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import jsonschema
import pytest

from schemas import TaskReady
from services.executor.core.perform import perform
from services.executor.tools import ToolSettings, build_registry
from services.executor.tools.agent import turn_schema
from services.llm.settings import LlmSettings
from tests.support.openai_server import API_KEY, LocalServer

CALL = {"action": "call", "tool": "calculator", "args": {"expression": "6 * 7"}}


def registry_for(server: LocalServer, max_calls: int):
    llm = LlmSettings(
        base_url=f"{server.base_url}/v1",
        model="agent-model",
        api_key=API_KEY,
        timeout_s=5.0,
        structured_output="json_object",
        agent_max_tool_calls=max_calls,
    )
    return build_registry(ToolSettings(kb_latency_s=0.0), llm=llm, entry_point_group=None)


def agent_task(context: dict) -> TaskReady:
    args = {"prompt": "Multiply six by seven", "context": context}
    return TaskReady(run_id="r", task_id="4", attempt=1, tool="llm", args=args, timeout_s=60.0)


def test_turn_schema_allows_a_valid_call_or_an_answer_and_nothing_else_when_tools_are_offered() -> None:
    schema = turn_schema({"calculator": ("expression",), "kb_search": ("query",)})
    jsonschema.validate(CALL, schema)
    jsonschema.validate({"action": "answer", "answer": "42"}, schema)
    for bad in ({"action": "call", "tool": "rm", "args": {}}, {"action": "call", "tool": "calculator", "args": {}}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)
    assert turn_schema({}) == {
        "type": "object",
        "properties": {"action": {"const": "answer"}, "answer": {"type": "string", "minLength": 1}},
        "required": ["action", "answer"],
        "additionalProperties": False,
    }


async def test_model_calls_at_most_k_tools_then_must_answer_when_it_keeps_asking_for_tools(
    local_server: LocalServer,
) -> None:
    local_server.state.chat_reply = json.dumps(CALL)  # a model that never stops calling the calculator
    turns, finished = await perform(
        agent_task({"1": 6}), registry_for(local_server, max_calls=2), executor="e", now=_now, max_text_bytes=4096
    )
    assert [(turn.operation, turn.tool_name) for turn in turns] == [
        ("chat", "llm"),
        ("execute_tool", "calculator"),
        ("chat", "llm"),
        ("execute_tool", "calculator"),
        ("chat", "llm"),
    ]
    assert turns[1].output == "42" and turns[0].model == "agent-model"
    offered = [request["response_format"]["schema"] for request in local_server.state.chat_requests]
    assert "anyOf" in offered[0] and "anyOf" not in offered[-1]  # the last turn may only answer
    assert finished.status == "ok"
    chats = [turn for turn in turns if turn.operation == "chat"]
    assert finished.input_tokens == sum(turn.input_tokens for turn in chats) > 0
    assert '"1":6' in local_server.state.chat_requests[0]["messages"][1]["content"].replace(" ", "")


async def test_plain_text_reply_is_the_answer_when_the_endpoint_ignores_the_schema(local_server: LocalServer) -> None:
    local_server.state.chat_reply = "forty-two"
    turns, finished = await perform(
        agent_task({}), registry_for(local_server, max_calls=3), executor="e", now=_now, max_text_bytes=4096
    )
    assert [turn.operation for turn in turns] == ["chat"]
    assert (finished.status, finished.result) == ("ok", "forty-two")


async def test_step_fails_retryably_when_the_model_endpoint_is_down(local_server: LocalServer) -> None:
    local_server.state.chat_status = 503
    turns, finished = await perform(
        agent_task({}), registry_for(local_server, max_calls=1), executor="e", now=_now, max_text_bytes=4096
    )
    assert finished.status == "error" and finished.retryable is True and "HTTP 503" in (finished.error or "")
    assert len(turns) == 1 and turns[0].status == "error"


def _now() -> datetime:
    return datetime(2026, 1, 1, tzinfo=UTC)

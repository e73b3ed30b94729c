"""The plan schema derived from the tool catalogue, the conversion of constrained replies, and the retry loop."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import jsonschema
import pytest

from schemas.tools import tool_signatures
from services.llm.chat import ChatClient, Completion
from services.llm.planning import PLANNING_TASK, Drafted, draft_plan, plan_schema, planning_turns, to_plan_text
from services.llm.settings import LlmSettings
from services.llm.structured import response_format
from services.planner.core.errors import PlanError
from services.planner.core.validate import load_plan
from tests.support.openai_server import API_KEY, LocalServer

TOOLS = tool_signatures(llm=True, http=False)
CHECKS = {"known_tools": tuple(TOOLS), "max_tasks": 10, "llm_available": True, "signatures": TOOLS}
GOOD = {
    "tasks": [
        {"tool": "kb_search", "args": {"query": "France"}, "deps": []},
        {"tool": "kb_search", "args": {"query": "Germany"}, "deps": []},
        {"tool": "agent", "description": "Which has more people?", "deps": ["1", "2"]},
    ]
}


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as running:
        yield running


def test_schema_lists_every_tool_but_llm_and_an_agent_step_when_built_from_the_catalogue() -> None:
    schema = plan_schema(TOOLS, max_tasks=10)
    plans = schema["properties"]["tasks"]["anyOf"]
    assert len(plans) == 6  # one tuple per plan length, up to MAX_SCHEMA_TASKS
    variants = plans[0]["prefixItems"][0]["anyOf"]
    names = [variant["properties"]["tool"]["const"] for variant in variants]
    assert names == ["calculator", "kb_search", "sql", "agent"]  # no llm (agent steps instead), no sleep
    jsonschema.validate(GOOD, schema)


def test_schema_lets_a_task_depend_only_on_earlier_tasks_when_built() -> None:
    schema = plan_schema(TOOLS, max_tasks=4)
    first = {"tool": "agent", "description": "x", "deps": []}
    jsonschema.validate({"tasks": [first, {"tool": "agent", "description": "y", "deps": ["1"]}]}, schema)
    for deps in (["2"], ["3"]):  # itself, a later task
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({"tasks": [first, {"tool": "agent", "description": "y", "deps": deps}]}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"tasks": [{"tool": "agent", "description": "x", "deps": ["1"]}]}, schema)


def test_schema_rejects_an_unknown_tool_and_a_missing_argument_when_validated() -> None:
    schema = plan_schema(TOOLS, max_tasks=4)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"tasks": [{"tool": "search_web", "args": {"q": "x"}, "deps": []}]}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"tasks": [{"tool": "kb_search", "args": {}, "deps": []}]}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"tasks": [{"tool": "agent", "description": "x", "deps": ["9"]}]}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"tasks": [first_task()] * 5}, schema)  # over max_tasks


def test_answer_step_schema_takes_tool_calls_then_one_agent_step_on_them_when_asked_for() -> None:
    schema = plan_schema(TOOLS, max_tasks=10, answer_step=True)
    jsonschema.validate(GOOD, schema)
    agent_first = {"tasks": [{"tool": "agent", "description": "x", "deps": []}, GOOD["tasks"][2]]}
    no_answer = {"tasks": GOOD["tasks"][:2]}
    answer_on_nothing = {"tasks": [*GOOD["tasks"][:2], {"tool": "agent", "description": "x", "deps": []}]}
    for plan in (agent_first, no_answer, answer_on_nothing, {"tasks": [GOOD["tasks"][2]]}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(plan, schema)


def test_raw_newlines_inside_strings_are_escaped_when_a_constrained_reply_is_converted() -> None:
    reply = '{"tasks": [{"tool": "kb_search", "args": {"query": "population\nof France"}, "deps": []}]}'
    assert load_plan(to_plan_text(reply), **CHECKS).plan.tasks[0].args == {"query": "population\nof France"}


def first_task() -> dict:
    return {"tool": "kb_search", "args": {"query": "France"}, "deps": []}


def test_constrained_reply_becomes_a_valid_json_plan_with_agent_steps_when_converted() -> None:
    parsed = load_plan(to_plan_text(json.dumps(GOOD)), **CHECKS)
    assert [(task.id, task.tool, task.deps) for task in parsed.plan.tasks] == [
        ("1", "kb_search", ()),
        ("2", "kb_search", ()),
        ("3", None, ("1", "2")),
    ]
    assert parsed.plan.task("3").description == "Which has more people?"


def test_other_replies_reach_the_parser_unchanged_when_the_endpoint_ignored_the_schema() -> None:
    text = 'Task 1: kb_search(query="France") | Dependencies: none'
    assert to_plan_text(text) == text
    assert to_plan_text('{"tasks": [{"id": 1, "tool": "sleep"}]}') == '{"tasks": [{"id": 1, "tool": "sleep"}]}'


def test_response_format_matches_each_endpoint_kind_when_asked_for_a_style() -> None:
    schema = {"type": "object"}
    assert response_format("json_schema", schema) == {
        "type": "json_schema",
        "json_schema": {"name": "plan", "schema": schema},
    }
    assert response_format("json_object", schema) == {"type": "json_object", "schema": schema}
    assert response_format("none", schema) is None


async def test_parser_error_is_fed_back_for_each_retry_when_the_plan_never_validates(server: LocalServer) -> None:
    server.state.chat_reply = json.dumps({"tasks": [{"tool": "agent", "description": "x", "deps": ["1"]}]})
    chat = ChatClient(LlmSettings(base_url=f"{server.base_url}/v1", model="m", api_key=API_KEY))
    drafted = await draft_plan(
        chat,
        "plan: q",
        tools=tuple(TOOLS),
        schema=plan_schema(TOOLS, 10),
        style="json_object",
        retries=2,
        check=lambda text: load_plan(text, **CHECKS),
    )
    assert drafted.attempts == 3 and not drafted.first_try
    assert drafted.errors == ["task 1 depends on itself"] * 3
    last = server.state.chat_requests[-1]
    assert last["response_format"]["type"] == "json_object"
    assert last["messages"][-1]["content"].startswith("That plan cannot run: task 1 depends on itself.")
    assert len(last["messages"]) == 6  # system, the question, then two failed tries with their reasons


async def test_plan_error_names_the_endpoint_failure_when_the_model_is_unreachable(server: LocalServer) -> None:
    server.state.chat_status = 503
    chat = ChatClient(LlmSettings(base_url=f"{server.base_url}/v1", model="m", api_key=API_KEY))
    with pytest.raises(PlanError, match="the LLM planner failed: HTTP 503"):
        await draft_plan(chat, "q", tools=(), schema={}, style="none", retries=1, check=lambda text: None)


def test_each_planning_call_becomes_a_chat_turn_with_its_tokens_and_verdict_when_recorded() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    drafted = Drafted(
        text="{}",
        attempts=2,
        completions=[Completion("bad", 30, 5, "smollm2"), Completion("good", 40, 9, "smollm2")],
        errors=["task 1 depends on itself"],
        timings=[(at, 1.5), (at, 2.0)],
    )
    first, second = planning_turns("run-1", drafted)
    assert (first.task_id, first.attempt, first.operation, first.status) == (PLANNING_TASK, 1, "chat", "error")
    assert first.error == "task 1 depends on itself" and first.input_tokens == 30
    assert (second.status, second.output, second.output_tokens, second.model) == ("ok", "good", 9, "smollm2")

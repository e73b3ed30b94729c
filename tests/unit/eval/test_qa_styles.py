"""The evaluation's bookkeeping: each style's turns, tokens and verdicts, against an endpoint that always says the
same thing (the real model runs in `genesis eval qa --local`; here only the counting is under test)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from services.eval.qa import QaEvaluation
from services.eval.questions import Question
from services.executor.tools import ToolSettings, build_registry
from services.llm.chat import ChatClient
from services.llm.settings import LlmSettings
from tests.support.openai_server import API_KEY, LocalServer

PLAN = {
    "tasks": [
        {"tool": "kb_search", "args": {"query": "population of France"}, "deps": []},
        {"tool": "kb_search", "args": {"query": "population of Germany"}, "deps": []},
        {"tool": "calculator", "args": {"expression": "3 + 4"}, "deps": ["1", "2"]},
    ]
}
QUESTION = Question("q1", "aggregation", "What is 3 + 4?", 7, 2)


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as running:
        yield running


def evaluation(server: LocalServer) -> QaEvaluation:
    llm = LlmSettings(base_url=f"{server.base_url}/v1", model="m", api_key=API_KEY, structured_output="json_object")
    registry = build_registry(ToolSettings(kb_latency_s=0.0), entry_point_group=None)
    return QaEvaluation(ChatClient(llm), registry, "{user_query}")


async def test_plan_styles_share_one_plan_and_count_its_call_when_the_plan_is_valid(server: LocalServer) -> None:
    server.state.chat_reply = json.dumps(PLAN)
    run = evaluation(server)
    await run.run([QUESTION])
    by_style = {outcome.style: outcome for outcome in run.outcomes}
    assert set(by_style) == {"react", "gap-levels", "dag"}
    for style in ("gap-levels", "dag"):
        outcome = by_style[style]
        assert outcome.correct and outcome.answer == 7 and outcome.turns == 1 and outcome.plan_first_try
    react = by_style["react"]  # the reply is not a tool call: its text is the answer, after one turn
    assert react.turns == 1 and not react.correct
    assert react.tokens > 0 and by_style["dag"].tokens == by_style["gap-levels"].tokens > 0
    summary = {row.style: row for row in run.summary()}
    assert summary["dag"].accuracy == 1.0 and summary["react"].accuracy == 0.0


async def test_plan_styles_are_wrong_with_the_reason_when_no_try_gives_a_runnable_plan(server: LocalServer) -> None:
    server.state.chat_reply = "I cannot plan that."
    run = evaluation(server)
    await run.run([QUESTION])
    failed = [outcome for outcome in run.outcomes if outcome.style != "react"]
    assert all(not outcome.correct and outcome.turns == 3 and outcome.error for outcome in failed)
    assert "expected a task like" in (failed[0].error or "")


async def test_react_makes_one_tool_call_per_turn_and_then_must_answer_when_the_model_keeps_calling(
    server: LocalServer,
) -> None:
    server.state.chat_reply = json.dumps(
        {"action": "call", "tool": "kb_search", "args": {"query": "population of France"}}
    )
    run = evaluation(server)
    run.react_max_tool_calls = 3
    react = (await run.ask(QUESTION))[0]
    assert react.style == "react" and react.tool_calls == 3 and react.turns == react.tool_calls + 1
    schemas = [request["response_format"]["schema"] for request in server.state.chat_requests[: react.turns]]
    actions = [[variant["properties"]["action"]["const"] for variant in s.get("anyOf", [s])] for s in schemas]
    assert "answer" not in actions[0]  # the first turn must be a tool call
    assert "answer" in actions[1] and "call" in actions[1]
    assert actions[-1] == ["answer"]  # after N calls only an answer is accepted
    prompts = [request["messages"][-1]["content"] for request in server.state.chat_requests[1 : react.turns]]
    assert all(prompt.startswith("Result of kb_search: ") for prompt in prompts)  # each observation appended


async def test_plan_styles_answer_with_the_plans_last_task_when_other_tasks_are_sinks(server: LocalServer) -> None:
    plan = {"tasks": [*PLAN["tasks"][:2], {"tool": "calculator", "args": {"expression": "3 + 4"}, "deps": ["1"]}]}
    server.state.chat_reply = json.dumps(plan)  # task 2 is a sink too, with a population as its result
    run = evaluation(server)
    await run.run([QUESTION])
    for outcome in run.outcomes[1:]:
        assert outcome.answer == 7 and outcome.plan_tasks == 3 and outcome.plan_turns == outcome.turns == 1


async def test_failed_lookup_skips_the_answer_step_unless_its_error_is_observed_when_a_plan_runs(
    server: LocalServer,
) -> None:
    plan = {
        "tasks": [
            {"tool": "kb_search", "args": {"query": "population of Atlantis"}, "deps": []},
            {"tool": "agent", "description": "Say the population.", "deps": ["1"]},
        ]
    }
    server.state.chat_reply = json.dumps(plan)  # also each agent turn's reply: not a tool call, so the answer
    skipping = evaluation(server)
    await skipping.run([QUESTION])
    for outcome in skipping.outcomes[1:]:
        assert outcome.answer is None and outcome.turns == 1 and "2 of 2 tasks" in (outcome.error or "")
    server.state.chat_requests.clear()
    observing = evaluation(server)
    observing.failed_tasks = "observe"
    await observing.run([QUESTION])
    for outcome in observing.outcomes[1:]:
        assert outcome.answer is not None and outcome.turns == 2 and "1 of 2 tasks" in (outcome.error or "")
    prompts = [request["messages"][-1]["content"] for request in server.state.chat_requests]
    assert any(prompt.startswith("Step: Say the population.") and "error: kb_search" in prompt for prompt in prompts)

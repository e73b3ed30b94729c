"""The re-planning stage: what the model is told about a failed task, and what comes back to the run.

Against a real HTTP server on loopback that speaks the chat-completions API (tests/support/openai_server.py); the
real model runs in tests/e2e/test_replanning.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from services.llm.chat import ChatClient
from services.llm.settings import LlmSettings
from services.planner.core.limits import IntakeLimits
from services.planner.core.replan import FailedStep
from services.planner.intake import Intake
from services.planner.replanning import Replanning
from tests.support.openai_server import API_KEY, LocalServer

TOOLS = ("calculator", "kb_search", "sleep")
STEP = FailedStep(
    task_id="2",
    description="",
    tool="kb_search",
    args={"query": "population of Atlantis"},
    error="kb_search: no country or film in the knowledge base matches 'population of Atlantis'",
    inputs={"1": "Atlantis"},
    allowed_tools=None,
)


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as running:
        yield running


def replanning(base_url: str | None, *, max_replans: int = 1, max_tasks: int = 10) -> Replanning:
    chat = None
    if base_url is not None:
        chat = ChatClient(LlmSettings(base_url=base_url, model="m", api_key=API_KEY, plan_retries=1))
    intake = Intake(
        known_tools=TOOLS, signatures=None, limits=IntakeLimits(max_tasks=max_tasks), chat=chat, prompt_template=""
    )
    return Replanning(intake, max_replans=max_replans)


async def test_model_is_told_the_failed_call_its_error_and_inputs_and_its_sub_plan_comes_back(server) -> None:
    server.state.chat_reply = json.dumps(
        {"tasks": [{"tool": "kb_search", "args": {"query": "population of Peru"}, "deps": []}]}
    )
    proposal = await replanning(f"{server.base_url}/v1").propose("run-1", STEP, 1)
    assert proposal.problem is None and proposal.plan is not None
    [task] = proposal.plan.tasks
    assert (task.tool, task.args) == ("kb_search", {"query": "population of Peru"})
    prompt = server.state.chat_requests[0]["messages"][-1]["content"]
    assert "kb_search(query='population of Atlantis')" in prompt
    assert "It failed with: kb_search: no country or film" in prompt and '{"1":"Atlantis"}' in prompt
    [turn] = proposal.turns
    assert (turn.run_id, turn.task_id, turn.operation, turn.status) == ("run-1", "r1.plan", "chat", "ok")


async def test_no_sub_plan_comes_back_with_the_parser_s_reason_when_the_model_writes_no_runnable_plan(server) -> None:
    server.state.chat_reply = '{"tasks": [{"tool": "teleport", "args": {}, "deps": []}]}'
    proposal = await replanning(f"{server.base_url}/v1").propose("run-1", STEP, 2)
    assert proposal.plan is None
    assert proposal.problem is not None and "unknown tool 'teleport'" in proposal.problem
    assert [turn.status for turn in proposal.turns] == ["error", "error"]  # the first try and its one retry
    assert {turn.task_id for turn in proposal.turns} == {"r2.plan"}


async def test_no_sub_plan_comes_back_when_the_sub_plan_has_more_tasks_than_the_planner_allows(server) -> None:
    task = {"tool": "kb_search", "args": {"query": "x"}, "deps": []}
    server.state.chat_reply = json.dumps({"tasks": [task, task, task]})
    proposal = await replanning(f"{server.base_url}/v1", max_tasks=2).propose("run-1", STEP, 1)
    assert proposal.plan is None and "3 tasks" in (proposal.problem or "")


async def test_no_sub_plan_comes_back_naming_the_endpoint_when_the_model_cannot_be_reached() -> None:
    proposal = await replanning("http://127.0.0.1:9/v1").propose("run-1", STEP, 1)
    assert proposal.plan is None and "unreachable" in (proposal.problem or "")


def test_replanning_is_off_when_no_model_is_configured() -> None:
    assert not replanning(None).enabled and replanning(None).max_replans == 0
    assert not replanning("http://127.0.0.1:9/v1", max_replans=0).enabled


async def test_sub_plan_that_repeats_the_failed_call_is_refused_and_the_model_told_why(server) -> None:
    repeat = {"tool": "kb_search", "args": {"query": "population of Atlantis"}, "deps": []}
    server.state.chat_reply = json.dumps({"tasks": [repeat]})
    proposal = await replanning(f"{server.base_url}/v1").propose("run-1", STEP, 1)
    assert proposal.plan is None
    assert (proposal.problem or "").startswith("the model's sub-plan cannot run: task 1 repeats the call that failed")
    retry = server.state.chat_requests[1]["messages"][-1]["content"]
    assert "repeats the call that failed" in retry and "use another tool or other arguments" in retry

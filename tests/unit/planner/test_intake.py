"""Specification of the planner's intake: requests with a plan, plan text, or a query for the LLM planner."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from schemas import Plan, Policy, RunRequested, Task
from services.llm.chat import ChatClient
from services.llm.settings import LlmSettings
from services.planner.core.errors import PlanError
from services.planner.core.limits import IntakeLimits
from services.planner.intake import Intake
from tests.support.openai_server import API_KEY, LocalServer

TOOLS = ("calculator", "kb_search", "sleep")
TEMPLATE = "Plan this: {user_query}\nTools: {tools}"
LLM_PLAN = (
    "<think>Two lookups, then divide.</think>\n<plan>\n"
    'Task 1: kb_search(query="population of France") | Dependencies: none\n'
    'Task 2: kb_search(query="population of Germany") | Dependencies: none\n'
    'Task 3: calculator(expression="$2 / $1") | Dependencies: Task 1, Task 2\n</plan>'
)


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as running:
        yield running


def intake(chat: ChatClient | None = None) -> Intake:
    return Intake(
        known_tools=TOOLS, signatures=None, limits=IntakeLimits(max_tasks=10), chat=chat, prompt_template=TEMPLATE
    )


def chat_for(server: LocalServer) -> ChatClient:
    return ChatClient(LlmSettings(base_url=f"{server.base_url}/v1", model="planner-model", api_key=API_KEY))


async def test_llm_writes_the_plan_when_the_request_is_a_query(server: LocalServer) -> None:
    server.state.chat_reply = LLM_PLAN
    parsed = await intake(chat_for(server)).plan(RunRequested(run_id="r", query="Germany vs France?"), Policy())
    assert [task.id for task in parsed.plan.tasks] == ["1", "2", "3"]
    assert parsed.plan.task("3").deps == ("1", "2")
    (request,) = server.state.chat_requests
    assert request["messages"][-1]["content"] == "Plan this: Germany vs France?\nTools: calculator, kb_search, sleep"


async def test_policy_prompt_template_is_used_when_the_trainer_set_one(server: LocalServer) -> None:
    server.state.chat_reply = LLM_PLAN
    policy = Policy(prompt_template="Decompose into parallel steps: {user_query}")
    await intake(chat_for(server)).plan(RunRequested(run_id="r", query="q?"), policy)
    assert server.state.chat_requests[0]["messages"][-1]["content"] == "Decompose into parallel steps: q?"


async def test_query_is_rejected_naming_the_setting_when_no_llm_is_configured() -> None:
    with pytest.raises(PlanError, match="set llm.base_url and llm.model"):
        await intake().plan(RunRequested(run_id="r", query="anything"), Policy())


async def test_llm_failure_becomes_a_plan_error_when_the_endpoint_fails(server: LocalServer) -> None:
    server.state.chat_status = 503
    with pytest.raises(PlanError, match="the LLM planner failed: HTTP 503"):
        await intake(chat_for(server)).plan(RunRequested(run_id="r", query="q"), Policy())


async def test_structured_plan_is_validated_when_sent_as_json_tasks() -> None:
    plan = Plan(tasks=(Task(id="a", tool="teleport"),))
    with pytest.raises(PlanError, match="unknown tool 'teleport'"):
        await intake().plan(RunRequested(run_id="r", plan=plan), Policy())


async def test_request_without_plan_or_query_is_rejected() -> None:
    with pytest.raises(PlanError, match="no plan, plan_text or query"):
        await intake().plan(RunRequested(run_id="r"), Policy())

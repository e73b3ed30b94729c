"""Re-planning end to end with the planner, executors and a real Kafka broker: a task that fails for good is
replaced by a sub-plan the model writes.

With the real local model (SmolLM2-135M served by `genesis llm serve`): the model is tiny, its sub-plan may be poor
and the run may still fail, so the test holds the shape and the honesty: the run says it was re-planned, the new
tasks ran under new ids, and the outcome counts them. Across a planner restart the model's reply must be held back
until the planner is gone, which a real model cannot be told to do: that test uses the chat-completions server on
loopback (tests/support/openai_server.py) with a scripted sub-plan.
"""

from __future__ import annotations

import asyncio
import json

import msgspec
import pytest

from schemas import RunFinished, RunReplanned, TaskFinished, TaskReady, TurnRecorded
from services.client import GenesisClient
from services.executor.tools import ToolSettings, build_registry
from services.llm.chat import ChatClient
from services.llm.settings import LlmSettings
from streams.catalogue import RUN_EVENTS, TASKS_FINISHED, TASKS_READY, TURNS, Catalogue
from streams.settings import KafkaSettings
from tests.e2e.system import FAST_RETRIES, System, running_system
from tests.e2e.test_local_model import RUN_TIMEOUT_S, SLOW_MODEL, local_model  # noqa: F401 (a fixture)
from tests.support.openai_server import API_KEY, LocalServer
from tests.support.tail import tailing

pytestmark = pytest.mark.kafka
# Task 1 fails for good: the query names a table the database does not have, and another attempt cannot help.
PLAN = (
    "Task 1: sql(query=\"SELECT population FROM people WHERE name = 'France'\") | Dependencies: none\n"
    "Task 2: Say how many people live in France | Dependencies: Task 1"
)
RESTART_WAIT_S = 120
REPLANNING = msgspec.structs.replace(SLOW_MODEL, max_replans=1, replan_timeout_s=float(RUN_TIMEOUT_S))


async def test_failed_task_is_replaced_by_the_model_s_sub_plan_and_its_tasks_run_when_a_real_model_is_served(
    kafka_bootstrap: str,
    catalogue: Catalogue,
    local_model: LlmSettings,  # noqa: F811
) -> None:
    system = System(kafka_bootstrap, catalogue, executors=2, planner_settings=REPLANNING, chat=ChatClient(local_model))
    system.registry = build_registry(ToolSettings(kb_latency_s=0.0), llm=local_model, entry_point_group=None)
    topics = [catalogue.name(spec) for spec in (RUN_EVENTS, TASKS_READY, TASKS_FINISHED, TURNS)]
    try:
        await system.start_planner()
        await system.start_executors()
        async with (
            GenesisClient(kafka_bootstrap, catalogue, KafkaSettings()) as client,
            tailing(kafka_bootstrap, *topics) as tail,
        ):
            # No tool that needs the internet: the sub-plan may look things up, compute, or reason.
            outcome = await client.run(
                plan_text=PLAN, allowed_tools=["sql", "kb_search", "calculator", "llm"], timeout_s=RUN_TIMEOUT_S
            )
            assert isinstance(outcome, RunFinished), outcome
            run_id = outcome.run_id

            def of_run(kind: type) -> list:
                return [event for event in tail.events(kind=kind) if event.run_id == run_id]

            [replanned] = await tail.wait_for(lambda: of_run(RunReplanned), 60, "RunReplanned")
            added = set(replanned.added)
            finished = await tail.wait_for(
                lambda: {event.task_id for event in of_run(TaskFinished)} & added, 60, "a sub-plan task's result"
            )
            dispatched = {event.task_id for event in of_run(TaskReady)}
            turns = of_run(TurnRecorded)

            def turn_tokens() -> int:
                return sum(turn.input_tokens + turn.output_tokens for turn in of_run(TurnRecorded))

            # An agent step's last turns may still be on their way when the outcome comes.
            await tail.wait_for(lambda: turn_tokens() >= outcome.metrics.tokens, 60, "the tokens of the run's turns")
            spent = turn_tokens()
    finally:
        await system.stop()
    assert replanned.replaced_task_id == "1" and "Table with name people does not exist" in replanned.reason
    assert added and all(task_id.startswith("r1.") for task_id in added)
    assert replanned.stands_in in added and replanned.plan.task("2").deps == (replanned.stands_in,)
    assert finished <= dispatched and "1" in dispatched
    # The sub-plan's model calls are turns of the run, with their tokens.
    replanning_turns = [turn for turn in turns if turn.task_id == "r1.plan"]
    assert replanning_turns and all(turn.input_tokens > 0 for turn in replanning_turns)
    # The run's tokens are its turns': the sub-plan's model calls, its agent steps and llm calls.
    assert outcome.metrics.tokens == spent
    # Honest outcome: every task of the extended plan is counted; a run that did not succeed says why.
    assert outcome.status in ("succeeded", "partial", "failed")
    assert outcome.metrics.tasks == 2 + len(added)
    assert outcome.status == "succeeded" or outcome.reason
    assert "1" not in outcome.skipped and not (set(outcome.skipped) & finished)


async def test_sub_plan_is_asked_for_again_and_joins_the_run_when_the_planner_restarts_while_the_model_writes_it(
    kafka_bootstrap: str, catalogue: Catalogue
) -> None:
    settings = msgspec.structs.replace(FAST_RETRIES, max_attempts=1, max_replans=1, replan_timeout_s=120.0)
    plan = (
        'Task 1: always_fails(reason="the census service is gone") | Dependencies: none\n'
        'Task 2: calculator(expression="$1 + 1") | Dependencies: Task 1'
    )
    with LocalServer() as model:
        model.state.chat_reply = json.dumps({"tasks": [{"tool": "calculator", "args": {"expression": "6 * 7"}}]})
        model.state.hold_when = "A step of a plan failed"
        chat = ChatClient(LlmSettings(base_url=f"{model.base_url}/v1", model="m", api_key=API_KEY))
        async with (
            running_system(kafka_bootstrap, catalogue, planner_settings=settings, chat=chat) as (system, client),
            tailing(kafka_bootstrap, catalogue.name(TURNS)) as tail,
        ):
            run_id = await client.submit(plan_text=plan)
            first = await asyncio.to_thread(model.state.held.get, timeout=RESTART_WAIT_S)
            await system.stop_planner()  # the model's reply is lost with the process; ReplanRequested is journaled
            await system.start_planner()
            second = await asyncio.to_thread(model.state.held.get, timeout=RESTART_WAIT_S)  # asked again
            model.state.release.set()
            outcome = await client.wait(run_id, timeout_s=RESTART_WAIT_S)

            def turns() -> list[TurnRecorded]:
                return [turn for turn in tail.events(kind=TurnRecorded) if turn.run_id == run_id]

            await tail.wait_for(lambda: any(turn.task_id == "r1.plan" for turn in turns()), 60, "the sub-plan's turn")
            recorded = turns()
    assert "always_fails(reason='the census service is gone')" in first and "census service is gone" in first
    assert isinstance(outcome, RunFinished), outcome
    assert (outcome.status, outcome.answer, outcome.metrics.tasks) == ("succeeded", 43, 3)
    assert outcome.observations == {"r1.1": 42}
    # The model call the restarted planner made is the run's only one (the server counts a prompt's words), and
    # the run counts its tokens: they were journaled with the sub-plan (RunReplanned).
    [replanning] = [turn for turn in recorded if turn.task_id == "r1.plan"]
    assert (replanning.input_tokens, replanning.output_tokens) == (len(second.split()), 7)
    assert outcome.metrics.tokens == sum(turn.input_tokens + turn.output_tokens for turn in recorded) > 0

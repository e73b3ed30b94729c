"""End to end on a real broker: cancellation, deadlines, leases that run from TaskStarted, a slow LLM that delays
only its own run, and flush/tick loops that survive publish errors or show unhealthy when they cannot."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from aiokafka.errors import KafkaConnectionError
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from schemas import RunFinished, TaskReady, TaskStarted, TurnRecorded, decode_event
from services.executor.settings import ExecutorSettings
from services.llm.chat import ChatClient
from services.llm.settings import LlmSettings
from services.planner.synthesis import ANSWER_TASK
from services.runtime.health import Heartbeat, read_health
from streams.broker import consumer_options, make_broker
from streams.catalogue import TASKS_FINISHED, TASKS_READY, TURNS, Catalogue
from streams.settings import KafkaSettings
from tests.e2e.system import FAST_RETRIES, running_system
from tests.support.openai_server import API_KEY, LocalServer
from tests.support.tail import tailing

pytestmark = pytest.mark.kafka

WAIT_S = 60


def watching(bootstrap: str, topic: str) -> tuple[KafkaBroker, asyncio.Queue]:
    broker = make_broker(KafkaSettings(), bootstrap, client_id="watcher")
    events: asyncio.Queue = asyncio.Queue()

    @broker.subscriber(topic, **consumer_options(f"watcher-{uuid.uuid4().hex[:6]}"))
    async def on_event(body: bytes, message: KafkaMessage) -> None:
        await events.put(decode_event(body))

    return broker, events


async def next_matching(events: asyncio.Queue, predicate) -> object:
    async with asyncio.timeout(WAIT_S):
        while not predicate(event := await events.get()):
            pass
    return event


async def test_run_ends_cancelled_and_skips_unstarted_tasks_when_cancel_is_requested(
    kafka_bootstrap: str, catalogue: Catalogue
) -> None:
    plan = (
        "Task 1: sleep(seconds=5) | Dependencies: none\n"
        "Task 2: sleep(seconds=0) | Dependencies: Task 1\n"
        'Task 3: calculator(expression="$1 + $2") | Dependencies: Task 1, Task 2\n'
    )
    watcher, finished_topic = watching(kafka_bootstrap, catalogue.name(TASKS_FINISHED))
    async with running_system(kafka_bootstrap, catalogue) as (_, client), watcher:
        await watcher.start()
        run_id = await client.submit(plan_text=plan)
        await next_matching(finished_topic, lambda event: isinstance(event, TaskStarted) and event.run_id == run_id)
        await client.cancel(run_id, reason="no longer needed")
        outcome = await client.wait(run_id, timeout_s=WAIT_S)
    assert isinstance(outcome, RunFinished)
    assert (outcome.status, outcome.reason) == ("cancelled", "cancelled: no longer needed")
    assert set(outcome.skipped) == {"2", "3"}  # task 1 had started: it is not skipped, its result is not waited for
    assert outcome.metrics.makespan_s < 5.0


async def test_genesis_cancel_ends_the_run_as_cancelled_when_a_user_runs_it(
    kafka_bootstrap: str, catalogue: Catalogue
) -> None:
    plan = "Task 1: sleep(seconds=20) | Dependencies: none\nTask 2: sleep(seconds=0) | Dependencies: Task 1\n"
    environment = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "GENESIS_KAFKA_TOPIC_PREFIX": catalogue.prefix,
    }
    async with running_system(kafka_bootstrap, catalogue) as (_, client):
        run_id = await client.submit(plan_text=plan)
        command = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "services.cli.main",
            "cancel",
            run_id,
            "--reason",
            "from the command line",
            "--wait",
            "--json",
            env=environment,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(command.communicate(), WAIT_S * 2)
    assert command.returncode == 0, stderr.decode()
    outcome = json.loads(stdout)
    assert (outcome["status"], outcome["reason"]) == ("cancelled", "cancelled: from the command line")
    assert "2" in outcome["skipped"]


async def test_run_times_out_and_skips_the_rest_when_its_deadline_passes(
    kafka_bootstrap: str, catalogue: Catalogue
) -> None:
    plan = "Task 1: sleep(seconds=8) | Dependencies: none\nTask 2: sleep(seconds=0) | Dependencies: Task 1\n"
    async with running_system(kafka_bootstrap, catalogue) as (_, client):
        outcome = await client.run(plan_text=plan, deadline_s=1.0, timeout_s=WAIT_S)
    assert isinstance(outcome, RunFinished) and outcome.status == "timed_out"
    assert set(outcome.skipped) == {"1", "2"}
    assert outcome.metrics.makespan_s < 8.0


async def test_queued_task_is_not_redispatched_when_it_starts_by_start_by_despite_a_backlog_longer_than_its_timeout(
    kafka_bootstrap: str, catalogue: Catalogue
) -> None:
    # One executor running one task at a time: the fifth of five 0.6 s tasks waits about 2.4 s in Kafka, longer
    # than timeout + grace (1.5 s). Its lease runs from its start, so it is not dispatched again.
    plan = "\n".join(f"Task {n}: sleep(seconds=0.6) | Dependencies: none" for n in range(1, 6))
    settings = msgspec.structs.replace(FAST_RETRIES, task_timeout_s=1.0, lease_grace_s=0.5, start_timeout_s=30.0)
    watcher, ready_topic = watching(kafka_bootstrap, catalogue.name(TASKS_READY))
    async with (
        running_system(
            kafka_bootstrap,
            catalogue,
            executors=1,
            planner_settings=settings,
            executor_settings=ExecutorSettings(concurrency=1),
        ) as (_, client),
        watcher,
    ):
        await watcher.start()
        run_id = await client.submit(plan_text=plan, strategy="parallel")
        outcome = await client.wait(run_id, timeout_s=WAIT_S)
        dispatched = []
        while not ready_topic.empty():
            dispatched.append(ready_topic.get_nowait())
    assert isinstance(outcome, RunFinished) and outcome.status == "succeeded", outcome
    assert outcome.metrics.makespan_s > 2.4  # the backlog was really there
    assert outcome.metrics.attempts == 5
    assert all(event.attempt == 1 for event in dispatched if isinstance(event, TaskReady))


@pytest.fixture
def model() -> Iterator[LocalServer]:
    with LocalServer() as server:
        yield server


async def test_slow_llm_planning_delays_only_its_own_run_when_another_run_is_dispatched(
    kafka_bootstrap: str, catalogue: Catalogue, model: LocalServer
) -> None:
    model.state.chat_reply = 'Task 1: calculator(expression="6 * 7") | Dependencies: none'
    model.state.hold_when = "slow question"
    chat = ChatClient(LlmSettings(base_url=f"{model.base_url}/v1", model="planner-model", api_key=API_KEY))
    chain = (
        'Task 1: calculator(expression="1 + 1") | Dependencies: none\n'
        'Task 2: calculator(expression="$1 * 10") | Dependencies: Task 1\n'
        'Task 3: calculator(expression="$2 + 1") | Dependencies: Task 2\n'
    )
    async with running_system(kafka_bootstrap, catalogue, chat=chat) as (_, client):
        slow = await client.submit(query="a slow question")
        slow_outcome = asyncio.ensure_future(client.wait(slow, timeout_s=WAIT_S))
        fast = await client.run(plan_text=chain, timeout_s=WAIT_S)
        # The fast run went through every dispatch while the model still held the slow run's plan.
        assert isinstance(fast, RunFinished) and (fast.status, fast.answer) == ("succeeded", 21)
        assert not slow_outcome.done() and len(model.state.chat_requests) == 1
        model.state.release.set()
        outcome = await slow_outcome
    assert isinstance(outcome, RunFinished) and (outcome.status, outcome.answer) == ("succeeded", 42)


async def test_slow_answer_synthesis_delays_only_its_own_run_when_another_run_finishes(
    kafka_bootstrap: str, catalogue: Catalogue, model: LocalServer
) -> None:
    model.state.hold_when = "hold me"  # in the slow run's task result, so in its synthesis prompt only
    chat = ChatClient(LlmSettings(base_url=f"{model.base_url}/v1", model="writer-model", api_key=API_KEY))
    settings = msgspec.structs.replace(FAST_RETRIES, synthesize_answer=True)
    async with running_system(kafka_bootstrap, catalogue, planner_settings=settings, chat=chat) as (_, client):
        slow = await client.submit(plan_text="Task 1: sql(query=\"SELECT 'hold me' AS note\") | Dependencies: none")
        slow_outcome = asyncio.ensure_future(client.wait(slow, timeout_s=WAIT_S))
        await asyncio.to_thread(model.state.held.get, timeout=WAIT_S)
        fast = await client.run(
            plan_text='Task 1: calculator(expression="2 + 2") | Dependencies: none', timeout_s=WAIT_S
        )
        assert isinstance(fast, RunFinished) and fast.status == "succeeded"
        assert fast.answer.startswith("echo: Answer the request") and fast.observations == {"1": 4}
        assert not slow_outcome.done()
        model.state.release.set()
        outcome = await slow_outcome
    assert isinstance(outcome, RunFinished) and outcome.status == "succeeded"
    assert "hold me" in outcome.answer


async def test_query_is_planned_again_when_the_planner_restarts_while_the_llm_drafts_it(
    kafka_bootstrap: str, catalogue: Catalogue, model: LocalServer
) -> None:
    model.state.chat_reply = 'Task 1: calculator(expression="6 * 7") | Dependencies: none'
    model.state.hold_when = "question"
    chat = ChatClient(LlmSettings(base_url=f"{model.base_url}/v1", model="planner-model", api_key=API_KEY))
    async with running_system(kafka_bootstrap, catalogue, chat=chat) as (system, client):
        run_id = await client.submit(query="a question")
        await asyncio.to_thread(model.state.held.get, timeout=WAIT_S)
        await system.stop_planner()  # the draft is lost with the process; the request's offset was held back
        await system.start_planner()
        await asyncio.to_thread(model.state.held.get, timeout=WAIT_S)  # the new planner drafts it again
        model.state.release.set()
        outcome = await client.wait(run_id, timeout_s=WAIT_S)
    assert isinstance(outcome, RunFinished) and (outcome.status, outcome.answer) == ("succeeded", 42)


async def test_answer_is_written_again_when_the_planner_restarts_while_the_llm_writes_it(
    kafka_bootstrap: str, catalogue: Catalogue, model: LocalServer
) -> None:
    model.state.hold_when = "hold me"
    chat = ChatClient(LlmSettings(base_url=f"{model.base_url}/v1", model="writer-model", api_key=API_KEY))
    settings = msgspec.structs.replace(FAST_RETRIES, synthesize_answer=True)
    async with (
        running_system(kafka_bootstrap, catalogue, planner_settings=settings, chat=chat) as (system, client),
        tailing(kafka_bootstrap, catalogue.name(TURNS)) as tail,
    ):
        run_id = await client.submit(plan_text="Task 1: sql(query=\"SELECT 'hold me' AS note\") | Dependencies: none")
        await asyncio.to_thread(model.state.held.get, timeout=WAIT_S)
        await system.stop_planner()  # the run waits for its answer in the journal (AnswerRequested)
        await system.start_planner()
        prompt = await asyncio.to_thread(model.state.held.get, timeout=WAIT_S)  # the new owner asks the model again
        model.state.release.set()
        outcome = await client.wait(run_id, timeout_s=WAIT_S)

        def turns() -> list[TurnRecorded]:
            return [turn for turn in tail.events(kind=TurnRecorded) if turn.run_id == run_id]

        await tail.wait_for(lambda: {"1", ANSWER_TASK} <= {turn.task_id for turn in turns()}, WAIT_S, "the turns")
        recorded = turns()
    assert isinstance(outcome, RunFinished) and outcome.status == "succeeded"
    assert outcome.answer.startswith("echo: Answer the request") and "hold me" in outcome.answer
    # The answer's model call is a turn of the run, and the run's tokens are its turns' (the server counts words).
    [answer] = [turn for turn in recorded if turn.task_id == ANSWER_TASK]
    assert (answer.input_tokens, answer.output_tokens, answer.model) == (len(prompt.split()), 7, "writer-model")
    assert outcome.metrics.tokens == sum(turn.input_tokens + turn.output_tokens for turn in recorded) > 0


async def test_run_finishes_when_publishing_fails_in_the_flush_and_is_retried(
    kafka_bootstrap: str, catalogue: Catalogue
) -> None:
    plan = (
        'Task 1: calculator(expression="2 + 3") | Dependencies: none\n'
        'Task 2: calculator(expression="$1 * 2") | Dependencies: Task 1\n'
    )
    async with running_system(kafka_bootstrap, catalogue) as (system, client):
        planner = system.planner
        commit = planner._transactions.commit
        failures = 0

        async def failing_twice(*args, **kwargs):
            nonlocal failures
            if failures < 2:
                failures += 1
                raise KafkaConnectionError("injected: broker unreachable")
            return await commit(*args, **kwargs)

        planner._transactions.commit = failing_twice
        outcome = await client.run(plan_text=plan, timeout_s=WAIT_S)
    assert failures == 2
    assert isinstance(outcome, RunFinished) and (outcome.status, outcome.answer) == ("succeeded", 10)


async def test_planner_shows_unhealthy_when_its_flush_loop_keeps_failing(
    kafka_bootstrap: str, catalogue: Catalogue, tmp_path: Path
) -> None:
    settings = msgspec.structs.replace(FAST_RETRIES, loop_max_failures=2)
    async with running_system(kafka_bootstrap, catalogue, planner_settings=settings) as (system, client):
        await system.stop_planner()
        stopped = asyncio.Event()
        planner = await system.start_planner(on_fatal=lambda error: stopped.set())
        heartbeat = Heartbeat(tmp_path, "planner", interval_s=60)
        heartbeat.watch("planner flush loop", lambda: planner.loops.healthy("flush"))
        await heartbeat.start()
        assert read_health(tmp_path, "planner").stopped_loops == []
        commit = planner._transactions.commit

        async def always_fails(*args, **kwargs):
            raise KafkaConnectionError("injected: broker unreachable")

        planner._transactions.commit = always_fails
        await client.submit(plan_text='Task 1: calculator(expression="1") | Dependencies: none')
        await asyncio.wait_for(stopped.wait(), WAIT_S)
        assert heartbeat.stopped_loops() == ["planner flush loop"]
        assert planner.loops.problems()[0].startswith("loop flush stopped after 2 failures")
        await heartbeat.stop()
        planner._transactions.commit = commit  # so that the planner's own stop can flush

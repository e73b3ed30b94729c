"""The seed's own plans, the GAP repository's example and a plain question, end to end through the real system
(planner, executors, a real Kafka broker) with a real language model: the local-llm extra's SmolLM2-135M served by
`genesis llm serve`. No stub on these paths.

The model is tiny and its answers are poor; these tests hold the shape, not the quality: every run finishes with a
status, free-text tasks run as agent steps, and every model call is a TurnRecorded with its tokens.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import msgspec
import pytest
from faststream.kafka.annotations import KafkaMessage

from schemas import RunFinished, RunRejected, TurnRecorded, decode_event
from services.bench.stack import stack_environment
from services.client import GenesisClient
from services.executor.tools import ToolSettings, build_registry
from services.llm.chat import ChatClient
from services.llm.local import INSTALL_HINT, extra_installed
from services.llm.planning import PLANNING_TASK
from services.llm.settings import LlmSettings
from services.planner.settings import PlannerSettings
from services.planner.synthesis import ANSWER_TASK
from streams.broker import consumer_options, make_broker
from streams.catalogue import TURNS, Catalogue
from streams.settings import KafkaSettings
from tests.e2e.system import System

pytestmark = pytest.mark.kafka
MODEL = "smollm2"
SERVE_TIMEOUT_S = 120
RUN_TIMEOUT_S = 600
# A small model on a shared CPU: a model call can take tens of seconds; a task is never retried for being slow.
# No re-planning here: a failed task would grow the plan these tests count (tests/e2e/test_replanning.py has its own).
SLOW_MODEL = PlannerSettings(
    task_timeout_s=300.0, lease_grace_s=30.0, start_timeout_s=300.0, backoff_base_s=0.05, max_attempts=1, max_replans=0
)
SEED_PLANS = {
    # The seed's GAPPlanner.parse_plan docstring.
    "seed-docstring": (
        "<plan>\nTask 1: Fetch user data | Dependencies: none\nTask 2: Calculate metrics | Dependencies: none\n"
        "Task 3: Generate report | Dependencies: Task 1, Task 2\n</plan>"
    ),
    # The seed's planning prompt: the answer format it asks for, think block included, placeholders as written.
    "seed-prompt-format": (
        "<think>\nBrief reasoning about approach...\n</think>\n\n<plan>\nTask 1: [description] | Dependencies: none\n"
        "Task 2: [description] | Dependencies: none\nTask 3: [description] | Dependencies: Task 1, Task 2\n</plan>"
    ),
    # The seed's HTDAG use: a complex task's description planned as free-text steps, with one tool call.
    "seed-mixed": (
        "<plan>\nTask 1: Find the population of France | Dependencies: none\n"
        'Task 2: kb_search(query="population of Germany") | Dependencies: none\n'
        "Task 3: Say which of the two countries has more people | Dependencies: Task 1, Task 2\n</plan>"
    ),
}
GAP_EXAMPLE = (
    "T1: Find the director of Inception - Dependencies: none\n"
    "T2: Find the release year of Titanic - Dependencies: none\n"
    "T3: Find the birth year of the director from T1 - Dependencies: T1\n"
    "T4: Compare the years from T2 and T3 - Dependencies: T2, T3\n"
)
QUERY = "Which country has the larger population, France or Germany?"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def local_model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlmSettings]:
    """`genesis llm serve` once for the module, as a user starts it; stopped by its pid."""
    if not extra_installed():
        pytest.fail(f"these tests need the real local model: {INSTALL_HINT}", pytrace=False)
    port = _free_port()
    log = tmp_path_factory.mktemp("llm") / "serve.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.cli.main", "llm", "serve", "--port", str(port)],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + SERVE_TIMEOUT_S
        while True:
            assert process.poll() is None, f"genesis llm serve exited: {log.read_text()[-2000:]}"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base_url}/models", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, f"the local model did not answer within {SERVE_TIMEOUT_S} s"
            time.sleep(0.2)
        yield LlmSettings(
            base_url=base_url,
            model=MODEL,
            timeout_s=240.0,
            max_tokens=256,
            structured_output="json_object",
            agent_max_tool_calls=2,
        )
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
        if process.poll() is None:
            process.kill()


@contextlib.asynccontextmanager
async def model_system(
    bootstrap: str, catalogue: Catalogue, llm: LlmSettings, settings: PlannerSettings = SLOW_MODEL
) -> AsyncIterator[tuple[GenesisClient, asyncio.Queue[TurnRecorded]]]:
    """The planner and two executors with the model (planning, agent steps), and every turn they record."""
    system = System(bootstrap, catalogue, executors=2, planner_settings=settings, chat=ChatClient(llm))
    system.registry = build_registry(ToolSettings(kb_latency_s=0.0), llm=llm, entry_point_group=None)
    turns: asyncio.Queue[TurnRecorded] = asyncio.Queue()
    listener = make_broker(KafkaSettings(), bootstrap, client_id="turns-listener")

    @listener.subscriber(catalogue.name(TURNS), **consumer_options(f"turns-{uuid.uuid4().hex[:6]}"))
    async def on_turn(body: bytes, message: KafkaMessage) -> None:
        await turns.put(decode_event(body))

    await listener.start()
    try:
        await system.start_planner()
        await system.start_executors()
        async with GenesisClient(bootstrap, catalogue, KafkaSettings()) as client:
            yield client, turns
    finally:
        await system.stop()
        await listener.stop()


async def turns_of(run_id: str, turns: asyncio.Queue[TurnRecorded], expected: int) -> list[TurnRecorded]:
    """The run's turns, waiting (bounded) until at least ``expected`` tasks have one."""
    seen: list[TurnRecorded] = []
    async with asyncio.timeout(60):
        while len({turn.task_id for turn in seen if turn.run_id == run_id}) < expected:
            seen.append(await turns.get())
    with contextlib.suppress(asyncio.QueueEmpty):
        while True:
            seen.append(turns.get_nowait())
    return [turn for turn in seen if turn.run_id == run_id]


async def tokens_of(run_id: str, turns: asyncio.Queue[TurnRecorded], recorded: list[TurnRecorded], total: int) -> int:
    """The tokens of the run's turns, reading on (bounded) while they are fewer than ``total``: an agent step's
    later turns may still be on their way."""
    counted = sum(turn.input_tokens + turn.output_tokens for turn in recorded)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(30):
            while counted < total:
                turn = await turns.get()
                if turn.run_id == run_id:
                    counted += turn.input_tokens + turn.output_tokens
    return counted


def assert_model_turns_are_recorded(turns: list[TurnRecorded]) -> None:
    chats = [turn for turn in turns if turn.operation == "chat"]
    assert chats, "no model call was recorded"
    for turn in chats:
        assert turn.model == MODEL and turn.input_tokens > 0, turn
        assert turn.output_tokens > 0 or turn.status == "error", turn
    for turn in turns:
        if turn.operation == "execute_tool":
            assert turn.tool_name != "llm" and turn.input_tokens == 0, turn


@pytest.mark.parametrize("name", list(SEED_PLANS))
async def test_seed_example_plan_runs_its_free_text_tasks_as_agent_steps_when_a_real_model_is_served(
    kafka_bootstrap: str, catalogue: Catalogue, local_model: LlmSettings, name: str
) -> None:
    async with model_system(kafka_bootstrap, catalogue, local_model) as (client, turns):
        outcome = await client.run(plan_text=SEED_PLANS[name], timeout_s=RUN_TIMEOUT_S)
        recorded = await turns_of(outcome.run_id, turns, expected=3)
    assert isinstance(outcome, RunFinished), outcome
    assert outcome.status in ("succeeded", "partial", "failed")
    assert outcome.metrics.tasks == 3
    assert_model_turns_are_recorded(recorded)
    agent_tasks = {"1", "2", "3"} if name != "seed-mixed" else {"1", "3"}
    assert agent_tasks <= {turn.task_id for turn in recorded if turn.operation == "chat"}
    if outcome.status == "succeeded":
        assert outcome.metrics.tokens >= sum(t.input_tokens + t.output_tokens for t in recorded if t.task_id == "3")


async def test_gap_repository_example_runs_end_to_end_when_a_real_model_is_served(
    kafka_bootstrap: str, catalogue: Catalogue, local_model: LlmSettings
) -> None:
    async with model_system(kafka_bootstrap, catalogue, local_model) as (client, turns):
        outcome = await client.run(plan_text=GAP_EXAMPLE, timeout_s=RUN_TIMEOUT_S)
        recorded = await turns_of(outcome.run_id, turns, expected=1)
    assert isinstance(outcome, RunFinished), outcome
    assert outcome.status in ("succeeded", "partial", "failed")
    assert outcome.metrics.tasks == 4
    assert_model_turns_are_recorded(recorded)


async def test_question_is_planned_by_the_model_and_runs_when_a_real_model_is_served(
    kafka_bootstrap: str, catalogue: Catalogue, local_model: LlmSettings
) -> None:
    answering = msgspec.structs.replace(SLOW_MODEL, synthesize_answer=True, synthesis_timeout_s=float(RUN_TIMEOUT_S))
    async with model_system(kafka_bootstrap, catalogue, local_model, answering) as (client, turns):
        outcome = await client.run(query=QUERY, timeout_s=RUN_TIMEOUT_S)
        if isinstance(outcome, RunFinished):
            recorded = await turns_of(outcome.run_id, turns, expected=outcome.metrics.tasks + 1)  # and "plan"
            # Read on while the turns' tokens fall short: the answer's turn may still be on its way.
            spent = await tokens_of(outcome.run_id, turns, recorded, outcome.metrics.tokens)
    # The plan's shape is enforced, so the tiny model's plan runs; a rejection must say why.
    assert isinstance(outcome, RunFinished | RunRejected), outcome
    if isinstance(outcome, RunRejected):
        pytest.fail(f"the model's plan was rejected: {outcome.reason}")
    assert outcome.status in ("succeeded", "partial", "failed")
    assert 1 <= outcome.metrics.tasks <= 6
    assert len({turn.task_id for turn in recorded} - {PLANNING_TASK, ANSWER_TASK}) == outcome.metrics.tasks
    planning = [turn for turn in recorded if turn.task_id == PLANNING_TASK]
    assert planning and planning[-1].status == "ok"  # the plan that ran; earlier tries carry their rejection
    assert_model_turns_are_recorded(recorded)
    # One attempt per task, no re-planning: the run's tokens are its turns', the drafting of the plan and the
    # writing of the answer (a run that succeeded at least in part) included.
    assert spent == outcome.metrics.tokens


async def test_genesis_submit_query_waits_for_the_outcome_when_a_real_model_plans_it(
    kafka_bootstrap: str, catalogue: Catalogue, local_model: LlmSettings, tmp_path: Path
) -> None:
    environment = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "GENESIS_KAFKA_TOPIC_PREFIX": catalogue.prefix,
        "GENESIS_PLANNER_GROUP_ID": f"{catalogue.prefix}-planner",
        "GENESIS_RUNTIME_STATE_DIR": str(tmp_path / "state"),
    }
    async with model_system(kafka_bootstrap, catalogue, local_model):
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.cli.main", "submit", "--query", QUERY, "--wait", "--json",
            "--timeout", str(RUN_TIMEOUT_S), env=environment,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        async with asyncio.timeout(RUN_TIMEOUT_S + 60):
            stdout, stderr = await process.communicate()
    report = json.loads(stdout)
    assert report["status"] in ("succeeded", "partial", "failed"), (report, stderr.decode())
    assert process.returncode == (0 if report["status"] == "succeeded" else 1)


def test_genesis_up_serves_the_local_model_and_runs_agent_steps_with_it_when_no_endpoint_is_configured(
    kafka_bootstrap: str, catalogue: Catalogue, tmp_path: Path
) -> None:
    if not extra_installed():
        pytest.fail(f"this test needs the real local model: {INSTALL_HINT}", pytrace=False)
    prefix = catalogue.prefix
    without_model_settings = {key: value for key, value in os.environ.items() if not key.startswith("GENESIS_LLM_")}
    env = stack_environment(
        kafka_bootstrap,
        prefix,
        tmp_path,
        inherit=without_model_settings,
        GENESIS_PLANNER_TASK_TIMEOUT_S="300",
        GENESIS_PLANNER_MAX_ATTEMPTS="1",
        GENESIS_PLANNER_MAX_REPLANS="0",
        GENESIS_LLM_TIMEOUT_S="240",
        GENESIS_LLM_MAX_TOKENS="256",
    )
    plan = tmp_path / "plan.txt"
    plan.write_text(SEED_PLANS["seed-docstring"])

    def genesis(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "services.cli.main", *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S + 60)

    try:
        started = genesis("up", "--executors", "1")
        assert started.returncode == 0, started.stderr
        services = {service["name"]: service for service in json.loads(genesis("status", "--json").stdout)["services"]}
        assert services["llm"]["healthy"] and services["llm"]["detail"]["model"] == MODEL
        submitted = genesis("submit", "--plan", str(plan), "--wait", "--json", "--timeout", str(RUN_TIMEOUT_S))
        outcome = json.loads(submitted.stdout)
        assert outcome["status"] in ("succeeded", "partial", "failed"), (outcome, submitted.stderr)
        assert outcome["metrics"]["tasks"] == 3
    finally:
        genesis("down")

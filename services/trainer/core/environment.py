"""A training environment where the planner's default policy is not the best: a rate-limited quote API.

Each episode is a fan-out plan: ``n`` independent ``quote`` calls, then one ``total`` over all their results, with
a deadline a little above what the plan needs at exactly ``rate_limit`` calls in flight. The quote API rejects a
call at once (HTTP 429) when it would make more than ``rate_limit`` calls in flight, and now and then fails for no
reason (``flake_rate``). So an uncapped planner collects tool errors, retries and failed runs; a cap below the
limit misses the deadline on wide fan-outs; the best cap is the limit, with enough attempts to ride out flakes.

The run is driven by the real planner state machine (``RunState``, the code the planner service runs) on a
simulated clock: each TaskReady finishes after the tool's simulated time, retries and deadlines fire when the
state machine asks to be woken. Nothing sleeps and the outcome depends only on the episode's seed, so training
is fast and repeatable. The live path, through Kafka and real executors, is the planner service itself.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from datetime import datetime, timedelta

import msgspec

from schemas.events import Event, RunFinished, RunRequested, TaskFinished, TaskReady, TurnRecorded
from schemas.plan import Plan, Task
from schemas.policy import Policy
from services.planner.core.run import RunState
from services.planner.core.scheduling import SchedulingConfig, choose_strategy
from services.planner.core.simulate import SIMULATION_START

QUOTE_TOOL = "quote"
TOTAL_TOOL = "total"
ENVIRONMENT_LABEL = "rate_limited_quotes"


class EnvironmentConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    # k: the quote API rejects a call that would make more than this many calls in flight.
    rate_limit: int = 3
    call_s: float = 1.0
    # How long a rejected (429) or flaky call takes to fail.
    rejection_s: float = 0.05
    # The chance that an accepted call fails anyway (retryable).
    flake_rate: float = 0.05
    total_s: float = 0.1
    # The plan shapes: how many quotes each fan-out fetches.
    fan_outs: tuple[int, ...] = (2, 4, 6, 9)
    # The deadline is this multiple of the plan's makespan at exactly rate_limit calls in flight.
    deadline_slack: float = 1.5
    backoff_base_s: float = 0.25
    backoff_max_s: float = 2.0

    def __post_init__(self) -> None:
        if self.rate_limit < 1 or not self.fan_outs or min(self.fan_outs) < 1:
            raise ValueError("environment: rate_limit and every fan_out must be at least 1")


class Episode(msgspec.Struct, frozen=True, kw_only=True):
    fan_out: int
    seed: int


def episodes(config: EnvironmentConfig, count: int, *, first_seed: int) -> list[Episode]:
    """``count`` episodes cycling through the plan shapes, each with its own seed for the flakes."""
    shapes = itertools.cycle(config.fan_outs)
    return [Episode(fan_out=next(shapes), seed=first_seed + number) for number in range(count)]


def quote_value(symbol_number: int) -> int:
    return 100 + 7 * symbol_number


def plan_for(episode: Episode) -> Plan:
    quotes = [Task(id=f"q{n}", tool=QUOTE_TOOL, args={"symbol": f"S{n}"}) for n in range(1, episode.fan_out + 1)]
    total = Task(
        id="total",
        tool=TOTAL_TOOL,
        args={"values": [{"$ref": quote.id} for quote in quotes]},
        deps=tuple(quote.id for quote in quotes),
    )
    return Plan(tasks=(*quotes, total), format="json")


def deadline_s(config: EnvironmentConfig, episode: Episode) -> float:
    at_the_limit = math.ceil(episode.fan_out / config.rate_limit) * config.call_s + config.total_s
    return config.deadline_slack * at_the_limit


def request_for(config: EnvironmentConfig, episode: Episode) -> RunRequested:
    return RunRequested(
        run_id=f"sim-{episode.fan_out}-{episode.seed}",
        occurred_at=SIMULATION_START,
        plan=plan_for(episode),
        expected_answer=str(sum(quote_value(n) for n in range(1, episode.fan_out + 1))),
        deadline_s=deadline_s(config, episode),
        labels={"environment": ENVIRONMENT_LABEL, "fan_out": str(episode.fan_out), "seed": str(episode.seed)},
    )


def run_episode(config: EnvironmentConfig, episode: Episode, policy: Policy) -> tuple[RunFinished, list[TurnRecorded]]:
    """Run the episode's plan under ``policy``: the RunFinished the planner publishes and every turn taken."""
    request = request_for(config, episode)
    assert request.plan is not None
    serial = itertools.count()
    scheduling = SchedulingConfig(
        # Calls never outlive their lease here: the environment tests pacing, not lost messages.
        task_timeout_s=10 * config.call_s,
        lease_grace_s=config.call_s,
        backoff_base_s=config.backoff_base_s,
        backoff_max_s=config.backoff_max_s,
    )
    state, emitted = RunState.begin(
        request,
        request.plan,
        policy=policy,
        strategy=choose_strategy(request.plan, policy, request.strategy),
        config=scheduling,
        now=SIMULATION_START,
        new_id=lambda: f"{request.run_id}-{next(serial)}",
    )
    api = _QuoteApi(config, episode.seed)
    api.start(emitted, SIMULATION_START)
    while not state.finished:
        wakeup = state.next_wakeup()
        if api.next_result_at is not None and (wakeup is None or api.next_result_at <= wakeup):
            result = api.pop_result()
            api.start(state.on_task_finished(result, result.occurred_at), result.occurred_at)
        else:
            assert wakeup is not None  # an unfinished run always has its deadline ahead
            api.start(state.on_tick(wakeup), wakeup)
    assert state.outcome is not None
    return state.outcome, api.turns


class _QuoteApi:
    """The simulated executors and tools: each TaskReady becomes a TurnRecorded and a TaskFinished later on."""

    def __init__(self, config: EnvironmentConfig, seed: int) -> None:
        self._config = config
        self._seed = seed
        self._pending: list[tuple[datetime, int, TaskFinished]] = []
        self._serial = itertools.count()
        self._quotes_in_flight: set[tuple[str, int]] = set()
        self.turns: list[TurnRecorded] = []

    @property
    def next_result_at(self) -> datetime | None:
        return self._pending[0][0] if self._pending else None

    def pop_result(self) -> TaskFinished:
        _, _, result = heapq.heappop(self._pending)
        self._quotes_in_flight.discard((result.task_id, result.attempt))
        return result

    def start(self, events: list[Event], now: datetime) -> None:
        for event in events:
            if isinstance(event, TaskReady):
                self._call(event, now)

    def _call(self, task: TaskReady, now: datetime) -> None:
        value, error, took_s = self._outcome(task)
        done_at = now + timedelta(seconds=took_s)
        common = {"run_id": task.run_id, "task_id": task.task_id, "attempt": task.attempt, "executor": "simulated"}
        self.turns.append(
            TurnRecorded(
                **common,
                occurred_at=done_at,
                tool_name=task.tool,
                started_at=now,
                latency_s=took_s,
                status="ok" if error is None else "error",
                error=error,
            )
        )
        result = TaskFinished(
            **common,
            occurred_at=done_at,
            status="ok" if error is None else "error",
            result=value,
            error=error,
            started_at=now,
            finished_at=done_at,
        )
        heapq.heappush(self._pending, (done_at, next(self._serial), result))

    def _outcome(self, task: TaskReady) -> tuple[object, str | None, float]:
        config = self._config
        if task.tool == TOTAL_TOOL:
            return sum(task.args["values"]), None, config.total_s
        in_flight = len(self._quotes_in_flight) + 1
        if in_flight > config.rate_limit:
            error = f"429 Too Many Requests: {in_flight} calls in flight, the limit is {config.rate_limit}"
            return None, error, config.rejection_s
        # Drawn per call (task and attempt), not per draw order, so every policy meets the same flakes.
        if random.Random(f"{self._seed}:{task.task_id}:{task.attempt}").random() < config.flake_rate:
            return None, "503 Service Unavailable: upstream hiccup", config.rejection_s
        self._quotes_in_flight.add((task.task_id, task.attempt))
        return quote_value(int(task.args["symbol"][1:])), None, config.call_s

"""Every fact that crosses a process boundary, as one tagged union of frozen msgspec Structs.

Rules for evolving these (msgspec's schema-evolution rules, which keep old consumers working):
new fields get defaults; never change a field's type; a changed meaning gets a new tag (``.v2``).
Old decoders ignore fields they do not know, so unknown fields are never forbidden here.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec

from schemas.plan import Plan
from schemas.policy import Policy


def new_event_id() -> str:
    """A UUIDv7 (RFC 9562) as 32 hex digits: a millisecond timestamp, then 74 random bits.

    Ids that grow with time land next to each other in an index: the warehouse's uniqueness check on event ids
    costs about half as much per insert as with random (v4) ids, and stays flat as the table grows.
    """
    random_bits = int.from_bytes(os.urandom(10))
    value = (time.time_ns() // 1_000_000) << 80 | _UUID7_VERSION_AND_VARIANT | _random_fields(random_bits)
    return f"{value:032x}"


_UUID7_VERSION_AND_VARIANT = 0x7 << 76 | 0b10 << 62


def _random_fields(random_bits: int) -> int:
    # 12 bits for rand_a (after the version nibble), 62 bits for rand_b (after the variant bits).
    return (random_bits >> 62 & 0xFFF) << 64 | random_bits & (1 << 62) - 1


def utc_now() -> datetime:
    return datetime.now(UTC)


# gc=False on events and plans: they are values built from JSON-like data and take part in no reference cycle,
# so leaving them untracked keeps Python's cyclic collector from rescanning the millions the warehouse decodes.
class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", gc=False):
    """The envelope every event carries. ``source`` names the producing service instance."""

    event_id: str = msgspec.field(default_factory=new_event_id)
    run_id: str
    occurred_at: datetime = msgspec.field(default_factory=utc_now)
    source: str = ""


Strategy = Literal["auto", "parallel", "sequential"]
RunStatus = Literal["succeeded", "failed", "partial", "rejected", "timed_out", "cancelled"]


class RunRequested(Event, kw_only=True, tag="RunRequested.v1"):
    """A producer asks for a job: a ready plan (structured or text) or a query for the LLM planner."""

    plan: Plan | None = None
    plan_text: str | None = None
    query: str | None = None
    expected_answer: str | None = None
    deadline_s: float | None = None
    strategy: Strategy = "auto"
    labels: dict[str, str] = {}
    # The tools this request's plan may use; None: every tool the executors offer.
    allowed_tools: list[str] | None = None


class RunCancelRequested(Event, kw_only=True, tag="RunCancelRequested.v1"):
    """A producer asked for a run to stop: it finishes as cancelled, and tasks not yet started are skipped."""

    reason: str = ""


class RunRejected(Event, kw_only=True, tag="RunRejected.v1"):
    """The request could not become a runnable plan; ``reason`` names the line or task at fault."""

    reason: str
    line: int | None = None
    task_id: str | None = None


class RunPlanned(Event, kw_only=True, tag="RunPlanned.v1"):
    """The planner accepted a plan and fixed how it will run it."""

    plan: Plan
    strategy: Literal["parallel", "sequential"]
    levels: list[list[str]]
    critical_path: list[str]
    policy_version: int = 0
    deadline_at: datetime | None = None


class RunReplanned(Event, kw_only=True, tag="RunReplanned.v1"):
    """A task failed for good and the LLM wrote a sub-plan in its place (re-planning): the run goes on with ``plan``,
    its tasks from now on. ``added`` are the sub-plan's tasks (new ids); ``stands_in`` is the one whose result takes
    the failed task's place, so the tasks that needed the failed one now need it."""

    replaced_task_id: str
    reason: str
    plan: Plan
    added: list[str]
    stands_in: str
    levels: list[list[str]] = []
    critical_path: list[str] = []
    replan: int = 1  # how many times this run has been re-planned, this one included
    # The tokens of the model calls that wrote the sub-plan (its turns, task r<replan>.plan): the run counts them.
    tokens: int = 0


class TaskReady(Event, kw_only=True, tag="TaskReady.v1"):
    """A task whose dependencies are done, with their results already substituted into ``args``."""

    task_id: str
    attempt: int = 1
    tool: str
    args: dict[str, Any] = {}
    description: str = ""
    timeout_s: float = 30.0
    # The run's deadline: an executor that takes the task later skips it without running the tool.
    deadline_at: datetime | None = None
    # An attempt not started by then is re-dispatched by the planner, so an executor that takes it later skips it.
    start_by: datetime | None = None


class TaskStarted(Event, kw_only=True, tag="TaskStarted.v1"):
    """An executor began an attempt: its lease runs from here, and the time it waited in Kafka is visible."""

    task_id: str
    attempt: int = 1
    executor: str = ""
    dispatched_at: datetime | None = None


class TaskFinished(Event, kw_only=True, tag="TaskFinished.v1"):
    """One attempt of a task ended: ``status`` ok with a result, or error with the reason."""

    task_id: str
    attempt: int = 1
    status: Literal["ok", "error"]
    result: Any = None
    # Claim check: a result too large for an event is stored in the blob store (streams/blobs.py) and travels
    # as this reference ("sha256:<hex>") with ``result`` None; resolve it with streams.blobs before use.
    result_ref: str | None = None
    error: str | None = None
    # False when another attempt cannot help (unknown tool, bad arguments).
    retryable: bool = True
    started_at: datetime | None = None
    finished_at: datetime | None = None
    executor: str = ""
    input_tokens: int = 0
    output_tokens: int = 0


class TaskSkipped(Event, kw_only=True, tag="TaskSkipped.v1"):
    """A task will not run because a task it depends on failed, or the run ended first."""

    task_id: str
    reason: str


class TurnRecorded(Event, kw_only=True, tag="TurnRecorded.v1"):
    """One LLM or tool call, named after the OpenTelemetry GenAI conventions (operation, tool name, tokens)."""

    task_id: str
    attempt: int = 1
    operation: Literal["execute_tool", "chat"] = "execute_tool"
    tool_name: str
    model: str | None = None
    arguments: str = ""
    output: str = ""
    arguments_bytes: int = 0
    output_bytes: int = 0
    started_at: datetime | None = None
    latency_s: float = 0.0
    status: Literal["ok", "error"] = "ok"
    error: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    executor: str = ""


class RunMetrics(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    makespan_s: float = 0.0
    # The time the tasks would take one after another: the sum of task durations.
    sequential_s: float = 0.0
    critical_path_s: float = 0.0
    speedup: float = 0.0
    turns: int = 0
    tool_errors: int = 0
    tokens: int = 0
    tasks: int = 0
    attempts: int = 0


class RunFinished(Event, kw_only=True, tag="RunFinished.v1"):
    """The outcome of a run: its status, the answer, and how long it took. Each result travels once: the final
    tasks' results make up ``answer`` (unless the LLM wrote it), ``observations`` holds the other tasks' results."""

    status: RunStatus
    answer: Any = None
    observations: dict[str, Any] = {}
    metrics: RunMetrics = RunMetrics()
    reason: str | None = None
    strategy: str | None = None
    expected_answer: str | None = None
    labels: dict[str, str] = {}
    skipped: dict[str, str] = {}
    # Succeeded tasks whose results did not fit in the event (planner.max_observation_bytes); the warehouse has them.
    omitted: list[str] = []


class PolicyUpdated(Event, kw_only=True, tag="PolicyUpdated.v1"):
    """The trainer learned a policy; planners apply it to runs planned after they see it."""

    policy: Policy
    reason: str = ""
    mean_reward: float | None = None


class RewardAssigned(Event, kw_only=True, tag="RewardAssigned.v1"):
    """The trainer scored a finished run; ``components`` explains the sum."""

    reward: float
    components: dict[str, float] = {}
    rollout_id: str = ""


AnyEvent = (
    RunRequested
    | RunCancelRequested
    | RunRejected
    | RunPlanned
    | RunReplanned
    | TaskReady
    | TaskStarted
    | TaskFinished
    | TaskSkipped
    | TurnRecorded
    | RunFinished
    | PolicyUpdated
    | RewardAssigned
)
EVENT_TYPES: tuple[type[Event], ...] = AnyEvent.__args__  # type: ignore[attr-defined]

"""The planner's configuration: plan limits, scheduling (timeouts, leases, backoff, deadlines), the starting policy."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from configs.settings import load_section
from services.planner.core.limits import IntakeLimits


class PlannerSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    group_id: str = "genesis-planner"
    # A planner silent this long loses its partitions to the others (the consumer group's session timeout).
    session_timeout_ms: int = 10_000
    # An open transaction of a planner that died is aborted by the broker after this, unless the partition's
    # next owner aborts it sooner (it does so as it takes the partition over).
    transaction_timeout_ms: int = 30_000
    # Rebuilding the runs of newly assigned partitions stops after this; what was not read is logged.
    restore_timeout_s: float = 120.0
    # Inputs read per poll: a batch is applied in memory, then journaled and published in one flush.
    max_poll_records: int = 1000
    # Prometheus metrics on /metrics and health on /healthz (0: any free port, shown by `genesis status`).
    metrics_port: int = 9401
    # Bounds of one request, checked when it arrives (services/planner/core/limits.py).
    max_tasks: int = 64
    max_plan_bytes: int = 256_000
    max_arg_bytes: int = 16_000
    max_labels: int = 32
    max_label_bytes: int = 256
    max_deadline_s: float = 3600.0
    # RunFinished carries the task results up to this many bytes; the ids of the rest are listed as omitted.
    max_observation_bytes: int = 256_000
    task_timeout_s: float = 30.0
    # A dispatched attempt that no executor has started by then is dispatched again (TaskReady.start_by).
    start_timeout_s: float = 60.0
    # A dispatched task with no result after its timeout plus this grace is dispatched again.
    lease_grace_s: float = 5.0
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    default_deadline_s: float = 300.0
    # The policy in force until the trainer publishes one (PolicyUpdated).
    max_parallelism: int = 0
    gap_threshold: int = 3
    max_attempts: int = 3
    prompt_file: str = "configs/prompts/gap_planning.txt"
    # With an LLM configured: write the answer from the observations instead of returning the final task's result.
    synthesize_answer: bool = False
    # An answer not synthesised by then (the model is slow or down): the run finishes with its tasks' results.
    synthesis_timeout_s: float = 60.0
    # With an LLM configured: a task that fails for good may be replaced by a sub-plan the model writes, at most
    # this many times per run (0: never); its dependents wait at most replan_timeout_s for it.
    max_replans: int = 1
    replan_timeout_s: float = 120.0
    # Background loops (flush, tick): a loop silent this long makes the planner unhealthy; this many failures
    # in a row make it exit non-zero, for its supervisor to restart it.
    loop_stall_s: float = 30.0
    loop_max_failures: int = 10
    # Finished run ids remembered to ignore a redelivered request for a run that already ended.
    remember_finished: int = 100_000
    # A run's journal holds at most this many records after its last snapshot: the write that would pass it is a
    # snapshot instead (the history again, in as few records as fit) and deletes the rest, so a take-over reads few
    # records per run (services/planner/runbook.py, docs/adr/0003). 0: never.
    journal_snapshot_records: Annotated[int, msgspec.Meta(ge=0)] = 64
    # exactly_once: a dispatch is published in its input partition's transaction, with the run's journal, so no
    # attempt is ever dispatched twice. at_least_once: it is sent the moment the run emits it, ahead of the
    # transaction (a hop 1-3 ms shorter when idle, 5-8 ms under load); a planner that dies before its journal
    # commits leaves the next owner to dispatch those tasks again; the executor that took the first copy answers the
    # repeat with its start and result (executor.remember_attempts_bytes), so a tool runs twice only if the
    # partition moved in between.
    # services/planner/dispatch.py, docs/adr/0009.
    dispatch_guarantee: Literal["exactly_once", "at_least_once"] = "exactly_once"


def load_planner_settings() -> PlannerSettings:
    return load_section("planner", PlannerSettings)


def intake_limits(settings: PlannerSettings) -> IntakeLimits:
    return IntakeLimits(
        max_plan_bytes=settings.max_plan_bytes,
        max_tasks=settings.max_tasks,
        max_arg_bytes=settings.max_arg_bytes,
        max_labels=settings.max_labels,
        max_label_bytes=settings.max_label_bytes,
        max_deadline_s=settings.max_deadline_s,
    )

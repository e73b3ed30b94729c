"""How the planner paces a run: timeouts, leases, retry backoff, and the sequential-vs-parallel choice."""

from __future__ import annotations

import hashlib
from typing import Literal

import msgspec

from schemas.plan import Plan
from schemas.policy import Policy

ExecutionStrategy = Literal["parallel", "sequential"]


class SchedulingConfig(msgspec.Struct, frozen=True, kw_only=True):
    """The planner's service settings for running tasks (the learned knobs live in Policy)."""

    task_timeout_s: float = 30.0
    # A dispatched attempt no executor started within this is re-dispatched (TaskReady.start_by); a started one
    # with no result after its timeout plus the grace is presumed lost and re-dispatched.
    start_timeout_s: float = 60.0
    lease_grace_s: float = 5.0
    backoff_base_s: float = 1.0
    backoff_max_s: float = 30.0
    # The run deadline when the request gives none.
    default_deadline_s: float = 600.0
    tool_timeouts_s: dict[str, float] = {}
    # None: the answer is the final tasks' results; a number: the LLM writes it, within this many seconds.
    synthesis_timeout_s: float | None = None
    # RunFinished carries task results up to this size; the ids of the rest are listed in ``omitted``.
    max_observation_bytes: int = 256_000
    # Re-planning: a task that fails for good may be replaced by a sub-plan from the LLM, at most this many times
    # per run (0: never, as for runs journaled before it existed), each within ``replan_timeout_s``.
    max_replans: int = 0
    replan_timeout_s: float = 60.0

    def timeout_for(self, tool: str) -> float:
        return self.tool_timeouts_s.get(tool, self.task_timeout_s)


def retry_delay_s(config: SchedulingConfig, *, run_id: str, task_id: str, failed_attempt: int) -> float:
    """Exponential backoff with equal jitter: the ceiling doubles with each failed attempt up to ``backoff_max_s``,
    and the delay lies in [ceiling/2, ceiling]. The jitter comes from a hash of (run, task, attempt), so retries of
    sibling tasks spread out while the same failure always gets the same delay."""
    ceiling = min(config.backoff_max_s, config.backoff_base_s * 2.0 ** min(failed_attempt - 1, 60))
    digest = hashlib.blake2b(f"{run_id}\0{task_id}\0{failed_attempt}".encode(), digest_size=8).digest()
    fraction = int.from_bytes(digest, "big") / 2**64
    return ceiling * (0.5 + 0.5 * fraction)


def choose_strategy(
    plan: Plan, policy: Policy, requested: Literal["auto", "parallel", "sequential"]
) -> ExecutionStrategy:
    """The seed's HTDAG rule for ``auto``: plans with fewer tasks than ``policy.gap_threshold`` are simple and run
    one task at a time; larger plans run as a parallel DAG. An explicit request wins."""
    if requested != "auto":
        return requested
    return "sequential" if len(plan.tasks) < policy.gap_threshold else "parallel"

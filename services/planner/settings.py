"""The planner's configuration: plan limits, scheduling (timeouts, leases, backoff, deadlines), the starting policy."""

from __future__ import annotations

import msgspec

from configs.settings import load_section


class PlannerSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    group_id: str = "genesis-planner"
    max_tasks: int = 64
    task_timeout_s: float = 30.0
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
    # Finished run ids remembered to ignore a redelivered request for a run that already ended.
    remember_finished: int = 100_000


def load_planner_settings() -> PlannerSettings:
    return load_section("planner", PlannerSettings)

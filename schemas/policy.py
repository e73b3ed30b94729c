"""The planning policy: the knobs the trainer learns and the planner applies live.

Every knob is bounded, and a policy that would stop the planner from dispatching (no attempts, a negative cap, a
prompt without the question) cannot be built or decoded: the planner's inbox dead-letters such a PolicyUpdated
with the reason and keeps the policy it has.
"""

from __future__ import annotations

import msgspec

MAX_PARALLELISM_BOUND = 10_000
GAP_THRESHOLD_BOUND = 1_000
MAX_ATTEMPTS_BOUND = 10
PROMPT_TEMPLATE_MAX_CHARS = 20_000
QUESTION_PLACEHOLDER = "{user_query}"


class Policy(msgspec.Struct, frozen=True, kw_only=True):
    """How the planner runs plans. ``version`` grows with every update so planners can ignore stale ones."""

    version: int = 0
    # At most this many tasks of one run are dispatched at once; 0 means no cap.
    max_parallelism: int = 0
    # Plans with fewer tasks than this run sequentially (the seed's HTDAG rule: 1-2 steps are "simple").
    gap_threshold: int = 3
    # Attempts per task, the first one included.
    max_attempts: int = 3
    prompt_template: str | None = None

    def __post_init__(self) -> None:
        _within("version", self.version, 0, 2**62)
        _within("max_parallelism", self.max_parallelism, 0, MAX_PARALLELISM_BOUND)
        _within("gap_threshold", self.gap_threshold, 0, GAP_THRESHOLD_BOUND)
        _within("max_attempts", self.max_attempts, 1, MAX_ATTEMPTS_BOUND)
        if self.prompt_template is not None:
            if len(self.prompt_template) > PROMPT_TEMPLATE_MAX_CHARS:
                size = len(self.prompt_template)
                raise ValueError(f"policy prompt_template is {size} characters, over {PROMPT_TEMPLATE_MAX_CHARS}")
            if QUESTION_PLACEHOLDER not in self.prompt_template:
                raise ValueError(f"policy prompt_template must contain {QUESTION_PLACEHOLDER}")


def _within(knob: str, value: int, low: int, high: int) -> None:
    if isinstance(value, bool) or not low <= value <= high:
        raise ValueError(f"policy {knob} is {value!r}, outside {low}..{high}")

"""The planning policy: the knobs the trainer learns and the planner applies live."""

from __future__ import annotations

import msgspec


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

"""Size limits on what a request may bring in, checked where it enters the planner.

Every rejection is a one-line PlanError that names the setting to change (``planner.max_plan_bytes``), so an
operator reading RunRejected.reason knows both what was too big and which knob allows it.
"""

from __future__ import annotations

import msgspec

from schemas.events import RunRequested
from schemas.plan import Plan, Task
from services.planner.core.errors import PlanError

_encoder = msgspec.json.Encoder()

# Arguments nested deeper than this are rejected before anything walks them recursively (no RecursionError).
MAX_ARG_DEPTH = 32


class IntakeLimits(msgspec.Struct, frozen=True, kw_only=True):
    """The bounds of one request (the planner's settings of the same names)."""

    # Plan text, a structured plan (JSON-encoded) and a query alike.
    max_plan_bytes: int = 256_000
    max_tasks: int = 64
    # One task's arguments, JSON-encoded, before dependency results are substituted.
    max_arg_bytes: int = 16_000
    max_labels: int = 32
    # Each label key and each label value.
    max_label_bytes: int = 256
    max_deadline_s: float = 3600.0


def check_request(request: RunRequested, limits: IntakeLimits) -> None:
    """Raise PlanError for the first bound the request's envelope breaks (plan size, labels, deadline)."""
    for what, size in _sizes(request):
        if size > limits.max_plan_bytes:
            raise PlanError(f"{what} is {size} bytes, over planner.max_plan_bytes ({limits.max_plan_bytes})")
    if len(request.labels) > limits.max_labels:
        raise PlanError(f"request has {len(request.labels)} labels, over planner.max_labels ({limits.max_labels})")
    for key, value in request.labels.items():
        for what, text in ((f"label key {key[:40]!r}", key), (f"label {key[:40]!r}", value)):
            if (size := _utf8_size(text)) > limits.max_label_bytes:
                raise PlanError(f"{what} is {size} bytes, over planner.max_label_bytes ({limits.max_label_bytes})")
    if request.deadline_s is not None:
        if not request.deadline_s > 0:
            raise PlanError(f"deadline_s must be positive, got {request.deadline_s:g}")
        if request.deadline_s > limits.max_deadline_s:
            raise PlanError(
                f"deadline of {request.deadline_s:g}s is over planner.max_deadline_s ({limits.max_deadline_s:g})"
            )


def check_task_args(task: Task, max_arg_bytes: int) -> None:
    size = len(_encoder.encode(task.args))
    if size > max_arg_bytes:
        raise PlanError(
            f"task {task.id}'s arguments are {size} bytes, over planner.max_arg_bytes ({max_arg_bytes})",
            task_id=task.id,
        )


def check_task_count(plan: Plan, max_tasks: int) -> None:
    if len(plan.tasks) > max_tasks:
        raise PlanError(f"plan has {len(plan.tasks)} tasks, over planner.max_tasks ({max_tasks})")


def too_deep(value: object, limit: int = MAX_ARG_DEPTH) -> bool:
    """Whether lists and objects nest deeper than ``limit`` in ``value`` (walked without recursion)."""
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list | tuple):
            if depth >= limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def _sizes(request: RunRequested) -> list[tuple[str, int]]:
    sizes = []
    if request.plan_text is not None:
        sizes.append(("plan text", _utf8_size(request.plan_text)))
    if request.query is not None:
        sizes.append(("query", _utf8_size(request.query)))
    if request.plan is not None:
        sizes.append(("plan", len(_encoder.encode(request.plan))))
    return sizes


def _utf8_size(text: str) -> int:
    # surrogatepass: a lone surrogate from JSON input is counted, not a crash.
    return len(text.encode("utf-8", "surrogatepass"))

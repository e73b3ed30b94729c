"""Re-planning: a task that failed for good is replaced, within the same run, by a sub-plan the LLM wrote for it.

The run's side of it (services/planner/core/run.py): when a task fails after its last attempt and the run has
re-plans left (``SchedulingConfig.max_replans``), the run records ReplanRequested and its dependents wait instead of
being skipped. The planner's re-planning stage (services/planner/replanning.py) asks the model and hands the sub-plan
back (``RunState.on_replan``); ``decide_replan`` here turns it into the fact the run records:

- RunReplanned, when the sub-plan can be grafted: its tasks join the run as ``r<n>.<id>`` (n counts the run's
  re-plans), its first tasks inherit the failed task's dependencies (their results are what the failed task had to
  work with), and its last final task stands in for the failed one: every task that needed the failed task now
  needs the stand-in, in its dependencies and in its argument references. Other final tasks of the sub-plan become
  dependencies of the stand-in, so the sub-plan ends in that one task.
- ReplanFailed, with a one-line reason, when no sub-plan came or it cannot be grafted; so does a request whose time
  (``replan_timeout_s``) runs out. The run then goes on as without re-planning: the dependents are skipped.

Both are facts of the journal, so a replay rebuilds the extended plan from RunReplanned without asking anyone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from schemas.events import Event, RunReplanned
from schemas.plan import Plan, Task
from services.planner.core.dag import Dag
from services.planner.core.errors import PlanError
from services.planner.core.journal import ReplanFailed, ReplanRequested
from services.planner.core.progress import tool_and_args
from services.planner.core.refs import REF
from services.planner.core.validate import validate_plan

if TYPE_CHECKING:
    from services.planner.core.run import RunState


@dataclass
class Replans:
    """A run's re-planning so far (part of its state, so a replay must reproduce it)."""

    requested: int = 0
    waiting: dict[str, ReplanRequested] = field(default_factory=dict)  # failed task -> its open request
    replaced: dict[str, str] = field(default_factory=dict)  # failed task -> the sub-plan task standing in for it
    failed: dict[str, str] = field(default_factory=dict)  # failed task -> why no sub-plan replaced it

    def handled(self, task_id: str) -> bool:
        return task_id in self.waiting or task_id in self.replaced or task_id in self.failed

    def next_due(self) -> datetime | None:
        return min((request.due_at for request in self.waiting.values()), default=None)

    def apply(self, event: Event) -> bool:
        """Fold one re-planning fact; False for one that changes nothing (not waited for)."""
        if isinstance(event, ReplanRequested) and not self.handled(event.task_id):
            self.requested += 1
            self.waiting[event.task_id] = event
            return True
        if isinstance(event, ReplanFailed) and self.waiting.pop(event.task_id, None) is not None:
            self.failed[event.task_id] = event.reason
            return True
        if isinstance(event, RunReplanned) and self.waiting.pop(event.replaced_task_id, None) is not None:
            self.replaced[event.replaced_task_id] = event.stands_in
            return True
        return False


@dataclass(frozen=True)
class FailedStep:
    """What the model is told about a task that failed for good, to write a sub-plan in its place."""

    task_id: str
    description: str
    tool: str | None
    args: dict[str, Any]
    error: str
    inputs: dict[str, Any]  # the results of its dependencies
    allowed_tools: list[str] | None


def failed_step(state: RunState, task_id: str) -> FailedStep:
    task = state.plan.task(task_id)
    inputs = {dep: state.tasks[dep].result for dep in task.deps if state.tasks[dep].status == "succeeded"}
    args = tool_and_args(task, inputs)[1] if task.tool is not None and len(inputs) == len(task.deps) else task.args
    return FailedStep(
        task_id=task_id,
        description=task.description,
        tool=task.tool,
        args=dict(args),
        error=state.tasks[task_id].error or "failed without a message",
        inputs=inputs,
        allowed_tools=state.allowed_tools,
    )


def requests_owed(state: RunState, now: datetime, envelope: Callable[[], dict[str, Any]]) -> list[Event]:
    """What the run owes for re-planning at ``now``: ReplanFailed for each request whose time ran out, and
    ReplanRequested for each task that failed for good since (in plan order), while re-plans are left.
    ``envelope()`` gives each event's envelope."""
    config = state.config
    if not state.replans.waiting and state.replans.requested >= config.max_replans:
        return []  # the common case, kept cheap: re-planning is off or used up
    owed: list[Event] = [
        ReplanFailed(
            **envelope(),
            task_id=task_id,
            reason=f"no sub-plan within planner.replan_timeout_s ({config.replan_timeout_s:g} s)",
        )
        for task_id, request in state.replans.waiting.items()
        if request.due_at <= now
    ]
    failed = [
        task_id
        for task_id in sorted(state.with_status("failed"), key=state.dag.position)  # in plan order
        if not state.replans.handled(task_id)
    ]
    left = config.max_replans - state.replans.requested
    for number, task_id in enumerate(failed[:left], state.replans.requested + 1):
        owed.append(
            ReplanRequested(
                **envelope(),
                task_id=task_id,
                replan=number,
                error=state.tasks[task_id].error or "failed without a message",
                due_at=now + timedelta(seconds=config.replan_timeout_s),
            )
        )
    return owed


def decide_replan(
    state: RunState,
    task_id: str,
    subplan: Plan | None,
    problem: str | None,
    envelope: Mapping[str, Any],
    *,
    tokens: int = 0,
) -> RunReplanned | ReplanFailed:
    """The fact a sub-plan (or its absence, ``problem`` saying why) makes for the run waiting on ``task_id``;
    either carries ``tokens``, what the model calls behind it cost, for the run to count."""
    request = state.replans.waiting[task_id]
    if subplan is None:
        return ReplanFailed(**envelope, task_id=task_id, reason=problem or "the model wrote no sub-plan", tokens=tokens)
    try:
        plan, added, stands_in = graft(state.plan, task_id, subplan, request.replan)
    except PlanError as error:
        return ReplanFailed(**envelope, task_id=task_id, reason=f"the sub-plan cannot run: {error}", tokens=tokens)
    dag = Dag.from_plan(plan)
    return RunReplanned(
        **envelope,
        replaced_task_id=task_id,
        reason=request.error,
        plan=plan,
        added=added,
        stands_in=stands_in,
        levels=dag.levels(),
        critical_path=dag.critical_path(),
        replan=request.replan,
        tokens=tokens,
    )


def graft(plan: Plan, replaced: str, subplan: Plan, replan: int) -> tuple[Plan, list[str], str]:
    """``plan`` with ``subplan`` in place of task ``replaced`` (see the module doc): the extended plan, the new task
    ids in the sub-plan's order, and the id of the task that stands in for ``replaced``. PlanError names what is
    wrong with a sub-plan that cannot be grafted."""
    validate_plan(subplan, known_tools=None, max_tasks=len(subplan.tasks) or 1, llm_available=True)
    renamed = {task.id: f"r{replan}.{task.id}" for task in subplan.tasks}
    taken = sorted({task.id for task in plan.tasks} & set(renamed.values()))
    if taken:
        raise PlanError(f"the sub-plan's task id {taken[0]} is taken in the run")
    inherited = plan.task(replaced).deps
    sinks = Dag.from_plan(subplan).sinks()
    stand_in = sinks[-1]
    added = []
    for task in subplan.tasks:
        deps = tuple(renamed[dep] for dep in task.deps) or inherited
        if task.id == stand_in:
            deps += tuple(renamed[sink] for sink in sinks[:-1])
        added.append(
            Task(
                id=renamed[task.id],
                description=task.description,
                tool=task.tool,
                args=_renamed_refs(task.args, renamed),
                deps=deps,
            )
        )
    stands_in = renamed[stand_in]
    rewired = [
        task
        if replaced not in task.deps
        else Task(
            id=task.id,
            description=task.description,
            tool=task.tool,
            args=_renamed_refs(task.args, {replaced: stands_in}),
            deps=tuple(stands_in if dep == replaced else dep for dep in task.deps),
        )
        for task in plan.tasks
    ]
    return Plan(tasks=(*rewired, *added), format=plan.format), [task.id for task in added], stands_in


def replan_note(state: RunState, task_id: str) -> str:
    """What a failure's reason adds about re-planning: nothing, or why no sub-plan replaced the task."""
    why = state.replans.failed.get(task_id)
    return f"; no sub-plan replaced it: {why}" if why else ""


def _renamed_refs(value: Any, renamed: Mapping[str, str]) -> Any:
    if isinstance(value, dict):
        if set(value) == {REF} and isinstance(value[REF], str):
            return {REF: renamed.get(value[REF], value[REF])}
        return {key: _renamed_refs(item, renamed) for key, item in value.items()}
    if isinstance(value, list):
        return [_renamed_refs(item, renamed) for item in value]
    return value

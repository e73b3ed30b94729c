"""Re-planning, the stage: asks the LLM for a sub-plan in place of a task that failed for good.

A stage of its own, like answer synthesis: the planner runs it off its input handler and flush
(services/planner/app.py) when a run records ReplanRequested, and hands what comes back to the run
(``RunState.on_replan``), which decides whether the sub-plan joins it (services/planner/core/replan.py). The model
is told what the task was to do, why it failed and what it was given; its sub-plan is drafted like a query's plan
(the same schema, retries and limits, and the request's allowed tools), a sub-plan that makes the very call that
failed is refused with the reason fed back, and its model calls are turns of the run under the task id ``r<n>.plan``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import msgspec

from schemas import Plan, TurnRecorded
from services.llm.planning import planning_turns
from services.planner.core.errors import PlanError
from services.planner.core.replan import FailedStep
from services.planner.intake import Intake

log = logging.getLogger(__name__)

INPUT_CHARS = 1500  # of the failed task's inputs shown to the model: a small model's context is short
PROMPT = """A step of a plan failed and cannot be retried. Write a new plan that gets what the step was meant to get
another way, with the tools you have. Do not repeat the call that failed.
The step: {step}
It failed with: {error}
"""


@dataclass(frozen=True)
class Proposal:
    """What the model came back with: a sub-plan, or why there is none; and the model calls it took."""

    plan: Plan | None
    problem: str | None = None
    turns: list[TurnRecorded] = field(default_factory=list)


class Replanning:
    def __init__(self, intake: Intake, *, max_replans: int) -> None:
        # Without a model nothing re-plans, and runs keep to the failure rules they had before.
        self.max_replans = max_replans if intake.has_model else 0
        self._intake = intake

    @property
    def enabled(self) -> bool:
        return self.max_replans > 0

    async def propose(self, run_id: str, step: FailedStep, replan: int) -> Proposal:
        """A sub-plan for ``step`` of ``run_id`` (re-plan number ``replan``); never raises for a model's failure."""
        try:
            drafted = await self._intake.draft_subplan(
                replan_prompt(step), step.allowed_tools, check=lambda plan: refuse_repeats(plan, step)
            )
        except Exception as error:  # one run's failure ends that re-plan, never the stage machinery
            problem = str(error) if isinstance(error, PlanError) else f"the LLM re-planner failed: {error!r}"
            log.warning("no sub-plan for task %s of run %s: %s", step.task_id, run_id, problem)
            return Proposal(None, problem)
        turns = [msgspec.structs.replace(turn, task_id=f"r{replan}.plan") for turn in planning_turns(run_id, drafted)]
        try:
            plan = refuse_repeats(self._intake.accept_subplan(drafted.text, step.allowed_tools), step)
        except PlanError as error:
            log.warning("the sub-plan for task %s of run %s cannot run: %s", step.task_id, run_id, error)
            return Proposal(None, f"the model's sub-plan cannot run: {error}", turns)
        return Proposal(plan, None, turns)


def refuse_repeats(plan: Plan, step: FailedStep) -> Plan:
    """``plan``, unless one of its tasks makes the very call that failed for good (a small model often does, told
    not to): PlanError, which the model is shown for its next try."""
    for task in plan.tasks:
        if step.tool is not None and task.tool == step.tool and task.args == step.args:
            raise PlanError(
                f"task {task.id} repeats the call that failed ({step.error}): use another tool or other arguments",
                task_id=task.id,
            )
    return plan


def replan_prompt(step: FailedStep) -> str:
    call = f"{step.tool}({', '.join(f'{name}={value!r}' for name, value in step.args.items())})" if step.tool else ""
    # A parsed tool call's description is the call as written: shown once.
    described = step.description if not (step.tool and step.description.startswith(f"{step.tool}(")) else ""
    what = " ".join(part for part in (described, call) if part) or "(no description)"
    prompt = PROMPT.format(step=what, error=step.error)
    if step.inputs:
        inputs = msgspec.json.encode(step.inputs).decode()
        cut = inputs[:INPUT_CHARS] + (" ..." if len(inputs) > INPUT_CHARS else "")
        prompt += f"The results it was given: {cut}\n"
    return prompt

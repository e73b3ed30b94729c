"""The rollout APO scores a planning prompt with: one question with a known answer, planned and answered under it.

The prompt is rendered and the plan drafted by the planner's own intake (``Intake.plan`` with a policy that carries
the candidate prompt, exactly as a planner does live once the policy is published), so the prompt APO edits is the
one the planner uses. The plan's tasks then run in dependency order in this process: tool calls through the
executors' registry, free-text tasks as agent steps, as the executors run them. The reward is the project's reward
function (``services.trainer.core.reward.score``: correctness against the known answer, turns, latency, tool
errors). Questions come from the knowledge base (``services.eval.questions``), so right and wrong are decided by
the data.

Tasks run one after another: the local model serves one call at a time, so running them side by side would not
shorten the run. The answer is the result of the plan's last task (its only sink), as in ``genesis eval qa``; the
planner's answer synthesis is left out to keep a rollout to a few model calls.
"""

from __future__ import annotations

import graphlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from schemas import Policy, RunRequested
from services.eval.questions import Question, build_questions
from services.executor.tools.agent import Agent
from services.executor.tools.knowledge_base import KnowledgeBase
from services.executor.tools.registry import ToolError, ToolRegistry, run_tool
from services.llm.chat import ChatClient
from services.planner.core.dag import Dag
from services.planner.core.errors import PlanError
from services.planner.core.limits import IntakeLimits
from services.planner.core.progress import tool_and_args
from services.planner.intake import Intake
from services.trainer.core.reward import Reward, RewardConfig, Trajectory, score
from services.trainer.core.traces import TraceSpan

TOOL_TIMEOUT_S = 30.0
SHOWN_CHARS = 600  # of a plan or an answer, in the trace the critique reads


@dataclass
class QuestionOutcome:
    """One question under one planning prompt: what the model planned and answered, and the reward."""

    question: str
    expected: Any
    plan_text: str = ""
    answer: Any = None
    correct: bool = False
    model_calls: int = 0
    tool_calls: int = 0
    tool_errors: int = 0
    wall_s: float = 0.0
    error: str | None = None
    reward: Reward | None = None
    spans: list[TraceSpan] = field(default_factory=list)


def question_task(question: Question) -> dict[str, Any]:
    """A question as a rollout's input (plain JSON, as the store keeps it)."""
    return {
        "id": question.id,
        "kind": question.kind,
        "text": question.text,
        "answer": question.answer,
        "lookups": question.lookups,
        "others": list(question.others),
    }


def question_of(task: dict[str, Any]) -> Question:
    return Question(
        id=task["id"],
        kind=task["kind"],
        text=task["text"],
        answer=task["answer"],
        lookups=task["lookups"],
        others=tuple(task["others"]),
    )


@dataclass
class QuestionRollouts:
    chat: ChatClient
    registry: ToolRegistry
    reward: RewardConfig
    limits: IntakeLimits
    agent_max_tool_calls: int

    async def run(self, question: Question, prompt_template: str) -> QuestionOutcome:
        """Plan ``question`` under ``prompt_template``, run the plan, score it. A plan the model cannot make
        runnable is a failed run, scored as one (it is not an exception: it is what the prompt earned)."""
        outcome = QuestionOutcome(question=question.text, expected=question.answer)
        intake = Intake(
            known_tools=self.registry.names(),
            signatures=self.registry.signatures(),
            limits=self.limits,
            chat=self.chat,
            prompt_template=prompt_template,
        )
        request = RunRequested(run_id=f"apo-{question.id}", query=question.text)
        started = time.perf_counter()
        try:
            # Policy() with the candidate: the same check a planner makes before it takes a published prompt.
            parsed = await intake.plan(request, Policy(prompt_template=prompt_template))
        except (PlanError, ValueError) as error:
            outcome.error = str(error)
        finally:
            planning = intake.take_planning_turns(request.run_id)
            outcome.model_calls += len(planning)
            outcome.plan_text = planning[-1].output if planning else ""
        if outcome.error is None:
            await self._run_plan(parsed.plan, outcome)
        outcome.wall_s = time.perf_counter() - started
        outcome.correct = outcome.answer is not None and question.is_correct(outcome.answer)
        trajectory = Trajectory(
            correct=outcome.correct,
            turns=outcome.model_calls + outcome.tool_calls,
            makespan_s=outcome.wall_s,
            tool_errors=outcome.tool_errors,
        )
        outcome.reward = score(trajectory, self.reward)
        outcome.spans = _conversation(question, outcome, started_s=time.time() - outcome.wall_s)
        return outcome

    async def _run_plan(self, plan: Any, outcome: QuestionOutcome) -> None:
        agent = Agent(self.chat, self.registry, self.agent_max_tool_calls, TOOL_TIMEOUT_S)
        results: dict[str, Any] = {}
        order = graphlib.TopologicalSorter({task.id: task.deps for task in plan.tasks}).static_order()
        for task_id in order:
            task = plan.task(task_id)
            if any(dep not in results for dep in task.deps):
                continue  # a dependency failed: the task is skipped, as the planner skips it
            tool, args = tool_and_args(task, results)
            try:
                if task.tool is None:
                    result = await agent.run(args["prompt"], args["context"])
                    outcome.model_calls += sum(step.operation == "chat" for step in result.steps)
                    calls = [step for step in result.steps if step.operation == "execute_tool"]
                    outcome.tool_calls += len(calls)
                    outcome.tool_errors += sum(step.error is not None for step in calls)
                else:
                    outcome.tool_calls += 1
                    result = await run_tool(self.registry, tool, args, TOOL_TIMEOUT_S)
            except ToolError as error:
                outcome.tool_errors += 1
                outcome.error = f"task {task_id}: {error}"
                continue
            results[task_id] = result.value
        sinks = [results[sink] for sink in Dag.from_plan(plan).sinks() if sink in results]
        outcome.answer = sinks[0] if len(sinks) == 1 else (sinks or None)


def _conversation(question: Question, outcome: QuestionOutcome, *, started_s: float) -> list[TraceSpan]:
    """What the critique model reads of a rollout (Agent Lightning's TraceToMessages reads ``gen_ai.prompt.N`` and
    ``gen_ai.completion.N``): the question and the plan the model wrote for it, then the grader's verdict. The
    prompt itself is not repeated: APO shows the critique the template once."""
    ended_s = started_s + outcome.wall_s
    verdict = (
        f"The run answered {_shown(outcome.answer)}: {'correct' if outcome.correct else 'wrong'}. "
        f"{outcome.model_calls} model calls, {outcome.tool_calls} tool calls, {outcome.tool_errors} tool errors."
        + (f" Error: {outcome.error}" if outcome.error else "")
    )
    return [
        TraceSpan(
            name="chat plan",
            start_s=started_s,
            end_s=ended_s,
            error=outcome.error,
            attributes=_messages(question.text, outcome.plan_text or "(no plan)"),
        ),
        TraceSpan(
            name="grade answer",
            start_s=ended_s,
            end_s=ended_s,
            attributes=_messages(f"Grader: the known answer is {_shown(question.answer)}.", verdict),
        ),
    ]


def _messages(user: str, assistant: str) -> dict[str, str | int | float | bool]:
    return {
        "gen_ai.prompt.0.role": "user",
        "gen_ai.prompt.0.content": user,
        "gen_ai.completion.0.role": "assistant",
        "gen_ai.completion.0.content": assistant[:SHOWN_CHARS],
    }


def _shown(value: Any) -> str:
    return json.dumps(value, default=str)[:SHOWN_CHARS]


def tuning_questions(
    kb: KnowledgeBase, *, kinds: Sequence[str], train: int, validation: int, seed: int
) -> tuple[list[Question], list[Question]]:
    """Training and validation questions of ``kinds``, disjoint, the same for the same seed."""
    wanted = train + validation
    # build_questions deals the four kinds in turn, so this many holds ``wanted`` of any one kind.
    pool = [question for question in build_questions(kb, count=4 * wanted, seed=seed) if question.kind in kinds]
    if not kinds or len(pool) < wanted:
        raise ValueError(f"apo.question_kinds: {list(kinds)} gives {len(pool)} questions, {wanted} are needed")
    return pool[:train], pool[train:wanted]

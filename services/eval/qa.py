"""`genesis eval qa`: the same questions, the same model, three ways of using it.

- ``react``: one agent that calls one tool per model turn until it answers (at most ``react_max_tool_calls``);
- ``gap-levels``: the model writes a plan (shape enforced, services/llm/planning.py), which runs level by level, a
  level starting when the whole previous one is done (the GAP paper's execution);
- ``dag``: the same plan, each task starting the moment its dependencies are done (our planner's rule).

The plan is written once per question and run both ways, so the two plan styles differ only in scheduling. Tools
run in-process (the executors' registry, kb_search without simulated latency unless asked); free-text tasks run as
agent steps exactly as the executors run them. Every model call is counted (turns, tokens); a question is right when
its final answer holds the known answer (services/eval/questions.py). The figures are what they are: a 135M model
answers poorly, and that is reported, not hidden.
"""

from __future__ import annotations

import asyncio
import graphlib
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from services.eval.questions import Question
from services.executor.tools.agent import Agent
from services.executor.tools.registry import ToolError, ToolRegistry, run_tool
from services.llm.chat import ChatClient, ChatError, Completion
from services.llm.planning import draft_plan, plan_schema
from services.llm.structured import offered
from services.planner.core.dag import Dag
from services.planner.core.errors import PlanError
from services.planner.core.progress import tool_and_args
from services.planner.core.validate import load_plan

STYLES = ("react", "gap-levels", "dag")
TOOL_TIMEOUT_S = 30.0


class CountingChat:
    """A ChatClient that counts the calls and tokens of one question in one style."""

    def __init__(self, client: ChatClient) -> None:
        self._client = client
        self.settings = client.settings
        self.model = client.model
        self.turns = 0
        self.tokens = 0

    async def chat(
        self, messages: list[dict[str, str]], *, response_format: dict[str, Any] | None = None
    ) -> Completion:
        completion = await self._client.chat(messages, response_format=response_format)
        self.turns += 1
        self.tokens += completion.input_tokens + completion.output_tokens
        return completion


@dataclass
class Outcome:
    question: str
    kind: str
    style: str
    correct: bool
    turns: int
    tokens: int
    wall_s: float
    answer: Any = None
    error: str | None = None
    plan_first_try: bool | None = None


@dataclass
class StyleSummary:
    style: str
    questions: int
    accuracy: float
    mean_turns: float
    mean_tokens: float
    mean_wall_s: float
    errors: int


@dataclass
class QaEvaluation:
    client: ChatClient
    registry: ToolRegistry
    prompt_template: str
    max_tasks: int = 8
    react_max_tool_calls: int = 6
    agent_max_tool_calls: int = 2
    plan_retries: int = 2
    outcomes: list[Outcome] = field(default_factory=list)

    async def run(self, questions: Sequence[Question], on_done: Callable[[Outcome], None] | None = None) -> None:
        for question in questions:
            for outcome in await self.ask(question):
                self.outcomes.append(outcome)
                if on_done is not None:
                    on_done(outcome)

    async def ask(self, question: Question) -> list[Outcome]:
        react = await self._react(question)
        counting = CountingChat(self.client)
        started = time.perf_counter()
        try:
            parsed, first_try = await self._plan(question, counting)
        except PlanError as error:
            elapsed = time.perf_counter() - started
            failed = [
                Outcome(
                    question.id,
                    question.kind,
                    style,
                    False,
                    counting.turns,
                    counting.tokens,
                    elapsed,
                    None,
                    str(error),
                    False,
                )
                for style in STYLES[1:]
            ]
            return [react, *failed]
        planning = (counting.turns, counting.tokens, time.perf_counter() - started)
        levels = await self._run_plan(question, parsed, planning, first_try, by_levels=True)
        dag = await self._run_plan(question, parsed, planning, first_try, by_levels=False)
        return [react, levels, dag]

    async def _react(self, question: Question) -> Outcome:
        counting = CountingChat(self.client)
        agent = Agent(counting, self.registry, self.react_max_tool_calls, TOOL_TIMEOUT_S)  # type: ignore[arg-type]
        started = time.perf_counter()
        try:
            result = await agent.run(question.text, {})
            answer, error = result.value, None
        except ToolError as failure:
            answer, error = None, str(failure)
        elapsed = time.perf_counter() - started
        correct = answer is not None and question.is_correct(answer)
        return Outcome(
            question.id, question.kind, "react", correct, counting.turns, counting.tokens, elapsed, answer, error
        )

    async def _plan(self, question: Question, counting: CountingChat) -> tuple[Any, bool]:
        return await plan_question(
            question, counting, self.registry, self.prompt_template, self.max_tasks, self.plan_retries
        )

    async def _run_plan(
        self, question: Question, parsed: Any, planning: tuple[int, float, float], first_try: bool, *, by_levels: bool
    ) -> Outcome:
        counting = CountingChat(self.client)
        agent = Agent(counting, self.registry, self.agent_max_tool_calls, TOOL_TIMEOUT_S)  # type: ignore[arg-type]
        plan = parsed.plan
        results: dict[str, Any] = {}
        failed: set[str] = set()

        async def one(task_id: str) -> None:
            task = plan.task(task_id)
            if any(dep in failed for dep in task.deps):
                failed.add(task_id)
                return
            tool, args = tool_and_args(task, results)
            try:
                if task.tool is None:
                    value = (await agent.run(args["prompt"], args["context"])).value
                else:
                    value = (await run_tool(self.registry, tool, args, TOOL_TIMEOUT_S)).value
            except (ToolError, ChatError):
                failed.add(task_id)
                return
            results[task_id] = value

        started = time.perf_counter()
        dag = Dag.from_plan(plan)
        if by_levels:
            for level in dag.levels():
                await asyncio.gather(*(one(task_id) for task_id in level))
        else:
            await _as_soon_as_ready(plan, one)
        elapsed = time.perf_counter() - started + planning[2]
        finals = [results[sink] for sink in dag.sinks() if sink in results]
        answer = finals[0] if len(finals) == 1 else (finals or None)
        correct = answer is not None and question.is_correct(answer)
        style = "gap-levels" if by_levels else "dag"
        turns, tokens = planning[0] + counting.turns, planning[1] + counting.tokens
        error = None if not failed else f"{len(failed)} of {len(plan.tasks)} tasks failed or were skipped"
        return Outcome(question.id, question.kind, style, correct, turns, tokens, elapsed, answer, error, first_try)

    def summary(self) -> list[StyleSummary]:
        rows = []
        for style in STYLES:
            mine = [outcome for outcome in self.outcomes if outcome.style == style]
            if not mine:
                continue
            rows.append(
                StyleSummary(
                    style=style,
                    questions=len(mine),
                    accuracy=sum(outcome.correct for outcome in mine) / len(mine),
                    mean_turns=statistics.fmean(outcome.turns for outcome in mine),
                    mean_tokens=statistics.fmean(outcome.tokens for outcome in mine),
                    mean_wall_s=statistics.fmean(outcome.wall_s for outcome in mine),
                    errors=sum(outcome.error is not None for outcome in mine),
                )
            )
        return rows


async def plan_question(
    question: Question, chat: CountingChat, registry: ToolRegistry, template: str, max_tasks: int, retries: int
) -> tuple[Any, bool]:
    """The validated plan the model writes for ``question`` and whether its first try was runnable; PlanError when
    no try was (the planner would reject the run with that reason)."""
    tools = offered(registry.signatures())
    checks = {"known_tools": registry.names(), "max_tasks": max_tasks, "llm_available": True}
    check = lambda text: load_plan(text, signatures=registry.signatures(), **checks)  # noqa: E731
    prompt = template.replace("{user_query}", question.text).replace("{tools}", ", ".join(tools))
    drafted = await draft_plan(
        chat,  # type: ignore[arg-type]
        prompt,
        tools=tuple(tools),
        schema=plan_schema(tools, max_tasks),
        style=chat.settings.structured_output,
        retries=retries,
        check=check,
    )
    return check(drafted.text), drafted.first_try


async def first_try_shares(
    client: ChatClient,
    registry: ToolRegistry,
    template: str,
    questions: Sequence[Question],
    on_done: Callable[[], None] | None = None,
) -> dict[str, tuple[int, int]]:
    """Plans runnable on the first try (no retry), of all asked: with the schema enforced, and as plain text."""
    constrained = client.settings.structured_output if client.settings.structured_output != "none" else "json_schema"
    shares: dict[str, tuple[int, int]] = {}
    for style in (constrained, "none"):
        styled = CountingChat(ChatClient(msgspec.structs.replace(client.settings, structured_output=style)))
        runnable = 0
        for question in questions:
            try:
                _, first_try = await plan_question(question, styled, registry, template, 8, retries=0)
                runnable += first_try
            except PlanError:
                pass
            if on_done is not None:
                on_done()
        shares[f"{style} (schema enforced)" if style != "none" else "none (plain text)"] = (runnable, len(questions))
    return shares


async def _as_soon_as_ready(plan: Any, one: Callable[[str], Any]) -> None:
    sorter = graphlib.TopologicalSorter({task.id: task.deps for task in plan.tasks})
    sorter.prepare()
    running: dict[asyncio.Task[None], str] = {}
    while sorter.is_active():
        for task_id in sorter.get_ready():
            running[asyncio.create_task(one(task_id))] = task_id
        done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
        for finished in done:
            sorter.done(running.pop(finished))


def to_json(evaluation: QaEvaluation, model: str, base_url: str) -> bytes:
    return msgspec.json.encode(
        {
            "model": model,
            "base_url": base_url,
            "summary": [summary.__dict__ for summary in evaluation.summary()],
            "outcomes": [outcome.__dict__ for outcome in evaluation.outcomes],
        }
    )

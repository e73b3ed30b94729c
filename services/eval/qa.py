"""`genesis eval qa`: the same questions, the same model, three ways of using it.

- ``react``: one agent that calls one tool per model turn, the observation appended to its conversation, until it
  answers (at most ``react_max_tool_calls`` calls, then only an answer is accepted). Every turn's reply is
  schema-enforced: a valid call of a catalogue tool with that tool's arguments, or the final answer. The first turn
  must be a tool call (every question needs the knowledge base; a tiny model otherwise guesses at once).
- ``gap-levels``: the model writes a plan once (shape enforced, services/llm/planning.py: tool calls, then one agent
  step that answers), which runs level by level, a level starting when the whole previous one is done (the GAP
  paper's execution);
- ``dag``: the same plan, each task starting the moment its dependencies are done (our planner's rule), run by the
  in-process runner below (not over Kafka), like ``gap-levels``.

The plan is written once per question and run both ways, so the two plan styles differ only in scheduling; both
include the planning call(s) in their turns, tokens and wall time. Tools run in-process (the executors' registry,
kb_search with its fixed simulated latency, so that parallel lookups show in wall time); free-text tasks run as
agent steps exactly as the executors run them. Every model call is counted (turns, and tokens from the endpoint's
``usage``: prompt + completion); a question is right when its final answer holds the known answer
(services/eval/questions.py). The figures are what they are: a 135M model answers poorly, and that is reported.

Questions go in blocks; within a block each style runs over every question before the next style starts. The local
model keeps the last prompt's prefix cached, so a style's calls find their own system prompt warm (as a service
serving one style would), and the two plan styles never run the same answer step back to back (the second would
find the whole prompt cached and look faster than it is).
"""

from __future__ import annotations

import asyncio
import graphlib
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

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
BLOCK = 10  # questions per block (see the module's docstring)
# The ReAct baseline's instructions; the example's entities are not in the knowledge base, so no answer can be
# copied from the prompt.
REACT_SYSTEM = """Answer the question with the tools, one tool call per reply; each call's result comes back in the
next message. Reply with JSON only: a tool call {"action": "call", "tool": NAME, "args": {...}} or, once the results
answer the question, {"action": "answer", "answer": "..."} with a name or a number. For example, for "Which country
has more people, Uruguay or Paraguay?": {"action": "call", "tool": "kb_search", "args": {"query": "population of
Uruguay"}}, then (result 3420000) {"action": "call", "tool": "kb_search", "args": {"query": "population of
Paraguay"}}, then (result 6860000) {"action": "answer", "answer": "Paraguay"}. Tools: """
REACT_PROMPT = "Question: {task}"


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
    tool_calls: int | None = None  # tool calls the model made (ReAct turns, or agent steps' calls); None: unknown
    plan_turns: int = 0  # of ``turns``, the planning calls (plan styles)
    plan_tokens: int = 0  # of ``tokens``, the planning calls' (plan styles)
    plan_tasks: int = 0  # tasks in the plan (plan styles)
    lookups: int = 0  # the lookups a good plan makes (the question's size)
    plan: str | None = None  # the plan that ran, one task a line (plan styles), to see what the model wrote
    failures: list[str] = field(default_factory=list)  # why tasks failed (plan styles)


@dataclass
class StyleSummary:
    style: str
    questions: int
    accuracy: float
    mean_turns: float
    mean_tokens: float
    mean_wall_s: float
    errors: int
    total_wall_s: float = 0.0
    accuracy_by_kind: dict[str, float] = field(default_factory=dict)


@dataclass
class _Planned:
    plan: Any | None  # the parsed plan, None when no try was runnable
    first_try: bool
    turns: int
    tokens: int
    wall_s: float
    error: str | None = None


@dataclass
class QaEvaluation:
    client: ChatClient
    registry: ToolRegistry
    prompt_template: str
    max_tasks: int = 8
    react_max_tool_calls: int = 6
    agent_max_tool_calls: int = 2
    plan_retries: int = 2
    # What a plan's failed task leaves its dependents: "skip" them (the planner's rule), or "observe": they run with
    # the error text as that task's result, as a ReAct agent sees a failed call's error.
    failed_tasks: Literal["skip", "observe"] = "skip"
    outcomes: list[Outcome] = field(default_factory=list)

    async def run(self, questions: Sequence[Question], on_done: Callable[[Outcome], None] | None = None) -> None:
        by_question: dict[str, list[Outcome]] = {question.id: [] for question in questions}

        def keep(outcome: Outcome) -> None:
            by_question[outcome.question].append(outcome)
            if on_done is not None:
                on_done(outcome)

        for start in range(0, len(questions), BLOCK):
            block = questions[start : start + BLOCK]
            for question in block:
                keep(await self._react(question))
            planned = [await self._plan(question) for question in block]
            for by_levels in (True, False):
                for question, plan in zip(block, planned, strict=True):
                    keep(await self._run_plan(question, plan, by_levels=by_levels))
            for question in block:
                self.outcomes += by_question[question.id]

    async def ask(self, question: Question) -> list[Outcome]:
        """One question in every style (one block of one)."""
        before = len(self.outcomes)
        await self.run([question])
        return self.outcomes[before:]

    async def _react(self, question: Question) -> Outcome:
        counting = CountingChat(self.client)
        agent = Agent(
            counting,  # type: ignore[arg-type]
            self.registry,
            self.react_max_tool_calls,
            TOOL_TIMEOUT_S,
            system=REACT_SYSTEM,
            prompt=REACT_PROMPT,
            min_tool_calls=1,
        )
        started = time.perf_counter()
        calls: int | None = None
        try:
            result = await agent.run(question.text, {})
            answer, error = result.value, None
            calls = sum(step.operation == "execute_tool" for step in result.steps)
        except ToolError as failure:
            answer, error = None, str(failure)
        elapsed = time.perf_counter() - started
        correct = answer is not None and question.is_correct(answer)
        return Outcome(
            question.id, question.kind, "react", correct, counting.turns, counting.tokens, elapsed, answer, error,
            tool_calls=calls, lookups=question.lookups,
        )  # fmt: skip

    async def _plan(self, question: Question) -> _Planned:
        counting = CountingChat(self.client)
        started = time.perf_counter()
        try:
            parsed, first_try = await plan_question(
                question, counting, self.registry, self.prompt_template, self.max_tasks, self.plan_retries
            )
        except PlanError as error:
            return _Planned(None, False, counting.turns, counting.tokens, time.perf_counter() - started, str(error))
        return _Planned(parsed.plan, first_try, counting.turns, counting.tokens, time.perf_counter() - started)

    async def _run_plan(self, question: Question, planned: _Planned, *, by_levels: bool) -> Outcome:
        style = "gap-levels" if by_levels else "dag"
        plan = planned.plan
        if plan is None:
            return Outcome(
                question.id, question.kind, style, False, planned.turns, planned.tokens, planned.wall_s, None,
                planned.error, False, plan_turns=planned.turns, plan_tokens=planned.tokens, lookups=question.lookups,
            )  # fmt: skip
        counting = CountingChat(self.client)
        agent = Agent(counting, self.registry, self.agent_max_tool_calls, TOOL_TIMEOUT_S)  # type: ignore[arg-type]
        results: dict[str, Any] = {}
        failed: set[str] = set()
        failures: list[str] = []
        tool_calls = 0

        async def one(task_id: str) -> None:
            nonlocal tool_calls
            task = plan.task(task_id)
            if self.failed_tasks == "skip" and any(dep in failed for dep in task.deps):
                failed.add(task_id)
                return
            tool, args = tool_and_args(task, results)
            try:
                if task.tool is None:
                    result = await agent.run(args["prompt"], args["context"])
                    tool_calls += sum(step.operation == "execute_tool" for step in result.steps)
                else:
                    result = await run_tool(self.registry, tool, args, TOOL_TIMEOUT_S)
            except (ToolError, ChatError) as error:
                failed.add(task_id)
                failures.append(f"{task_id}: {str(error)[:160]}")
                if self.failed_tasks == "observe":
                    results[task_id] = f"error: {error}"
                return
            results[task_id] = result.value

        started = time.perf_counter()
        dag = Dag.from_plan(plan)
        if by_levels:
            for level in dag.levels():
                await asyncio.gather(*(one(task_id) for task_id in level))
        else:
            await _as_soon_as_ready(plan, one)
        elapsed = time.perf_counter() - started + planned.wall_s
        answer = results.get(plan.tasks[-1].id)  # the plan's answer step (plan_schema(answer_step=True))
        correct = answer is not None and question.is_correct(answer)
        turns, tokens = planned.turns + counting.turns, planned.tokens + counting.tokens
        error = None if not failed else f"{len(failed)} of {len(plan.tasks)} tasks failed or were skipped"
        return Outcome(
            question.id, question.kind, style, correct, turns, tokens, elapsed, answer, error, planned.first_try,
            tool_calls=tool_calls, plan_turns=planned.turns, plan_tokens=planned.tokens, plan_tasks=len(plan.tasks),
            lookups=question.lookups, plan=_plan_lines(plan), failures=failures,
        )  # fmt: skip

    def summary(self) -> list[StyleSummary]:
        return summarize(self.outcomes)


def summarize(outcomes: Sequence[Outcome]) -> list[StyleSummary]:
    """Per style: accuracy (overall and by question kind), mean turns, tokens and wall time, errors."""
    rows = []
    for style in STYLES:
        mine = [outcome for outcome in outcomes if outcome.style == style]
        if not mine:
            continue
        kinds = sorted({outcome.kind for outcome in mine})
        rows.append(
            StyleSummary(
                style=style,
                questions=len(mine),
                accuracy=sum(outcome.correct for outcome in mine) / len(mine),
                mean_turns=statistics.fmean(outcome.turns for outcome in mine),
                mean_tokens=statistics.fmean(outcome.tokens for outcome in mine),
                mean_wall_s=statistics.fmean(outcome.wall_s for outcome in mine),
                errors=sum(outcome.error is not None for outcome in mine),
                total_wall_s=sum(outcome.wall_s for outcome in mine),
                accuracy_by_kind={
                    kind: statistics.fmean(outcome.correct for outcome in mine if outcome.kind == kind)
                    for kind in kinds
                },
            )
        )
    return rows


SUMMARY_COLUMNS = ("style", "questions", "accuracy", "model turns", "tool calls", "tokens", "wall time (s)", "errors")


def summary_rows(outcomes: Sequence[Outcome]) -> list[list[str]]:
    """The per-style table (means per question), as text cells in SUMMARY_COLUMNS order."""
    rows = []
    for row in summarize(outcomes):
        calls = [o.tool_calls for o in outcomes if o.style == row.style and o.tool_calls is not None]
        rows.append(
            [
                row.style,
                str(row.questions),
                f"{row.accuracy:.1%}",
                f"{row.mean_turns:.2f}",
                f"{sum(calls) / len(calls):.2f}" if calls else "-",
                f"{row.mean_tokens:.0f}",
                f"{row.mean_wall_s:.1f}",
                str(row.errors),
            ]
        )
    return rows


def kind_rows(outcomes: Sequence[Outcome]) -> tuple[list[str], list[list[str]]]:
    """Accuracy per style and question kind: the header (kinds with their question counts) and the rows."""
    mix = question_mix(outcomes)
    summaries = summarize(outcomes)
    kinds = sorted({kind for row in summaries for kind in row.accuracy_by_kind})
    header = ["style", *(f"{kind} ({mix.get(kind, 0)})" for kind in kinds)]
    rows = [[row.style, *(f"{row.accuracy_by_kind.get(kind, 0.0):.0%}" for kind in kinds)] for row in summaries]
    return header, rows


def plan_facts(outcomes: Sequence[Outcome]) -> dict[str, int]:
    """What became of the plans (one per question): runnable on the first try, runnable at all, every task done,
    the answer step reached (it gave an answer)."""
    plans = [outcome for outcome in outcomes if outcome.style == "dag"]
    return {
        "plans": len(plans),
        "runnable on the first try": sum(bool(outcome.plan_first_try) for outcome in plans),
        "runnable": sum(outcome.plan_tasks > 0 for outcome in plans),
        "every task succeeded": sum(outcome.plan_tasks > 0 and outcome.error is None for outcome in plans),
        "answer step gave an answer": sum(outcome.answer is not None for outcome in plans),
    }


def question_mix(outcomes: Sequence[Outcome]) -> dict[str, int]:
    """How many distinct questions of each kind, and of each size (lookups a good plan makes)."""
    seen = {outcome.question: outcome for outcome in outcomes}
    mix = Counter(outcome.kind for outcome in seen.values())
    mix.update(f"{outcome.lookups} lookups" for outcome in seen.values() if outcome.lookups)
    return dict(sorted(mix.items()))


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
        schema=plan_schema(tools, max_tasks, answer_step=True),
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
        settings = msgspec.structs.replace(client.settings, structured_output=style)
        styled = CountingChat(ChatClient(settings, temperature=client.temperature))
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


def _plan_lines(plan: Any) -> str:
    lines = []
    for task in plan.tasks:
        what = f"{task.tool}({msgspec.json.encode(task.args).decode()})" if task.tool else f"agent: {task.description}"
        lines.append(f"{task.id}: {what}" + (f" <- {','.join(task.deps)}" if task.deps else ""))
    return "\n".join(lines)


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


def to_json(outcomes: Sequence[Outcome], model: str, base_url: str, **about: Any) -> bytes:
    return msgspec.json.encode(
        {
            "model": model,
            "base_url": base_url,
            **about,
            "questions": question_mix(outcomes),
            "summary": [summary.__dict__ for summary in summarize(outcomes)],
            "outcomes": [outcome.__dict__ for outcome in outcomes],
        }
    )


def from_json(data: bytes) -> list[Outcome]:
    """The outcomes of a saved evaluation (``--json`` output, or ``--log``'s one outcome per line), to merge runs of
    disjoint question ranges."""
    text = data.strip()
    if text.startswith(b"{") and b"\n" not in text:
        document = msgspec.json.decode(text)
        if "outcomes" in document:
            return [Outcome(**outcome) for outcome in document["outcomes"]]
    return [Outcome(**msgspec.json.decode(line)) for line in text.splitlines() if line.strip()]

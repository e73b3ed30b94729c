"""genesis eval qa: multi-hop questions from the knowledge base, answered by the same model in three styles."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec
import typer
from rich.progress import Progress
from rich.table import Table

from services.cli.console import console, errors, fail
from services.eval.qa import (
    STYLES,
    SUMMARY_COLUMNS,
    Outcome,
    QaEvaluation,
    first_try_shares,
    from_json,
    kind_rows,
    plan_facts,
    question_mix,
    summary_rows,
    to_json,
)
from services.eval.questions import build_questions
from services.executor.tools import build_registry, load_tool_settings
from services.executor.tools.knowledge_base import KnowledgeBase
from services.llm.chat import ChatClient
from services.llm.local import LocalModelUnavailable, served_in_thread
from services.llm.settings import LlmSettings, load_llm_settings
from services.planner.intake import read_prompt_template
from services.planner.settings import load_planner_settings

app = typer.Typer(help="Evaluate plans and answers against known answers.", no_args_is_help=True)


@app.command()
def qa(
    limit: int = typer.Option(120, "--limit", min=1, help="Questions to ask (of the 120 built from the KB)."),
    local: bool = typer.Option(False, "--local", help="Serve the local model here (extra local-llm) and use it."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary and every outcome as JSON."),
    plans_only: bool = typer.Option(
        False,
        "--plans-only",
        help="Only measure the share of plans runnable on the first try, with and without a schema.",
    ),
    seed: int = typer.Option(7, "--seed", help="Which questions (the same seed, the same questions)."),
    offset: int = typer.Option(0, "--offset", min=0, help="Skip this many questions first (to split a long run)."),
    kb_latency_s: float = typer.Option(
        0.25, "--kb-latency", min=0.0, help="Fixed simulated latency of each kb_search call, in seconds."
    ),
    max_tokens: int = typer.Option(300, "--max-tokens", min=1, help="Per model call, unless llm.max_tokens is set."),
    temperature: float = typer.Option(0.0, "--temperature", min=0.0, help="Sampling temperature (0: greedy)."),
    timeout_s: float = typer.Option(600.0, "--timeout", min=1.0, help="Per model call (a busy CPU is slow)."),
    failed_tasks: str = typer.Option(
        "skip",
        "--failed-tasks",
        help="A plan's failed task: skip its dependents (as the planner does), or observe (they get the error).",
    ),
    log: Path | None = typer.Option(
        None, "--log", help="Append each outcome to this file as one JSON line when it is known (for long runs)."
    ),
) -> None:
    """ReAct (one tool call per model turn), GAP level by level, and the as-soon-as-ready DAG on the same questions
    and the same model (llm section, or --local): accuracy, model turns, tokens and wall time per style."""
    settings = load_llm_settings()
    if failed_tasks not in ("skip", "observe"):
        fail(f"--failed-tasks: expected skip or observe, got {failed_tasks!r}", code=2)
    if not local and not settings.enabled:
        fail("no model: set llm.base_url and llm.model, or pass --local (needs the local-llm extra)", code=2)
    questions = build_questions(KnowledgeBase.load(), count=max(offset + limit, 120), seed=seed)[offset:][:limit]
    if settings.max_tokens is None:
        settings = msgspec.structs.replace(settings, max_tokens=max_tokens)
    settings = msgspec.structs.replace(settings, timeout_s=timeout_s)
    with _model(settings, local) as llm:
        client = ChatClient(llm, temperature=temperature)
        registry = build_registry(msgspec.structs.replace(load_tool_settings(), kb_latency_s=kb_latency_s), llm=None)
        template = read_prompt_template(Path(load_planner_settings().prompt_file))
        if plans_only:
            with Progress(console=errors, transient=True) as progress:
                bar = progress.add_task("plans", total=len(questions) * 2)
                work = first_try_shares(client, registry, template, questions, on_done=lambda: progress.advance(bar))
                shares = asyncio.run(work)
            _print_shares(shares, llm, as_json)
            return
        evaluation = QaEvaluation(
            client,
            registry,
            template,
            plan_retries=llm.plan_retries,
            agent_max_tool_calls=llm.agent_max_tool_calls,
            failed_tasks=failed_tasks,  # type: ignore[arg-type]
        )
        with Progress(console=errors) as progress, _outcome_log(log) as record:
            bar = progress.add_task("questions x styles", total=len(questions) * len(STYLES))

            def done(outcome: Outcome) -> None:
                record(outcome)
                progress.advance(bar)

            asyncio.run(evaluation.run(questions, on_done=done))
    about = {"kb_latency_s": kb_latency_s, "max_tokens": llm.max_tokens, "temperature": temperature, "seed": seed,
             "failed_tasks": failed_tasks}  # fmt: skip
    if as_json:
        sys.stdout.write(to_json(evaluation.outcomes, str(llm.model), str(llm.base_url), **about).decode() + "\n")
        return
    _print_table(evaluation.outcomes, f"model {llm.model} at {llm.base_url}, kb_search latency {kb_latency_s} s")


@app.command()
def report(
    files: list[Path] = typer.Argument(..., help="Outputs of `genesis eval qa --json` or --log, to merge."),
    markdown: bool = typer.Option(False, "--markdown", help="Markdown tables (for docs/EVAL.md)."),
) -> None:
    """The table of one or more saved `genesis eval qa --json` runs (disjoint question ranges), merged."""
    outcomes: list[Outcome] = []
    for path in files:
        try:
            outcomes += from_json(path.read_bytes())
        except (OSError, ValueError, KeyError, TypeError) as error:
            fail(f"{path}: not a `genesis eval qa --json` or --log output ({error})", code=2)
    styles: dict[str, set[str]] = {}
    for outcome in outcomes:
        styles.setdefault(outcome.question, set()).add(outcome.style)
    complete = {question for question, seen in styles.items() if seen == set(STYLES)}
    if len(complete) < len(styles):  # a run stopped part-way: compare styles on the same questions only
        errors.print(f"{len(styles) - len(complete)} question(s) without all three styles left out")
    kept = [outcome for outcome in outcomes if outcome.question in complete]
    _print_table(kept, f"merged from {len(files)} file(s)", markdown=markdown)


@contextlib.contextmanager
def _outcome_log(path: Path | None) -> Iterator[Callable[[Outcome], None]]:
    if path is None:
        yield lambda outcome: None
        return
    with path.open("ab") as file:

        def record(outcome: Outcome) -> None:
            file.write(msgspec.json.encode(outcome.__dict__) + b"\n")
            file.flush()

        yield record


def _print_table(outcomes: list[Outcome], about: str, *, markdown: bool = False) -> None:
    count = len({outcome.question for outcome in outcomes})
    header, by_kind = kind_rows(outcomes)
    facts = ", ".join(f"{name}: {number}" for name, number in plan_facts(outcomes).items())
    mix = ", ".join(f"{key}: {value}" for key, value in question_mix(outcomes).items())
    if markdown:
        for columns, rows in ((list(SUMMARY_COLUMNS), summary_rows(outcomes)), (header, by_kind)):
            print("| " + " | ".join(columns) + " |\n|" + "---|" * len(columns))
            print("\n".join("| " + " | ".join(row) + " |" for row in rows) + "\n")
        print(f"{count} questions ({mix}); {about}.\n\nPlans: {facts}.")
        return
    table = Table(*SUMMARY_COLUMNS, title=f"{count} questions, {about} (means per question)")
    for row in summary_rows(outcomes):
        table.add_row(*row)
    console.print(table)
    kinds = Table(*header, title="accuracy by question kind")
    for row in by_kind:
        kinds.add_row(*row)
    console.print(kinds)
    console.print(f"questions: {mix}\nplans: {facts}")


def _print_shares(shares: dict[str, tuple[int, int]], llm: LlmSettings, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(msgspec.json.encode({"model": llm.model, "first_try": shares}).decode() + "\n")
        return
    table = Table("output", "plans", "runnable on the first try", title=f"plans by {llm.model}")
    for style, (runnable, total) in shares.items():
        table.add_row(style, str(total), f"{runnable} ({runnable / total:.0%})")
    console.print(table)


@contextlib.contextmanager
def _model(settings: LlmSettings, local: bool) -> Iterator[LlmSettings]:
    """The configured endpoint, or the local model served in a thread of this process for the evaluation."""
    if not local:
        yield settings
        return
    with contextlib.ExitStack() as stack:
        try:
            served = stack.enter_context(served_in_thread(settings))
        except (LocalModelUnavailable, RuntimeError) as error:  # only the start: the evaluation's errors pass
            fail(str(error), code=2)
        yield served

"""genesis eval qa: multi-hop questions from the knowledge base, answered by the same model in three styles."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

import msgspec
import typer
from rich.progress import Progress
from rich.table import Table

from services.cli.console import console, errors, fail
from services.eval.qa import STYLES, QaEvaluation, first_try_shares, to_json
from services.eval.questions import build_questions
from services.executor.tools import build_registry, load_tool_settings
from services.executor.tools.knowledge_base import KnowledgeBase
from services.llm.chat import ChatClient
from services.llm.local import LocalModelServer, LocalModelUnavailable, local_base_url, model_path
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
) -> None:
    """ReAct (one tool call per model turn), GAP level by level, and the as-soon-as-ready DAG on the same questions
    and the same model (llm section, or --local): accuracy, model turns, tokens and wall time per style."""
    settings = load_llm_settings()
    if not local and not settings.enabled:
        fail("no model: set llm.base_url and llm.model, or pass --local (needs the local-llm extra)", code=2)
    questions = build_questions(KnowledgeBase.load(), count=max(limit, 120), seed=seed)[:limit]
    with _model(settings, local) as llm:
        client = ChatClient(llm)
        registry = build_registry(msgspec.structs.replace(load_tool_settings(), kb_latency_s=0.0), llm=None)
        template = read_prompt_template(Path(load_planner_settings().prompt_file))
        if plans_only:
            with Progress(console=errors, transient=True) as progress:
                bar = progress.add_task("plans", total=len(questions) * 2)
                work = first_try_shares(client, registry, template, questions, on_done=lambda: progress.advance(bar))
                shares = asyncio.run(work)
            _print_shares(shares, llm, as_json)
            return
        evaluation = QaEvaluation(client, registry, template, plan_retries=llm.plan_retries)
        with Progress(console=errors, transient=True) as progress:
            bar = progress.add_task("questions x styles", total=len(questions) * len(STYLES))
            asyncio.run(evaluation.run(questions, on_done=lambda outcome: progress.advance(bar)))
    if as_json:
        sys.stdout.write(to_json(evaluation, str(llm.model), str(llm.base_url)).decode() + "\n")
        return
    table = Table("style", "questions", "accuracy", "model turns", "tokens", "wall time (s)", "errors",
                  title=f"{len(questions)} questions, model {llm.model} at {llm.base_url}")  # fmt: skip
    for row in evaluation.summary():
        table.add_row(
            row.style,
            str(row.questions),
            f"{row.accuracy:.0%}",
            f"{row.mean_turns:.2f}",
            f"{row.mean_tokens:.0f}",
            f"{row.mean_wall_s:.1f}",
            str(row.errors),
        )
    console.print(table)


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
    try:
        model_path(settings.local_model)
    except LocalModelUnavailable as error:
        fail(str(error), code=2)
    import threading

    import uvicorn

    server = LocalModelServer(settings)
    config = uvicorn.Config(server.app(), host="127.0.0.1", port=settings.local_port, log_level="warning")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    while not running.started and thread.is_alive():
        thread.join(0.05)
    if not running.started:
        fail(f"the local model could not be served on 127.0.0.1:{settings.local_port}", code=1)
    try:
        yield msgspec.structs.replace(
            settings, base_url=local_base_url(settings), model=settings.local_model, structured_output="json_object"
        )
    finally:
        running.should_exit = True
        thread.join(10)

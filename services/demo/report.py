"""The demo's tables: each run's answer and timings, and the overall speedup against running tasks one by one."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console

from schemas import RunFinished
from services.cli.console import table as fitted_table
from services.demo.runner import WorkloadResult
from services.trainer.core.correctness import answers_match


@dataclass(frozen=True)
class Summary:
    runs: int
    succeeded: int
    correct: int
    makespan_s: float
    sequential_s: float
    critical_path_s: float

    @property
    def speedup(self) -> float:
        """Time-weighted: all tasks' durations added up, over all runs' makespans added up."""
        return self.sequential_s / self.makespan_s if self.makespan_s else 0.0

    @property
    def critical_path_ratio(self) -> float:
        """How close runs came to their critical path: 1.0 would be no overhead at all."""
        return self.makespan_s / self.critical_path_s if self.critical_path_s else 0.0


def summarise(result: WorkloadResult) -> Summary:
    finished = [item.outcome for item in result.outcomes if isinstance(item.outcome, RunFinished)]
    return Summary(
        runs=len(result.outcomes),
        succeeded=sum(outcome.status == "succeeded" for outcome in finished),
        correct=sum(bool(answers_match(outcome.answer, outcome.expected_answer)) for outcome in finished),
        makespan_s=sum(outcome.metrics.makespan_s for outcome in finished),
        sequential_s=sum(outcome.metrics.sequential_s for outcome in finished),
        critical_path_s=sum(outcome.metrics.critical_path_s for outcome in finished),
    )


def print_report(console: Console, result: WorkloadResult) -> Summary:
    # Fits 80 columns (a piped demo's width) without cutting a cell: the three times share one column, the
    # words that must stay whole do, and the free text folds onto more lines.
    table = fitted_table(
        "job", "shape", "status", "answer", "ok", "makespan/seq/crit s", "speedup",
        whole=("status", "ok", "makespan/seq/crit s", "speedup"),
    )  # fmt: skip
    for item in result.outcomes:
        outcome = item.outcome
        if not isinstance(outcome, RunFinished):
            reason = "no outcome (timeout)" if outcome is None else f"rejected: {outcome.reason}"
            table.add_row(item.job.name, item.job.shape, "[red]failed", reason, "✗", "", "")
            continue
        correct = answers_match(outcome.answer, outcome.expected_answer)
        metrics = outcome.metrics
        table.add_row(
            item.job.name,
            item.job.shape,
            outcome.status if outcome.status == "succeeded" else f"[red]{outcome.status}",
            _short(outcome.answer if outcome.status == "succeeded" else outcome.reason),
            "✓" if correct else "[red]✗",
            f"{metrics.makespan_s:.2f}/{metrics.sequential_s:.2f}/{metrics.critical_path_s:.2f}",
            f"{metrics.speedup:.2f}x",
        )
    console.print(table)
    summary = summarise(result)
    console.print(
        f"[bold]{summary.succeeded}/{summary.runs} runs succeeded, {summary.correct} answers correct[/] "
        f"in {result.wall_s:.1f} s of wall time"
    )
    console.print(
        f"[bold]overall speedup {summary.speedup:.2f}x[/]: tasks took {summary.sequential_s:.1f} s one after another, "
        f"runs took {summary.makespan_s:.1f} s (critical paths {summary.critical_path_s:.1f} s; "
        f"makespan / critical path = {summary.critical_path_ratio:.2f})"
    )
    return summary


def _short(value: object, limit: int = 40) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"

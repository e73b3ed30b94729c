"""From a finished run to what the reward scores: correctness, turns, latency and tool errors."""

from __future__ import annotations

from collections.abc import Callable

from schemas.events import RunFinished
from services.trainer.core.correctness import answers_match
from services.trainer.core.reward import Trajectory

# Decides correctness for runs whose request carried no expected answer.
Checker = Callable[[RunFinished], bool]


def succeeded(finished: RunFinished) -> bool:
    """The default checker: without an answer to compare with, a run that succeeded is taken as correct."""
    return finished.status == "succeeded"


def trajectory_of(finished: RunFinished, checker: Checker = succeeded) -> Trajectory:
    matched = answers_match(finished.answer, finished.expected_answer)
    # An expected answer decides on its own: a run that "succeeded" with the wrong answer is incorrect.
    correct = checker(finished) if matched is None else matched
    return Trajectory(
        correct=correct,
        turns=finished.metrics.turns,
        makespan_s=finished.metrics.makespan_s,
        tool_errors=finished.metrics.tool_errors,
    )

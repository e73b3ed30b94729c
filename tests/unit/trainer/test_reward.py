"""The seed's reward function, case by case, and how a finished run becomes what it scores."""

from __future__ import annotations

import pytest

from schemas.events import RunFinished, RunMetrics
from services.trainer.core.reward import RewardConfig, Trajectory, score
from services.trainer.core.trajectory import trajectory_of

SEED = RewardConfig()


@pytest.mark.parametrize(
    ("case", "trajectory", "total", "components"),
    [
        (
            "correct, few and fast turns",
            Trajectory(correct=True, turns=3, makespan_s=1.5, tool_errors=0),
            1.15,
            {"correctness": 1.0, "few_turns": 0.1, "fast_turns": 0.05, "tool_errors": 0.0},
        ),
        (
            "correct but many turns",
            Trajectory(correct=True, turns=4, makespan_s=2.0, tool_errors=0),
            1.05,
            {"correctness": 1.0, "few_turns": 0.0, "fast_turns": 0.05, "tool_errors": 0.0},
        ),
        (
            "correct but slow turns",
            Trajectory(correct=True, turns=2, makespan_s=4.0, tool_errors=0),
            1.1,
            {"correctness": 1.0, "few_turns": 0.1, "fast_turns": 0.0, "tool_errors": 0.0},
        ),
        (
            "correct after one tool error",
            Trajectory(correct=True, turns=3, makespan_s=1.0, tool_errors=1),
            0.95,
            {"correctness": 1.0, "few_turns": 0.1, "fast_turns": 0.05, "tool_errors": -0.2},
        ),
        (
            "failed with three tool errors",
            Trajectory(correct=False, turns=3, makespan_s=0.3, tool_errors=3),
            -0.95,
            {"correctness": -0.5, "few_turns": 0.1, "fast_turns": 0.05, "tool_errors": -0.6},
        ),
        (
            "incorrect, slow and long",
            Trajectory(correct=False, turns=10, makespan_s=30.0, tool_errors=0),
            -0.5,
            {"correctness": -0.5, "few_turns": 0.0, "fast_turns": 0.0, "tool_errors": 0.0},
        ),
        (
            "exactly two seconds per turn is not fast",
            Trajectory(correct=True, turns=5, makespan_s=10.0, tool_errors=0),
            1.0,
            {"correctness": 1.0, "few_turns": 0.0, "fast_turns": 0.0, "tool_errors": 0.0},
        ),
        (
            "no turns at all counts as one",
            Trajectory(correct=True, turns=0, makespan_s=0.5, tool_errors=0),
            1.15,
            {"correctness": 1.0, "few_turns": 0.1, "fast_turns": 0.05, "tool_errors": 0.0},
        ),
    ],
)
def test_reward_matches_the_seed_when_scoring_case(
    case: str, trajectory: Trajectory, total: float, components: dict[str, float]
) -> None:
    reward = score(trajectory, SEED)
    assert reward.total == pytest.approx(total), case
    assert reward.components == pytest.approx(components), case
    assert sum(reward.components.values()) == pytest.approx(reward.total)


def test_reward_uses_configured_weights_and_thresholds_when_they_differ_from_the_seed() -> None:
    config = RewardConfig(correct=2.0, few_turns_max=5, fast_turn_latency_s=0.5, tool_error_penalty=1.0)
    reward = score(Trajectory(correct=True, turns=5, makespan_s=5.0, tool_errors=2), config)
    assert reward.components == {"correctness": 2.0, "few_turns": 0.1, "fast_turns": 0.0, "tool_errors": -2.0}


def finished(status: str = "succeeded", *, answer: object = 42, expected: str | None = None) -> RunFinished:
    return RunFinished(
        run_id="r1",
        status=status,  # type: ignore[arg-type]
        answer=answer,
        expected_answer=expected,
        metrics=RunMetrics(makespan_s=1.2, turns=4, tool_errors=1),
    )


@pytest.mark.parametrize(
    ("run", "correct"),
    [
        (finished(expected="42"), True),
        (finished(answer="42.0", expected="42"), True),
        (finished(expected="41"), False),
        (finished("failed", answer=None, expected="42"), False),
        (finished("succeeded"), True),
        (finished("partial"), False),
        (finished("timed_out", answer=None), False),
    ],
)
def test_correctness_comes_from_the_expected_answer_when_the_request_has_one(run: RunFinished, correct: bool) -> None:
    trajectory = trajectory_of(run)
    assert trajectory.correct is correct
    assert (trajectory.turns, trajectory.makespan_s, trajectory.tool_errors) == (4, 1.2, 1)


def test_correctness_comes_from_the_checker_when_there_is_no_expected_answer() -> None:
    def answered(run: RunFinished) -> bool:
        return run.answer is not None

    assert trajectory_of(finished("partial"), answered).correct is True
    # An expected answer overrules the checker.
    assert trajectory_of(finished(expected="7"), answered).correct is False

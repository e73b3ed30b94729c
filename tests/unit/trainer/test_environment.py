"""The rate-limited quote API, run by the planner's real state machine on a simulated clock."""

from __future__ import annotations

import pytest

from schemas.policy import Policy
from services.trainer.core.environment import EnvironmentConfig, Episode, episodes, run_episode

STEADY = EnvironmentConfig(flake_rate=0.0)


def test_fan_out_succeeds_with_the_right_total_when_the_cap_is_the_rate_limit() -> None:
    finished, turns = run_episode(STEADY, Episode(fan_out=9, seed=1), Policy(max_parallelism=3))
    assert finished.status == "succeeded"
    assert finished.answer == int(finished.expected_answer or "")
    assert finished.metrics.tool_errors == 0
    assert finished.metrics.makespan_s == pytest.approx(3 * STEADY.call_s + STEADY.total_s)
    assert len(turns) == finished.metrics.turns == 10


def test_uncapped_fan_out_collects_429s_and_fails_when_it_exceeds_the_rate_limit() -> None:
    finished, turns = run_episode(STEADY, Episode(fan_out=6, seed=1), Policy(max_parallelism=0, max_attempts=3))
    assert finished.status == "failed"
    assert finished.metrics.tool_errors > 3
    assert any("429 Too Many Requests" in (turn.error or "") for turn in turns)


def test_fan_out_misses_its_deadline_when_the_cap_is_below_the_rate_limit() -> None:
    finished, _ = run_episode(STEADY, Episode(fan_out=9, seed=1), Policy(max_parallelism=2))
    assert finished.status == "timed_out"
    assert finished.metrics.tool_errors == 0


def test_small_plan_misses_its_deadline_when_the_gap_threshold_makes_it_sequential() -> None:
    finished, _ = run_episode(STEADY, Episode(fan_out=2, seed=1), Policy(max_parallelism=3, gap_threshold=4))
    assert finished.strategy == "sequential"
    assert finished.status == "timed_out"


def test_retries_ride_out_flakes_when_the_policy_allows_more_than_one_attempt() -> None:
    flaky = EnvironmentConfig(flake_rate=0.3)
    runs = episodes(flaky, 12, first_seed=100)
    once = [run_episode(flaky, episode, Policy(max_parallelism=3, max_attempts=1))[0] for episode in runs]
    thrice = [run_episode(flaky, episode, Policy(max_parallelism=3, max_attempts=3))[0] for episode in runs]
    assert sum(run.status == "succeeded" for run in thrice) > sum(run.status == "succeeded" for run in once)


def test_episode_outcome_is_the_same_when_run_twice() -> None:
    episode = Episode(fan_out=6, seed=42)
    policy = Policy(max_parallelism=4, max_attempts=2)
    first, second = run_episode(EnvironmentConfig(), episode, policy), run_episode(EnvironmentConfig(), episode, policy)
    assert first[0].metrics == second[0].metrics
    assert [turn.error for turn in first[1]] == [turn.error for turn in second[1]]


def test_episodes_cycle_through_the_plan_shapes_with_their_own_seeds() -> None:
    drawn = episodes(EnvironmentConfig(fan_outs=(2, 5)), 3, first_seed=10)
    assert drawn == [Episode(fan_out=2, seed=10), Episode(fan_out=5, seed=11), Episode(fan_out=2, seed=12)]

"""A short training run on the rate-limited environment: Trainer, PolicySearch, one shm runner, in-memory store."""

from __future__ import annotations

import msgspec

from schemas.policy import Policy
from services.trainer.core.trajectory import succeeded
from services.trainer.lightning.experiment import run_experiment
from services.trainer.settings import load_trainer_config

PROMPT = "Plan this: {user_query} with {tools}"
# The planner's shipped defaults: no parallelism cap, which the rate-limited API punishes.
PLANNER_DEFAULT = Policy(max_parallelism=0, gap_threshold=3, max_attempts=3)


def test_mean_reward_rises_and_the_cap_reaches_the_rate_limit_when_trained_on_the_rate_limited_environment() -> None:
    config = load_trainer_config()
    seen = []
    result = run_experiment(
        config, starting=PLANNER_DEFAULT, prompt=PROMPT, episodes=8, checker=succeeded, on_episode=seen.append
    )
    assert [stats.episode for stats in seen] == list(range(1, 9)) and result.curve == seen
    assert result.final_mean_reward > result.initial_mean_reward
    assert result.curve[-1].mean_reward > result.curve[0].mean_reward
    assert result.policy.max_parallelism == config.environment.rate_limit
    assert result.policy.max_attempts >= 2  # one attempt loses runs to the API's flakes
    assert result.policy.version == PLANNER_DEFAULT.version + 1
    assert result.policy.prompt_template is None  # unchanged: planners keep their own prompt file
    # Validation before and after, plus population x batch rollouts per episode.
    algorithm = config.algorithm
    assert result.traces == 2 * algorithm.validation_episodes + 8 * algorithm.population * algorithm.batch_size >= 100


def test_knobs_left_out_of_the_search_keep_the_starting_value_when_training() -> None:
    config = load_trainer_config()
    only_cap = msgspec.structs.replace(
        config,
        optimise=msgspec.structs.replace(config.optimise, gap_threshold=(), max_attempts=()),
        algorithm=msgspec.structs.replace(config.algorithm, population=4, validation_episodes=4),
    )
    starting = Policy(max_parallelism=0, gap_threshold=2, max_attempts=5)
    result = run_experiment(only_cap, starting=starting, prompt=PROMPT, episodes=3, checker=succeeded)
    assert (result.policy.gap_threshold, result.policy.max_attempts) == (2, 5)

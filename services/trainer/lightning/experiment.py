"""A training experiment: the Trainer runs PolicySearch and one runner thread (the shm strategy) on one store."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import agentlightning as agl
import msgspec
from agentlightning.execution import SharedMemoryExecutionStrategy

from schemas.policy import Policy
from services.trainer.core.environment import episodes as environment_episodes
from services.trainer.core.search import CrossEntropySearch, EpisodeStats
from services.trainer.core.trajectory import Checker
from services.trainer.lightning.agent import environment_agent
from services.trainer.lightning.algorithm import PolicySearch
from services.trainer.lightning.resources import POLICY_RESOURCE, PolicyResource, ReturnedSpansTracer
from services.trainer.lightning.store import make_store
from services.trainer.settings import TrainerConfig

# The runner asks the store for work this often when the queue is empty (its default, 5 s, would dominate a
# CPU experiment whose rollouts take milliseconds).
RUNNER_POLL_S = 0.01
# Each configured seed owns this many episode seeds: training episodes from the start, held-out ones from half-way.
SEEDS_PER_EXPERIMENT = 1_000_000


@dataclass(frozen=True)
class ExperimentResult:
    traces: int
    initial_mean_reward: float
    final_mean_reward: float
    policy: Policy
    curve: list[EpisodeStats]


def run_experiment(
    config: TrainerConfig,
    *,
    starting: Policy,
    prompt: str,
    episodes: int,
    checker: Checker,
    on_episode: Callable[[EpisodeStats], None] = lambda stats: None,
) -> ExperimentResult:
    settings = config.algorithm
    if not config.optimise.knobs():
        raise ValueError("optimise: list at least one knob (max_parallelism, gap_threshold, max_attempts) with values")
    search = CrossEntropySearch(
        config.optimise.knobs(),
        population=settings.population,
        elite_fraction=settings.elite_fraction,
        smoothing=settings.smoothing,
        rng=random.Random(settings.seed),
    )
    algorithm = PolicySearch(
        search,
        episodes=episodes,
        batch_size=settings.batch_size,
        rollout_timeout_s=settings.rollout_timeout_s,
        on_episode=on_episode,
    )
    tracer = ReturnedSpansTracer()
    trainer = agl.Trainer(
        algorithm=algorithm,
        store=make_store(config.store),
        tracer=tracer,
        # No heartbeats: they sample system statistics for a fleet dashboard this single thread does not have.
        runner=agl.LitAgentRunner(
            tracer=tracer, poll_interval=RUNNER_POLL_S, interval_jitter=0.0, heartbeat_interval=0
        ),
        # One runner thread beside the algorithm on the main thread, sharing the in-memory store.
        strategy=SharedMemoryExecutionStrategy(n_runners=1, main_thread="algorithm", poll_interval=RUNNER_POLL_S),
        initial_resources={POLICY_RESOURCE: PolicyResource.of(starting, prompt)},
    )
    first_seed = settings.seed * SEEDS_PER_EXPERIMENT
    train = environment_episodes(config.environment, episodes * settings.batch_size, first_seed=first_seed)
    held_out = environment_episodes(
        config.environment, settings.validation_episodes, first_seed=first_seed + SEEDS_PER_EXPERIMENT // 2
    )
    trainer.fit(
        environment_agent(config.environment, config.reward, checker),
        train_dataset=msgspec.to_builtins(train),
        val_dataset=msgspec.to_builtins(held_out),
    )
    outcome = algorithm.outcome
    if outcome is None:
        raise RuntimeError("the training run ended before the search finished (see the log above)")
    return ExperimentResult(
        traces=outcome.traces,
        initial_mean_reward=outcome.initial_mean_reward,
        final_mean_reward=outcome.final_mean_reward,
        policy=outcome.learned.to_policy(version=starting.version + 1, default_prompt=prompt),
        curve=outcome.curve,
    )

"""PolicySearch: an Agent Lightning Algorithm that improves the planner's policy resource from rewards.

Per episode it asks the cross-entropy search for candidate knob settings, stores each candidate as a resources
snapshot, enqueues one rollout per (candidate, environment episode) against that snapshot, waits for the runner to
finish them, and reads every rollout's final reward back from the store's spans. The search moves toward the
best candidates. Before the first and after the last episode, the starting and the learned policy run the same
held-out episodes, which is the comparison the experiment reports.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import agentlightning as agl
from agentlightning.types import EnqueueRolloutRequest

from services.trainer.core.search import CrossEntropySearch, EpisodeStats
from services.trainer.lightning.resources import POLICY_RESOURCE, PolicyResource
from services.trainer.lightning.store import final_reward


@dataclass(frozen=True)
class SearchOutcome:
    initial_mean_reward: float
    final_mean_reward: float
    learned: PolicyResource
    curve: list[EpisodeStats]
    traces: int


class RolloutsFailed(RuntimeError):
    """Rollouts did not finish, or finished without a reward: the experiment stops instead of guessing."""


class PolicySearch(agl.Algorithm):
    def __init__(
        self,
        search: CrossEntropySearch,
        *,
        episodes: int,
        batch_size: int,
        rollout_timeout_s: float,
        on_episode: Callable[[EpisodeStats], None],
    ) -> None:
        super().__init__()
        self._search = search
        self._episodes = episodes
        self._batch_size = batch_size
        self._timeout_s = rollout_timeout_s
        self._on_episode = on_episode
        self.outcome: SearchOutcome | None = None

    async def run(
        self, train_dataset: agl.Dataset[Any] | None = None, val_dataset: agl.Dataset[Any] | None = None
    ) -> None:
        if not train_dataset or not val_dataset:
            raise ValueError("PolicySearch needs a training and a validation dataset of environment episodes")
        starting = (self.get_initial_resources() or {}).get(POLICY_RESOURCE)
        if not isinstance(starting, PolicyResource):
            raise ValueError(f"PolicySearch needs the initial resource {POLICY_RESOURCE!r} (a PolicyResource)")
        store = self.get_store()
        held_out = [val_dataset[index] for index in range(len(val_dataset))]
        [initial] = await self._mean_rewards(store, [starting], held_out, mode="val")
        curve: list[EpisodeStats] = []
        for number in range(self._episodes):
            batch = [
                train_dataset[(number * self._batch_size + offset) % len(train_dataset)]
                for offset in range(self._batch_size)
            ]
            candidates = self._search.propose()
            means = await self._mean_rewards(
                store, [starting.with_knobs(candidate) for candidate in candidates], batch, mode="train"
            )
            scored = list(zip(candidates, means, strict=True))
            elite = self._search.update(scored)
            stats = EpisodeStats(
                episode=number + 1,
                mean_reward=statistics.fmean(means),
                best_reward=max(means),
                best=elite[0],
                mode=self._search.mode(),
            )
            curve.append(stats)
            self._on_episode(stats)
        learned = starting.with_knobs(self._search.mode())
        [final] = await self._mean_rewards(store, [learned], held_out, mode="val")
        traces = len(await store.query_rollouts())
        self.outcome = SearchOutcome(
            initial_mean_reward=initial, final_mean_reward=final, learned=learned, curve=curve, traces=traces
        )

    async def _mean_rewards(
        self, store: agl.LightningStore, policies: Sequence[PolicyResource], tasks: Sequence[Any], *, mode: str
    ) -> list[float]:
        """Each policy's mean reward over ``tasks``: every rollout is enqueued first, so the runner never idles."""
        requests: list[EnqueueRolloutRequest] = []
        for policy in policies:
            snapshot = await store.add_resources({POLICY_RESOURCE: policy})
            requests += [
                EnqueueRolloutRequest(input=task, mode=mode, resources_id=snapshot.resources_id) for task in tasks
            ]
        rollout_ids = [rollout.rollout_id for rollout in await store.enqueue_many_rollouts(requests)]
        finished = await store.wait_for_rollouts(rollout_ids=rollout_ids, timeout=self._timeout_s)
        unfinished = len(rollout_ids) - sum(rollout.status == "succeeded" for rollout in finished)
        if unfinished:
            raise RolloutsFailed(
                f"{unfinished} of {len(rollout_ids)} rollouts did not succeed within {self._timeout_s:g}s"
            )
        rewards = [await final_reward(store, rollout_id) for rollout_id in rollout_ids]
        if any(reward is None for reward in rewards):
            raise RolloutsFailed("a rollout finished without a reward span")
        per_policy = len(tasks)
        return [
            statistics.fmean(rewards[start : start + per_policy])  # type: ignore[arg-type]
            for start in range(0, len(rewards), per_policy)
        ]

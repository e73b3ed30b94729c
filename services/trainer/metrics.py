"""The trainer service's metrics: the rewards it assigns, its rollouts, and runs it gave up waiting for."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from prometheus_client import REGISTRY, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from schemas import RewardAssigned

# The seed's reward adds weighted parts (success, speed, parallelism, penalties): about -2 to 2 in practice.
REWARD_BUCKETS = (-2, -1, -0.5, -0.25, 0, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 2)

REWARDS = Histogram("genesis_trainer_reward", "Rewards assigned to finished runs", buckets=REWARD_BUCKETS)


class _Collector(Protocol):
    rollouts: int

    @property
    def runs_dropped(self) -> int: ...


def observe_reward(assigned: RewardAssigned) -> None:
    REWARDS.observe(assigned.reward)


class TrainerCollector(Collector):
    """Reads the service's own counts at scrape time, so the service keeps one set of numbers."""

    def __init__(self, collector: _Collector) -> None:
        self._collector = collector

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        yield CounterMetricFamily(
            "genesis_trainer_rollouts", "Finished runs recorded as rollouts", value=self._collector.rollouts
        )
        yield CounterMetricFamily(
            "genesis_trainer_runs_dropped",
            "Runs whose turns were dropped while their RunFinished had not arrived",
            value=self._collector.runs_dropped,
        )


def watch(collector: _Collector) -> None:
    REGISTRY.register(TrainerCollector(collector))

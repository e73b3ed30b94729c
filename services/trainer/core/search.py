"""The cross-entropy method over the planner's discrete policy knobs: sample, score, move toward the elite.

Each knob has a categorical distribution over the values it may take, uniform at first. An episode samples a
population of candidate settings, every candidate is scored (mean reward over the same environment episodes),
and each knob's distribution moves ``smoothing`` of the way toward the value frequencies among the elite (the best
``elite_fraction`` of the population). The learned setting is each knob's most likely value.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence

import msgspec

Candidate = dict[str, int]


class EpisodeStats(msgspec.Struct, frozen=True, kw_only=True):
    """How one search episode went."""

    episode: int
    # Over every rollout of the episode's population.
    mean_reward: float
    # The best candidate's mean reward, and the candidate.
    best_reward: float
    best: Candidate
    # Each knob's most likely value after the update: what the search would answer now.
    mode: Candidate


class CrossEntropySearch:
    def __init__(
        self,
        space: Mapping[str, Sequence[int]],
        *,
        population: int,
        elite_fraction: float,
        smoothing: float,
        rng: random.Random,
    ) -> None:
        if not space or any(not values for values in space.values()):
            raise ValueError("the search space needs at least one knob, each with at least one value")
        if population < 2 or not 0 < elite_fraction <= 1 or not 0 < smoothing <= 1:
            raise ValueError("population >= 2, elite_fraction in (0, 1] and smoothing in (0, 1] are required")
        self.space = {knob: list(values) for knob, values in space.items()}
        self.population = population
        self.elite_size = max(1, math.ceil(population * elite_fraction))
        self.smoothing = smoothing
        self._rng = rng
        self.probabilities = {knob: [1.0 / len(values)] * len(values) for knob, values in self.space.items()}

    def propose(self) -> list[Candidate]:
        """A population of candidates drawn from the current distributions, distinct while the space allows."""
        candidates: list[Candidate] = []
        seen: set[tuple[int, ...]] = set()
        for _ in range(self.population * 20):
            candidate = {
                knob: self._rng.choices(values, weights=self.probabilities[knob])[0]
                for knob, values in self.space.items()
            }
            key = tuple(candidate.values())
            if key not in seen:
                seen.add(key)
                candidates.append(candidate)
            if len(candidates) == self.population:
                break
        # A distribution that has converged keeps proposing its one setting: then the population is that setting.
        while len(candidates) < self.population:
            candidates.append(dict(candidates[len(candidates) % len(seen)]))
        return candidates

    def update(self, scored: Sequence[tuple[Candidate, float]]) -> list[Candidate]:
        """Move every distribution toward the elite of ``scored``; returns the elite, best first."""
        ranked = sorted(scored, key=lambda pair: pair[1], reverse=True)  # stable: ties keep proposal order
        elite = [candidate for candidate, _ in ranked[: self.elite_size]]
        for knob, values in self.space.items():
            counts = [sum(candidate[knob] == value for candidate in elite) for value in values]
            self.probabilities[knob] = [
                (1 - self.smoothing) * old + self.smoothing * count / len(elite)
                for old, count in zip(self.probabilities[knob], counts, strict=True)
            ]
        return elite

    def mode(self) -> Candidate:
        """Each knob's most likely value (the first listed wins a tie)."""
        return {
            knob: values[max(range(len(values)), key=lambda index: (self.probabilities[knob][index], -index))]
            for knob, values in self.space.items()
        }

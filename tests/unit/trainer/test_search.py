"""The cross-entropy search over discrete knobs."""

from __future__ import annotations

import random

import pytest

from services.trainer.core.search import CrossEntropySearch

SPACE = {"cap": [0, 1, 2, 3, 4, 5], "attempts": [1, 2, 3]}


def toy_reward(candidate: dict[str, int]) -> float:
    return -abs(candidate["cap"] - 3) - abs(candidate["attempts"] - 2)


def test_search_converges_on_the_best_setting_when_scores_rank_it_first() -> None:
    search = CrossEntropySearch(SPACE, population=8, elite_fraction=0.25, smoothing=0.7, rng=random.Random(1))
    for _ in range(10):
        search.update([(candidate, toy_reward(candidate)) for candidate in search.propose()])
    assert search.mode() == {"cap": 3, "attempts": 2}
    assert max(search.probabilities["cap"]) > 0.9


def test_proposals_are_distinct_while_the_distribution_is_spread() -> None:
    search = CrossEntropySearch(SPACE, population=8, elite_fraction=0.25, smoothing=0.7, rng=random.Random(2))
    proposals = search.propose()
    assert len(proposals) == 8
    assert len({tuple(candidate.values()) for candidate in proposals}) == 8


def test_update_returns_the_elite_best_first_and_keeps_distributions_normalised() -> None:
    search = CrossEntropySearch(SPACE, population=4, elite_fraction=0.5, smoothing=0.5, rng=random.Random(3))
    scored = [({"cap": 3, "attempts": 2}, 1.0), ({"cap": 0, "attempts": 1}, -5.0), ({"cap": 2, "attempts": 2}, 0.5)]
    elite = search.update(scored)
    assert elite == [{"cap": 3, "attempts": 2}, {"cap": 2, "attempts": 2}]
    for probabilities in search.probabilities.values():
        assert sum(probabilities) == pytest.approx(1.0)


def test_search_refuses_an_empty_space_or_a_population_of_one() -> None:
    with pytest.raises(ValueError):
        CrossEntropySearch({}, population=4, elite_fraction=0.5, smoothing=0.5, rng=random.Random())
    with pytest.raises(ValueError):
        CrossEntropySearch(SPACE, population=1, elite_fraction=0.5, smoothing=0.5, rng=random.Random())

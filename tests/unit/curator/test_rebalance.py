import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.curator.core.compose import Composer, SourcePool, compose_hard_example
from services.curator.core.difficulty import estimate_difficulty
from services.curator.core.generator import generate_records
from services.curator.core.rebalance import RebalanceError, parse_target, plan_counts, rebalance
from services.curator.core.records import DIFFICULTIES, fingerprint

TARGET = {"easy": 0.30, "medium": 0.45, "hard": 0.25}


@pytest.fixture(scope="module")
def seed_like() -> list[dict]:
    """The seed's skew: 58% easy, 42% medium, no hard."""
    return list(generate_records(1200, seed=5))


def run(records, seed=1, target=TARGET):
    return rebalance([dict(r) for r in records], target, seed, Composer())


def shares(result) -> dict[str, float]:
    return {d: result.after[d] / len(result.records) for d in DIFFICULTIES}


def test_target_reached_within_one_point_when_input_has_no_hard_examples(seed_like):
    result = run(seed_like)
    assert all(abs(shares(result)[d] - TARGET[d]) <= 0.01 for d in DIFFICULTIES)
    assert result.before == {"easy": 696, "medium": 504}
    assert result.created == result.after["hard"] > 0


def test_output_identical_when_seed_repeats_and_different_when_it_changes(seed_like):
    assert run(seed_like, seed=9).records == run(seed_like, seed=9).records
    assert run(seed_like, seed=9).records != run(seed_like, seed=10).records


def test_no_duplicate_conversations_when_input_repeats_records(seed_like):
    result = run(seed_like[:400] + seed_like[:100])
    keys = [fingerprint(r) for r in result.records]
    assert len(keys) == len(set(keys))
    assert result.duplicates_dropped == 100


def test_kept_records_stay_in_input_order_and_keep_their_difficulty(seed_like):
    result = run(seed_like)
    kept = [r for r in result.records if "composed_from" not in r]
    positions = [seed_like.index(next(s for s in seed_like if s["id"] == r["id"])) for r in kept]
    assert positions == sorted(positions)
    originals = {r["id"]: r["difficulty"] for r in seed_like}
    assert all(r["difficulty"] == originals[r["id"]] for r in kept)


def test_each_agent_keeps_its_share_when_a_difficulty_is_down_sampled(seed_like):
    result = run(seed_like)
    before = Counter(r["agent"] for r in seed_like if r["difficulty"] == "easy")
    after = Counter(r["agent"] for r in result.records if r["difficulty"] == "easy")
    kept = result.after["easy"] / result.before["easy"]
    assert all(abs(after[a] - before[a] * kept) <= 1 for a in before)


def test_difficulty_estimated_when_label_missing(seed_like):
    unlabeled = [{k: v for k, v in r.items() if k != "difficulty"} for r in seed_like[:300]]
    result = run(unlabeled)
    assert result.estimated == 300
    assert sum(result.before.values()) == 300


def test_estimator_agrees_with_generated_labels_when_examples_are_composed(seed_like):
    assert all(estimate_difficulty(r) == r["difficulty"] for r in seed_like)
    rng = random.Random(0)
    easy = [r for r in seed_like if r["difficulty"] == "easy"]
    assert all(estimate_difficulty(compose_hard_example(rng.sample(easy, 3))) == "hard" for _ in range(200))


def test_composed_example_chains_dependent_steps_of_one_agent(seed_like):
    record = Composer()(SourcePool(seed_like), random.Random(4))
    ask = record["messages"][-2]["content"]
    assert record["difficulty"] == "hard" and len(record["composed_from"]) == 3
    assert "Step 2: using the results of step 1" in ask and "Step 3: using the results of steps 1 and 2" in ask
    sources = [next(r for r in seed_like if r["id"] == i) for i in record["composed_from"]]
    assert {s["agent"] for s in sources} == {record["agent"]}


def test_error_raised_when_a_kept_difficulty_has_no_examples(seed_like):
    only_easy = [r for r in seed_like if r["difficulty"] == "easy"]
    with pytest.raises(RebalanceError, match="no medium examples"):
        run(only_easy)


def test_error_raised_when_too_few_distinct_sources_exist_to_compose():
    records = [
        {"id": str(i), "difficulty": "easy", "messages": [{"role": "user", "content": f"q{i}"}]} for i in range(2)
    ]
    with pytest.raises((RebalanceError, ValueError)):
        rebalance(records, {"easy": 0.5, "medium": 0.0, "hard": 0.5}, 0, Composer())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("easy=0.3,medium=0.45", "sum to 1"),
        ("easy=0.5,tricky=0.5", "bad target part"),
        ("easy=half,medium=0.5", "bad share"),
        ("easy=1.5,medium=-0.5", "between 0 and 1"),
    ],
)
def test_target_rejected_with_reason_when_malformed(text, message):
    with pytest.raises(ValueError, match=message):
        parse_target(text)


def test_missing_difficulties_count_as_zero_when_target_is_parsed():
    assert parse_target("easy=0.4, medium=0.6") == {"easy": 0.4, "medium": 0.6, "hard": 0.0}


@settings(max_examples=200, deadline=None)
@given(
    available=st.fixed_dictionaries({d: st.integers(0, 5000) for d in DIFFICULTIES}),
    cuts=st.tuples(st.integers(0, 100), st.integers(0, 100)).map(sorted),
)
def test_planned_counts_within_one_point_and_never_above_supply_when_feasible(available, cuts):
    low, high = cuts
    target = {"easy": low / 100, "medium": (high - low) / 100, "hard": (100 - high) / 100}
    try:
        counts = plan_counts(available, target)
    except RebalanceError:
        # With 100 or more of each kept difficulty some output size always fits, so only scarcity explains it.
        assert sum(available.values()) == 0 or any(available[d] < 100 for d in ("easy", "medium") if target[d] > 0)
        return
    total = sum(counts.values())
    assert total > 0
    assert all(abs(counts[d] / total - target[d]) <= 0.01 for d in DIFFICULTIES)
    assert counts["easy"] <= available["easy"] and counts["medium"] <= available["medium"]

"""Difficulty rebalancing: stratified down-sampling plus new hard examples, to a target mix within 1 point.

Deterministic for a seed: every random choice comes from one `random.Random(seed)`, records are visited in
input order and groups in sorted order. Duplicate conversations are dropped first and new examples that
repeat an existing conversation are drawn again, so the output holds no duplicates.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from services.curator.core.compose import SourcePool
from services.curator.core.difficulty import estimate_difficulty
from services.curator.core.records import DIFFICULTIES, fingerprint

TOLERANCE = 0.01
CREATED = "hard"  # the only difficulty new examples are made for
_MAX_DRAWS_PER_EXAMPLE = 20

HardExampleMaker = Callable[[SourcePool, random.Random], dict[str, Any]]


class RebalanceError(ValueError):
    """The target cannot be met with this input; the message says what is missing."""


@dataclass
class RebalanceResult:
    records: list[dict[str, Any]]
    before: Counter[str]
    after: Counter[str]
    estimated: int = 0
    duplicates_dropped: int = 0
    created: int = 0
    kept: dict[str, int] = field(default_factory=dict)


def parse_target(text: str) -> dict[str, float]:
    """`easy=0.30,medium=0.45,hard=0.25` (difficulties left out count as 0); shares must sum to 1."""
    shares = dict.fromkeys(DIFFICULTIES, 0.0)
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in shares:
            raise ValueError(f"bad target part {part!r}: expected easy=, medium= or hard= with a share")
        try:
            shares[name] = float(value)
        except ValueError:
            raise ValueError(f"bad share {value.strip()!r} for {name}: expected a number such as 0.25") from None
        if not 0 <= shares[name] <= 1:
            raise ValueError(f"share for {name} must be between 0 and 1, got {shares[name]}")
    if abs(sum(shares.values()) - 1) > 1e-6:
        raise ValueError(f"shares must sum to 1, got {sum(shares.values()):.4f}")
    return shares


def plan_counts(available: Mapping[str, int], target: Mapping[str, float]) -> dict[str, int]:
    """The largest output whose mix is within 1 point of `target`, taking no more existing records than there
    are, except for hard examples, which can be created."""
    limits = [available[d] / share for d, share in target.items() if share > 0 and d != CREATED]
    upper = int(min(limits)) if limits else sum(available.values())
    for total in range(upper, 0, -1):
        counts = _largest_remainder(total, target)
        fits = all(counts[d] <= available[d] for d in DIFFICULTIES if d != CREATED)
        if fits and all(abs(counts[d] / total - target[d]) <= TOLERANCE for d in DIFFICULTIES):
            return counts
    missing = [d for d, share in target.items() if share > 0 and d != CREATED and available[d] == 0]
    if missing:
        raise RebalanceError(f"no {' or '.join(missing)} examples to keep; the target mix needs them")
    have = ", ".join(f"{available[d]} {d}" for d in DIFFICULTIES)
    raise RebalanceError(f"no output size puts every share within 1 point of the target with {have} examples")


def rebalance(
    records: Iterable[dict[str, Any]],
    target: Mapping[str, float],
    seed: int,
    make_hard: HardExampleMaker,
    estimate: Callable[[dict[str, Any]], str] = estimate_difficulty,
) -> RebalanceResult:
    rng = random.Random(seed)
    unique, seen, duplicates, estimated = [], set(), 0, 0
    for record in records:
        key = fingerprint(record)
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        if record.get("difficulty") not in DIFFICULTIES:
            record["difficulty"] = estimate(record)
            estimated += 1
        unique.append(record)
    before = Counter(r["difficulty"] for r in unique)
    counts = plan_counts({d: before[d] for d in DIFFICULTIES}, target)
    chosen = sorted(i for d in DIFFICULTIES for i in _stratified_sample(unique, d, counts[d], rng))
    kept = [unique[i] for i in chosen]
    created = _create(counts[CREATED] - min(before[CREATED], counts[CREATED]), unique, seen, rng, make_hard)
    output = kept + created
    return RebalanceResult(
        records=output,
        before=before,
        after=Counter(r["difficulty"] for r in output),
        estimated=estimated,
        duplicates_dropped=duplicates,
        created=len(created),
        kept={d: counts[d] for d in DIFFICULTIES},
    )


def _stratified_sample(records: list[dict[str, Any]], difficulty: str, count: int, rng: random.Random) -> list[int]:
    """`count` indices of records of this difficulty, each agent keeping its share of them."""
    by_agent: dict[str, list[int]] = {}
    for index, record in enumerate(records):
        if record["difficulty"] == difficulty:
            by_agent.setdefault(str(record.get("agent", "")), []).append(index)
    available = sum(len(v) for v in by_agent.values())
    count = min(count, available)
    if not count:
        return []
    shares = {agent: len(indices) / available for agent, indices in sorted(by_agent.items())}
    quotas = _largest_remainder(count, shares)
    return [i for agent in sorted(by_agent) for i in rng.sample(by_agent[agent], quotas[agent])]


def _create(
    count: int,
    unique: list[dict[str, Any]],
    seen: set[bytes],
    rng: random.Random,
    make_hard: HardExampleMaker,
) -> list[dict[str, Any]]:
    if count <= 0:
        return []
    pool = SourcePool([r for r in unique if r["difficulty"] != CREATED])
    created: list[dict[str, Any]] = []
    draws = 0
    while len(created) < count:
        draws += 1
        if draws > count * _MAX_DRAWS_PER_EXAMPLE:
            raise RebalanceError(
                f"made only {len(created)} of {count} new hard examples without repeating a conversation; "
                "the input has too few distinct examples to build from"
            )
        record = make_hard(pool, rng)
        key = fingerprint(record)
        if key not in seen:
            seen.add(key)
            created.append(record)
    return created


def _largest_remainder(total: int, shares: Mapping[str, float]) -> dict[str, int]:
    """Integer counts summing to `total`, each within one of `total * share` (Hamilton's method)."""
    exact = {key: total * share for key, share in shares.items()}
    counts = {key: int(value) for key, value in exact.items()}
    leftover = total - sum(counts.values())
    for key in sorted(exact, key=lambda k: (counts[k] - exact[k], k))[:leftover]:
        counts[key] += 1
    return counts

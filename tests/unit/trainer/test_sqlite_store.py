"""The SQLite collections answer every filter as Agent Lightning's in-memory collections do, including the lookups
that read only one rollout's rows."""

from __future__ import annotations

import sqlite3

import pytest
from agentlightning.store.collection.memory import ListBasedCollection
from agentlightning.types import Attempt

from services.trainer.lightning.sqlite_store import SqliteCollection

KEYS = ("rollout_id", "attempt_id")
ATTEMPTS = [
    Attempt(
        rollout_id=f"ro-{rollout}", attempt_id=f"at-{rollout}-{n}", sequence_id=n, start_time=float(n), status=status
    )
    for rollout in range(4)
    for n, status in enumerate(("failed", "succeeded", "running"), 1)
]
FILTERS = [
    None,
    {"rollout_id": {"exact": "ro-2"}},
    {"rollout_id": {"exact": "ro-2"}, "attempt_id": {"exact": "at-2-3"}},
    {"rollout_id": {"exact": "ro-2"}, "attempt_id": {"exact": "at-1-3"}},  # no such pair
    {"rollout_id": {"exact": "ro-2"}, "status": {"within": ["failed", "running"]}},
    {"_aggregate": "or", "rollout_id": {"exact": "ro-2"}, "status": {"exact": "succeeded"}},
    {
        "_must": {"rollout_id": {"exact": "ro-1"}},
        "_aggregate": "or",
        "status": {"exact": "failed"},
        "sequence_id": {"exact": 3},
    },
    {"rollout_id": {"exact": None}, "status": {"exact": "running"}},  # a None operand filters nothing
    {"status": {"within": ["succeeded"]}},
]


@pytest.mark.parametrize("query", FILTERS, ids=repr)
async def test_query_matches_the_in_memory_collection_when_filtering_by_the_first_key_and_others(query) -> None:
    database = sqlite3.connect(":memory:", isolation_level=None)
    stored = SqliteCollection(database, "attempts", Attempt, KEYS)
    await stored.insert(ATTEMPTS)
    reference = ListBasedCollection(list(ATTEMPTS), Attempt, KEYS)
    expected, found = await reference.query(query), await stored.query(query)
    assert sorted(item.attempt_id for item in found.items) == sorted(item.attempt_id for item in expected.items)
    assert found.total == expected.total

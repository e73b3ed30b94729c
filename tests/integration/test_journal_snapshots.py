"""Journal snapshots on a real broker: a run's records go through the planner's per-partition transactions, under
a small max_request_size; a take-over in the middle reads the compacted journal back with read_committed."""

from __future__ import annotations

import pytest
from aiokafka import TopicPartition

from services.planner.core.journal import decode_journal, group_journal
from services.planner.runbook import RunBook, replay_journal
from streams.catalogue import PLANNER_JOURNAL, Catalogue
from streams.outbox import RawRecord
from streams.reading import read_latest_records
from streams.settings import KafkaSettings
from streams.transactions import PartitionTransactions, TransactionFailed
from tests.unit.planner.runs import at, counting_ids, ok, start

pytestmark = pytest.mark.kafka

PARTITION = 2
MAX_BYTES = 8_192  # the producers' max_request_size here: a run's history is several times larger
WIDE = "\n".join(
    [f"Task {n}: sleep(seconds=1) | Dependencies: none" for n in range(1, 30)]
    + ["Task 30: sleep(seconds=1) | Dependencies: " + ", ".join(f"Task {n}" for n in range(1, 30))]
)


def transactions(bootstrap: str, catalogue: Catalogue, name: str) -> PartitionTransactions:
    group = f"{catalogue.prefix}-planner"
    return PartitionTransactions(
        KafkaSettings(max_message_bytes=MAX_BYTES),
        bootstrap,
        transactional_prefix=group,
        group_id=group,
        client_id=name,
        transaction_timeout_ms=10_000,
    )


async def journal_values(bootstrap: str, journal: str) -> dict[bytes, bytes]:
    latest = await read_latest_records(bootstrap, [TopicPartition(journal, PARTITION)], timeout_s=60)
    assert not latest.unread
    return {key: record.value for key, record in latest.records[TopicPartition(journal, PARTITION)].items()}


async def test_take_over_restores_the_run_from_its_snapshot_and_later_records_when_the_journal_was_compacted(
    kafka_bootstrap: str, catalogue: Catalogue
) -> None:
    journal = catalogue.name(PLANNER_JOURNAL)
    book = RunBook(10, snapshot_records=3, max_record_bytes=MAX_BYTES)
    state, _ = start(WIDE)
    book.hold(state, PARTITION)
    first, second = transactions(kafka_bootstrap, catalogue, "first"), transactions(kafka_bootstrap, catalogue, "new")
    snapshots = 0

    async def flush(owner: PartitionTransactions, book: RunBook) -> None:
        nonlocal snapshots
        write = book.journal_write(state)
        assert write is not None
        records = [RawRecord(journal, value, key, partition=PARTITION) for key, value in write.records]
        await owner.commit(PARTITION, records, {})
        book.journaled(write)
        if write.snapshot and any(value is None for _, value in write.records):  # it replaced records
            snapshots += 1

    try:
        await first.claim([PARTITION])
        await flush(first, book)
        for n in range(1, 16):
            state.on_task_finished(ok(str(n), started_s=0, finished_s=n / 10, result="x" * 700), at(n / 10))
            await flush(first, book)
        assert snapshots >= 2

        await second.claim([PARTITION])  # the take-over: the first owner is fenced
        values = await journal_values(kafka_bootstrap, journal)
        [(run_id, records)] = group_journal(values).items()
        assert run_id == state.run_id
        assert all(len(value) < MAX_BYTES for value in values.values())
        # One snapshot (several records under the limit) and at most 3 records after it, not one per change.
        assert 1 < len(records) <= book._cursors[run_id].snapshot + 3 < 16
        restored, cursor = replay_journal(records, new_id=counting_ids("r"))
        assert restored == state
        assert sum(len(decode_journal(value)) for value in values.values()) == len(state.history)

        book = RunBook(10, snapshot_records=3, max_record_bytes=MAX_BYTES)
        book.hold(restored, PARTITION, cursor)
        state = restored
        for n in range(16, 31):
            state.on_task_finished(ok(str(n), started_s=0, finished_s=n / 10, result="x" * 700), at(n / 10))
            await flush(second, book)
        assert state.finished and state.outcome.status == "succeeded"
    finally:
        await first.close()
        await second.close()
    assert await journal_values(kafka_bootstrap, journal) == {}  # the finished run left no record


async def test_snapshot_records_are_refused_when_they_exceed_the_producer_s_limit_unsplit(
    kafka_bootstrap: str, catalogue: Catalogue
) -> None:
    """Why the snapshot is split: the same history as one record is more than the producer may send."""
    journal = catalogue.name(PLANNER_JOURNAL)
    unsplit = RunBook(10, snapshot_records=3, max_record_bytes=1_048_576)
    state, _ = start(WIDE)
    unsplit.hold(state, PARTITION)
    owner = transactions(kafka_bootstrap, catalogue, "unsplit")
    try:
        await owner.claim([PARTITION])
        write = unsplit.journal_write(state)
        records = [RawRecord(journal, value, key, partition=PARTITION) for key, value in write.records]
        assert len(records) == 1 and len(records[0].value) > MAX_BYTES
        with pytest.raises(TransactionFailed, match="a record was refused"):
            await owner.commit(PARTITION, records, {})
    finally:
        await owner.close()

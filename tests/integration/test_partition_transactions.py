"""Kafka transactions per input partition (streams/transactions.py) and the read_committed restore reader
(streams/reading.py), on a real broker: atomic visibility, offsets in the transaction, fencing of a zombie."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from streams.admin import TopologyError, check_copartitioned, ensure_topics
from streams.broker import transactional_producer
from streams.catalogue import PLANNER_JOURNAL, RUNS_REQUESTED, TASKS_FINISHED, TASKS_READY, Catalogue
from streams.outbox import RawRecord
from streams.reading import read_latest_records
from streams.settings import KafkaSettings
from streams.transactions import OFFSETS_KEY, PartitionLost, PartitionTransactions, decode_offsets

pytestmark = pytest.mark.kafka


def transactions(bootstrap: str, catalogue: Catalogue, name: str) -> PartitionTransactions:
    group = f"{catalogue.prefix}-planner"
    return PartitionTransactions(
        KafkaSettings(),
        bootstrap,
        transactional_prefix=group,
        group_id=group,
        client_id=name,
        transaction_timeout_ms=10_000,
    )


async def committed_values(bootstrap: str, topic: str, partition: int) -> list[bytes]:
    latest = await read_latest_records(bootstrap, [TopicPartition(topic, partition)], timeout_s=30)
    return sorted(record.value for record in latest.records[TopicPartition(topic, partition)].values())


async def group_offset(bootstrap: str, group: str, partition: TopicPartition) -> int | None:
    consumer = AIOKafkaConsumer(bootstrap_servers=str(bootstrap), group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        return await consumer.committed(partition)
    finally:
        await consumer.stop()


async def test_records_and_input_offsets_become_visible_together_when_the_transaction_commits(
    kafka_bootstrap: str, catalogue: Catalogue
) -> None:
    journal, requests = catalogue.name(PLANNER_JOURNAL), catalogue.name(RUNS_REQUESTED)
    owner = transactions(kafka_bootstrap, catalogue, "owner")
    await owner.claim([2])
    try:
        await owner.commit(
            2,
            [
                RawRecord(journal, b"entries", b"run-1/0", partition=2),
                RawRecord(journal, b"more", b"run-2/0", partition=2),
            ],
            {TopicPartition(requests, 2): 7},
        )
    finally:
        await owner.close()
    assert await committed_values(kafka_bootstrap, journal, 2) == [b"entries", b"more"]
    assert await group_offset(kafka_bootstrap, f"{catalogue.prefix}-planner", TopicPartition(requests, 2)) == 7


async def test_zombie_cannot_write_when_the_partition_s_new_owner_claims_it(
    kafka_bootstrap: str, catalogue: Catalogue
) -> None:
    journal, requests, ready = (catalogue.name(spec) for spec in (PLANNER_JOURNAL, RUNS_REQUESTED, TASKS_READY))
    zombie, owner = transactions(kafka_bootstrap, catalogue, "zombie"), transactions(kafka_bootstrap, catalogue, "new")
    await zombie.claim([0])
    await owner.claim([0])  # fences the zombie's producer
    try:
        with pytest.raises(PartitionLost, match="fenced"):
            await zombie.commit(
                0,
                [RawRecord(journal, b"zombie", b"run-z/0", partition=0), RawRecord(ready, b"dispatch", b"run-z/1")],
                {TopicPartition(requests, 0): 99},
            )
        assert not zombie.owns(0)
        await owner.commit(0, [RawRecord(journal, b"owner", b"run-o/0", partition=0)], {TopicPartition(requests, 0): 3})
    finally:
        await zombie.close()
        await owner.close()
    assert await committed_values(kafka_bootstrap, journal, 0) == [b"owner"]
    ready_partitions = [TopicPartition(ready, p) for p in range(TASKS_READY.partitions)]
    assert not any((await read_latest_records(kafka_bootstrap, ready_partitions, timeout_s=30)).records.values())
    assert await group_offset(kafka_bootstrap, f"{catalogue.prefix}-planner", TopicPartition(requests, 0)) == 3


async def test_restore_reader_skips_aborted_records_and_says_what_it_left_when_time_runs_out(
    kafka_bootstrap: str, catalogue: Catalogue
) -> None:
    journal = catalogue.name(PLANNER_JOURNAL)
    aborting = transactional_producer(
        KafkaSettings(),
        kafka_bootstrap,
        transactional_id=uuid.uuid4().hex,
        client_id="t",
        transaction_timeout_ms=10_000,
    )
    plain = AIOKafkaProducer(bootstrap_servers=str(kafka_bootstrap))
    await aborting.start()
    await plain.start()
    try:
        await aborting.begin_transaction()
        await aborting.send_and_wait(journal, b"aborted", key=b"run-a/0", partition=1)
        await aborting.abort_transaction()
        await plain.send_and_wait(journal, b"kept", key=b"run-k/0", partition=1)
    finally:
        await aborting.stop()
        await plain.stop()
    assert await committed_values(kafka_bootstrap, journal, 1) == [b"kept"]
    cut_short = await read_latest_records(kafka_bootstrap, [TopicPartition(journal, 1)], timeout_s=0)
    assert cut_short.unread == {TopicPartition(journal, 1): (0, 3)}  # the aborted record, its marker, the kept one


async def test_copartition_check_names_each_count_when_they_differ(kafka_bootstrap: str) -> None:
    catalogue = Catalogue(prefix=f"t{uuid.uuid4().hex[:10]}")
    await ensure_topics(kafka_bootstrap, catalogue)
    assert await check_copartitioned(kafka_bootstrap, catalogue) == RUNS_REQUESTED.partitions
    unequal = (RUNS_REQUESTED, TASKS_READY)  # 6 and 12 partitions
    with pytest.raises(TopologyError, match=r"runs\.requested has 6, .*tasks\.ready has 12"):
        await check_copartitioned(kafka_bootstrap, catalogue, unequal)


async def test_topics_are_not_created_when_min_insync_replicas_exceeds_the_replication_factor() -> None:
    with pytest.raises(TopologyError, match=r"kafka\.min_insync_replicas is 2: .* kafka\.replication_factor \(1\)"):
        await ensure_topics("127.0.0.1:1", Catalogue("never"), replication_factor=1, min_insync_replicas=2)


async def test_input_offsets_ride_in_the_journal_and_accumulate_when_an_offsets_topic_is_given(
    kafka_bootstrap: str, catalogue: Catalogue
) -> None:
    journal, requests = catalogue.name(PLANNER_JOURNAL), catalogue.name(RUNS_REQUESTED)
    finished = catalogue.name(TASKS_FINISHED)
    group = f"{catalogue.prefix}-planner"
    owner = PartitionTransactions(
        KafkaSettings(),
        kafka_bootstrap,
        transactional_prefix=group,
        group_id=group,
        client_id="owner",
        transaction_timeout_ms=10_000,
        offsets_topic=journal,
    )
    await owner.claim([1])
    try:
        await owner.commit(
            1, [RawRecord(journal, b"entries", b"run-1/0", partition=1)], {TopicPartition(requests, 1): 4}
        )
        await owner.commit(1, [], {TopicPartition(finished, 1): 9})  # a later transaction with other inputs only
    finally:
        await owner.close()
    latest = await read_latest_records(kafka_bootstrap, [TopicPartition(journal, 1)], timeout_s=30)
    records = latest.records[TopicPartition(journal, 1)]
    assert records[b"run-1/0"].value == b"entries"
    assert decode_offsets(records[OFFSETS_KEY].value) == {
        TopicPartition(requests, 1): 4,
        TopicPartition(finished, 1): 9,
    }
    assert await group_offset(kafka_bootstrap, group, TopicPartition(requests, 1)) is None  # the group is not asked

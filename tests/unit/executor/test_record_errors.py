"""Which publish errors belong to one record (its task fails, the executor carries on) and which to the
connection (the executor exits and its supervisor restarts it)."""

from __future__ import annotations

import pytest
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    NotLeaderForPartitionError,
    RecordTooLargeError,
    RequestTimedOutError,
)

from streams.outbox import is_record_error


@pytest.mark.parametrize("error", [MessageSizeTooLargeError(), RecordTooLargeError(), TypeError("not encodable")])
def test_blames_the_record_when_it_is_too_large_or_cannot_be_encoded(error: BaseException) -> None:
    assert is_record_error(error)


@pytest.mark.parametrize(
    "error", [KafkaConnectionError(), KafkaTimeoutError(), RequestTimedOutError(), NotLeaderForPartitionError()]
)
def test_blames_the_connection_when_kafka_cannot_be_reached(error: BaseException) -> None:
    assert not is_record_error(error)

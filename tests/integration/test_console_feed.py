"""The console's live feed against a real Apache Kafka broker: a lone event is shown whether or not reads wait for a
batch, and events sent while the feed connects are not skipped."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime

import pytest

from schemas import RunPlanned, RunRequested
from services.console.core.board import Board, RunState
from services.console.feed import LiveFeed
from services.console.hub import Hub
from services.warehouse.preparing import build_scrubber
from streams.broker import make_broker
from streams.catalogue import Catalogue
from streams.outbox import EventPublisher
from streams.settings import KafkaSettings
from tests.support.samples import PLAN

pytestmark = pytest.mark.kafka
WAIT_S = 30


def both_folded(run: RunState | None) -> bool:
    return run is not None and run.requested_at is not None and run.strategy is not None


@pytest.mark.parametrize("batch_wait_ms", [0, 100])
async def test_live_feed_shows_a_run_when_its_events_are_far_fewer_than_a_batch(
    kafka_bootstrap: str, catalogue: Catalogue, batch_wait_ms: int
) -> None:
    board, hub = Board(10), Hub()
    feed = LiveFeed(
        kafka_bootstrap,
        catalogue,
        board,
        hub,
        build_scrubber(True),
        lookback_s=60,
        batch_wait_ms=batch_wait_ms,
        now=lambda: datetime.now(UTC),
    )
    run_id = f"feed-{batch_wait_ms}-{uuid.uuid4().hex[:6]}"
    reading = asyncio.create_task(feed.run())  # reads from lookback_s ago: events sent before it connects count
    try:
        with hub.subscribe() as page:
            broker = make_broker(KafkaSettings(), kafka_bootstrap, client_id="feed-test")
            async with broker:
                await EventPublisher(broker, catalogue, source="test").publish_all(
                    [
                        RunRequested(run_id=run_id, plan=PLAN),
                        RunPlanned(run_id=run_id, plan=PLAN, strategy="parallel", levels=[["1"]], critical_path=["1"]),
                    ]
                )
            # A few hundred bytes: each read returns at its wait, not at 64 KiB. The two events are on two topics,
            # so they may come in two reads, in either order: wait until the page was told of the run and both are
            # folded in.
            changed: set[str] = set()
            async with asyncio.timeout(WAIT_S):
                while run_id not in changed or not both_folded(board.get(run_id)):
                    changed |= await page.changes(timeout_s=WAIT_S)
        run = board.get(run_id)
        assert run is not None and run.strategy == "parallel", run
    finally:
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reading

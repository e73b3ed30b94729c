"""Direct dispatch, for ``planner.dispatch_guarantee: at_least_once``: a TaskReady goes to Kafka the moment its run
emits it, on an idempotent producer of its own, instead of riding in its input partition's next transaction.

Why: in a transaction a dispatch waits for the partition's transaction already on its way, then for
AddPartitionsToTxn, Produce and EndTxn and the broker's commit markers before an executor may read it; sent directly
it is readable once the broker has appended it. The run's journal, the inputs' offsets and every other event
(RunFinished included) still go in the transaction.

What it costs: a planner that dies after a dispatch went out and before its journal committed does not know of the
dispatch; the next owner replays the journal and dispatches the task again. The executor that took the first copy
answers the repeat with the first copy's start and result without calling the tool
(services/executor/core/repeats.py), so the tool runs twice only when the partition moved in between. A dispatch
Kafka refuses is handed back and goes in the transaction instead. docs/adr/0009-dispatch-guarantee.md has the trade
and the figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from schemas import Event, TaskReady
from streams.catalogue import Catalogue
from streams.outbox import RecordSender

log = logging.getLogger(__name__)


class DirectDispatch:
    def __init__(
        self,
        producer: AIOKafkaProducer,
        catalogue: Catalogue,
        *,
        source: str,
        on_sent: Callable[[TaskReady], None],
        on_refused: Callable[[TaskReady, BaseException], None],
    ) -> None:
        """``on_sent``: Kafka acknowledged the dispatch. ``on_refused``: it did not (the record was refused, or the
        producer gave up or stopped); the caller sends it another way."""
        self._producer = producer
        self._sender = RecordSender(producer, catalogue, source=source)
        self._on_sent = on_sent
        self._on_refused = on_refused
        self._queued: list[TaskReady] = []
        self._unacknowledged: set[asyncio.Future] = set()
        self.queued = asyncio.Event()  # set while dispatches wait to be sent

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        """Send what is queued and wait for Kafka's answers (each reported to ``on_sent`` or ``on_refused``)."""
        await self.send()
        if self._unacknowledged:
            await asyncio.wait(set(self._unacknowledged))
        with contextlib.suppress(KafkaError):
            await self._producer.stop()

    def take(self, events: list[Event]) -> list[Event]:
        """Queue the dispatches among ``events`` to be sent directly; the rest, in order, go in the transaction."""
        rest: list[Event] = []
        for event in events:
            if isinstance(event, TaskReady):
                self._queued.append(event)
            else:
                rest.append(event)
        if self._queued:
            self.queued.set()
        return rest

    async def send(self) -> None:
        """Hand every queued dispatch to the producer (it batches them per partition); answers come back later."""
        queued, self._queued = self._queued, []
        self.queued.clear()
        for dispatch in queued:
            try:
                delivery = await self._sender.send(dispatch)
            except Exception as error:  # refused before it was queued (too large, producer closed)
                self._refused(dispatch, error)
                continue
            self._unacknowledged.add(delivery)
            delivery.add_done_callback(lambda done, dispatch=dispatch: self._answered(dispatch, done))

    def _answered(self, dispatch: TaskReady, delivery: asyncio.Future) -> None:
        self._unacknowledged.discard(delivery)
        error = delivery.exception() if not delivery.cancelled() else asyncio.CancelledError()
        if error is None:
            self._on_sent(dispatch)
        else:
            self._refused(dispatch, error)

    def _refused(self, dispatch: TaskReady, error: BaseException) -> None:
        log.warning(
            "dispatch of run %s task %s attempt %d was not sent directly (%r); it goes in the next transaction",
            dispatch.run_id,
            dispatch.task_id,
            dispatch.attempt,
            error,
        )
        self._on_refused(dispatch, error)

"""The trainer service: finished runs from Kafka become Agent Lightning rollouts, and each gets its reward.

It reads RunFinished and TurnRecorded (one consumer group of its own) in batches, with a raw aiokafka consumer
(``getmany``: no per-message middleware, as the executors and the warehouse read). Turns wait for their run; a
RunFinished is scored (the seed's reward), written to the durable LightningStore (SQLite) as a rollout with the
run's spans and the reward, and answered with RewardAssigned. A batch is one SQLite transaction (one commit to disk,
not one per record) in which every record has a savepoint of its own, so a record that fails is dead-lettered with
the reason and takes back only its own changes. After that transaction the batch's rewards are published and
acknowledged, and only then are its offsets committed: a crash or restart redelivers, loses nothing, and a
redelivered RunFinished repeats the same RewardAssigned (same event id) instead of a second rollout. Within a batch
the turns are applied before the finished runs, so a run whose turns came with it is recorded whole at once.
RunRejected shares the topic and is passed over: nothing ran, so there is no trajectory to score.

Each RunFinished is handled in a ``{topic} process`` span, a child of the trace it carries, so its RewardAssigned
stays in the run's trace. The process exits only when Kafka itself cannot be reached, or a batch cannot be written
to SQLite; its supervisor restarts it and the uncommitted batch comes again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import msgspec
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from faststream.kafka import KafkaBroker
from opentelemetry import trace
from opentelemetry.trace import Span

from schemas.events import Event, RewardAssigned, RunFinished, RunRejected, TurnRecorded
from services.runtime.health import tasks_running
from services.runtime.telemetry import CONVERSATION_ID
from services.trainer.core.reward import RewardConfig
from services.trainer.core.traces import RunTrace, scored_trace
from services.trainer.core.trajectory import Checker
from services.trainer.lightning.ledger import TrainerLedger
from services.trainer.metrics import observe_reward
from services.trainer.settings import CollectorConfig
from streams.broker import group_consumer
from streams.catalogue import RUNS_FINISHED, TURNS, Catalogue
from streams.inbox import Delivery, Inbox
from streams.outbox import EventPublisher
from streams.rebalance import RebalanceHooks
from streams.tracing import context_from_headers

log = logging.getLogger(__name__)
POLL_TIMEOUT_MS = 100  # how long a stop waits for the poll in progress
_tracer = trace.get_tracer("genesis.trainer")


class TraceCollector:
    def __init__(
        self,
        broker: KafkaBroker,
        catalogue: Catalogue,
        *,
        bootstrap: str,
        ledger: TrainerLedger,
        reward: RewardConfig,
        checker: Checker,
        settings: CollectorConfig,
        name: str,
        on_fatal: Callable[[BaseException], None],
        on_ready: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.ledger = ledger
        self._bootstrap = bootstrap
        self._topics = [catalogue.name(RUNS_FINISHED), catalogue.name(TURNS)]
        self._reward = reward
        self._checker = checker
        self._settings = settings
        self._name = name
        self._on_fatal = on_fatal
        self._on_ready = on_ready
        # The broker only publishes: rewards, and dead letters with the reason and origin in their headers.
        self._publisher = EventPublisher(broker, catalogue, source=name)
        self._inbox = Inbox(self._publisher, catalogue, consumer=name)
        self._consumer: AIOKafkaConsumer | None = None
        self._consuming: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        # Held while a batch is applied, published and committed: a revocation waits for the batch in progress.
        self._lock = asyncio.Lock()
        self.rollouts = 0
        self.batches = 0
        self.records = 0  # taken from Kafka and done with: applied, passed over or dead-lettered
        # Notified after each batch is done: a caller that needs the trainer to have caught up waits on it.
        self.batch_done = asyncio.Condition()

    @property
    def runs_dropped(self) -> int:
        """Runs whose turns were given up waiting for their RunFinished (see collector.max_open_runs)."""
        return self.ledger.dropped_runs

    def consuming(self) -> bool:
        """For /healthz: the consume loop runs (it ends only on stop or when Kafka or the store is lost)."""
        return tasks_running(self._consuming)

    async def start(self) -> None:
        self._consumer = group_consumer(self._bootstrap, self._settings.group_id, client_id=self._name)
        self._consumer.subscribe(
            self._topics, listener=RebalanceHooks(on_revoked=self._release, on_first_assignment=self._on_ready)
        )
        await self._consumer.start()
        self._consuming = asyncio.create_task(self._consume())

    async def stop(self) -> None:
        """Finish the batch in progress (its offsets committed), leave the group. Stopping twice does nothing more."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        try:
            if self._consuming is not None:
                await self._consuming
        finally:
            if self._consumer is not None:
                await self._consumer.stop()

    async def _consume(self) -> None:
        assert self._consumer is not None
        try:
            while not self._stopping.is_set():
                polled = await self._consumer.getmany(
                    timeout_ms=POLL_TIMEOUT_MS, max_records=self._settings.batch_max_records
                )
                if polled:
                    async with self._lock:
                        await self._take(polled)
        except Exception as error:
            # Kafka or the store is lost: the batch stays uncommitted, and the supervisor restarts us to read it again.
            log.error("%s stops: %r", self._name, error)
            self._on_fatal(error)

    async def _take(self, polled: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        """Apply a batch in one transaction, publish its rewards, then commit its offsets."""
        assert self._consumer is not None
        self.batches += 1
        deliveries = []
        for records in polled.values():
            for record in records:
                delivery = await self._inbox.decode_record(record, expect=(RunFinished, RunRejected, TurnRecorded))
                if delivery is not None:
                    deliveries.append(delivery)
        deliveries.sort(key=lambda delivery: not isinstance(delivery.event, TurnRecorded))  # stable: turns first
        rewards: list[tuple[Span, RewardAssigned]] = []
        async with self.ledger.batch():
            for delivery in deliveries:
                await self._apply(delivery, rewards)
        try:
            await self._publish(rewards)
        finally:
            for span, _ in rewards:
                span.end()
        offsets = {partition: records[-1].offset + 1 for partition, records in polled.items()}
        try:
            await self._consumer.commit(offsets)
        except KafkaError as error:
            # A partition moved meanwhile; its new owner reads these records again and finds them done.
            log.warning("%s could not commit %s: %s", self._name, offsets, error)
        self.records += sum(len(records) for records in polled.values())
        async with self.batch_done:
            self.batch_done.notify_all()

    async def _apply(self, delivery: Delivery, rewards: list[tuple[Span, RewardAssigned]]) -> None:
        event = delivery.event
        span = self._process_span(delivery) if isinstance(event, RunFinished) else None
        try:
            with self.ledger.one_input():
                assigned = await self._record(event)
        except Exception as error:  # one record's failure is that record's: dead-lettered, the batch goes on
            if span is not None:
                span.record_exception(error)
                span.end()
            await self._inbox.reject(delivery, error)
            return
        if span is not None and assigned is not None:
            rewards.append((span, assigned))

    async def _record(self, event: Event) -> RewardAssigned | None:
        match event:
            case TurnRecorded():
                await self.ledger.add_turn(event)
            case RunFinished():
                recorded_before = self.ledger.recorded_runs()
                assigned = await self.ledger.record_run(event, self._score)
                if self.ledger.recorded_runs() != recorded_before:
                    self.rollouts += 1
                    observe_reward(assigned)
                # Redelivered: the same RewardAssigned again (same event id), so consumers see it once.
                return msgspec.structs.replace(assigned, source=self._name)
        return None

    def _process_span(self, delivery: Delivery) -> Span:
        """The record's ``{topic} process`` span, a child of the trace it carries; its reward is sent in it."""
        return _tracer.start_span(
            f"{delivery.record.topic} process",
            context=context_from_headers(delivery.record.headers),
            kind=trace.SpanKind.CONSUMER,
            attributes={CONVERSATION_ID: delivery.event.run_id},
        )

    async def _publish(self, rewards: list[tuple[Span, RewardAssigned]]) -> None:
        """Send every reward in its run's span, then wait for all the acknowledgements together."""
        acknowledged = []
        for span, assigned in rewards:
            with trace.use_span(span):
                acknowledged.append(await self._publisher.send_all([assigned]))
        await asyncio.gather(*acknowledged)

    async def _release(self, revoked: set[TopicPartition]) -> None:
        """Partitions leave: the batch in progress finishes and commits first, while they are still ours."""
        async with self._lock:
            pass

    def _score(self, finished: RunFinished, turns: list[TurnRecorded]) -> RunTrace:
        return scored_trace(finished, turns, self._reward, self._checker)

"""The planner service: owns the state of the runs on its partitions and turns results into the next dispatches.

Inputs (RunRequested, TaskFinished) are co-partitioned by run id and read by one subscriber with the range
assignor, so the planner that owns partition p sees every input of the runs on p. An input is applied in memory
at once; a flusher then journals the changed runs, publishes what they emitted and commits the inputs' offsets,
in that order (group commit: inputs that arrive during a flush share the next one, and none waits for a timer).
When partitions are assigned, their runs are rebuilt from the journal; leases and retries resume on their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import KafkaError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from schemas import Policy, PolicyUpdated, RunRejected, RunRequested, TaskFinished
from services.planner.changes import Changes
from services.planner.core.errors import PlanError
from services.planner.core.run import RunState
from services.planner.core.scheduling import SchedulingConfig, choose_strategy
from services.planner.intake import Intake
from services.planner.runbook import RunBook, decode_journal, encode_journal
from services.planner.settings import PlannerSettings
from services.planner.synthesis import AnswerSynthesis
from streams.broker import consumer_options, raw_body
from streams.catalogue import PLANNER_JOURNAL, POLICY, RUNS_REQUESTED, TASKS_FINISHED, Catalogue
from streams.inbox import Inbox
from streams.outbox import EventPublisher, RawRecord
from streams.reading import read_latest_values
from streams.rebalance import RebalanceHooks

log = logging.getLogger(__name__)


class Planner:
    def __init__(
        self,
        broker: KafkaBroker,
        catalogue: Catalogue,
        *,
        bootstrap: str,
        settings: PlannerSettings,
        intake: Intake,
        synthesis: AnswerSynthesis,
        name: str,
        now: Callable[[], datetime],
        new_id: Callable[[], str],
        on_ready: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._catalogue = catalogue
        self._bootstrap = bootstrap
        self._intake = intake
        self._synthesis = synthesis
        self._name = name
        self._now = now
        self._new_id = new_id
        self._scheduling = SchedulingConfig(
            task_timeout_s=settings.task_timeout_s,
            lease_grace_s=settings.lease_grace_s,
            backoff_base_s=settings.backoff_base_s,
            backoff_max_s=settings.backoff_max_s,
            default_deadline_s=settings.default_deadline_s,
        )
        self.policy = Policy(
            max_parallelism=settings.max_parallelism,
            gap_threshold=settings.gap_threshold,
            max_attempts=settings.max_attempts,
        )
        self.runs = RunBook(settings.remember_finished)
        self._publisher = EventPublisher(broker, catalogue, source=name)
        self._inbox = Inbox(self._publisher, catalogue, consumer=name)
        self._journal_topic = catalogue.name(PLANNER_JOURNAL)
        self._pending = Changes()
        self._consumer: AIOKafkaConsumer | None = None
        self._flush_lock = asyncio.Lock()
        self._dirty = asyncio.Event()
        self._wake = asyncio.Event()
        self._loops: list[asyncio.Task[None]] = []

        broker.subscriber(
            catalogue.name(RUNS_REQUESTED),
            catalogue.name(TASKS_FINISHED),
            **consumer_options(settings.group_id, ack_policy=AckPolicy.MANUAL),
            listener=RebalanceHooks(on_assigned=self.restore, on_revoked=self.forget, on_first_assignment=on_ready),
            partition_assignment_strategy=(RangePartitionAssignor,),
        )(self.on_input)
        # Every planner reads the whole compacted policy topic, without a group: the newest policy wins.
        broker.subscriber(
            catalogue.name(POLICY), auto_offset_reset="earliest", decoder=raw_body, ack_policy=AckPolicy.ACK_FIRST
        )(self.on_policy)

    async def start(self) -> None:
        self._loops = [asyncio.create_task(self._flush_loop()), asyncio.create_task(self._tick_loop())]

    async def stop(self) -> None:
        for loop in self._loops:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loop
        await self.flush()

    async def on_input(self, body: bytes, message: KafkaMessage) -> None:
        self._consumer = message.consumer
        record = message.raw_message
        delivery = await self._inbox.decode(message, expect=(RunRequested, TaskFinished))
        if delivery is not None:
            try:
                await self._apply(delivery.event, record.partition)
            except Exception as error:
                await self._inbox.reject(delivery, error)
        self._pending.consumed(TopicPartition(record.topic, record.partition), record.offset)
        self._dirty.set()

    async def on_policy(self, body: bytes, message: KafkaMessage) -> None:
        await self._inbox.handle(message, self._adopt_policy, expect=(PolicyUpdated,))

    async def _adopt_policy(self, update: PolicyUpdated) -> None:
        if update.policy.version > self.policy.version:
            self.policy = update.policy
            log.info("%s applies policy v%d: %s", self._name, update.policy.version, update.policy)

    async def _apply(self, event: RunRequested | TaskFinished, partition: int) -> None:
        if isinstance(event, RunRequested):
            await self._start_run(event, partition)
            return
        state = self.runs.get(event.run_id)
        if state is None:
            log.debug(
                "%s ignores a result for run %s, which it does not hold (finished or unknown)", self._name, event.run_id
            )
            return
        before = len(state.history)
        emitted = state.on_task_finished(event, self._now())
        if len(state.history) > before:
            self._pending.record(state, emitted)
            self._wake.set()  # a retry may now be due before anything the ticker waits for

    async def _start_run(self, request: RunRequested, partition: int) -> None:
        if self.runs.known(request.run_id):
            return  # a redelivered request: the run already exists
        policy = self.policy
        try:
            parsed = await self._intake.plan(request, policy)
        except PlanError as error:
            rejection = RunRejected(
                run_id=request.run_id, reason=str(error), line=error.line, task_id=error.task_id, source=self._name
            )
            self._pending.events.append(rejection)
            return
        state, emitted = RunState.begin(
            request,
            parsed.plan,
            policy=policy,
            strategy=choose_strategy(parsed.plan, policy, request.strategy),
            config=self._scheduling,
            now=self._now(),
            new_id=self._new_id,
        )
        self.runs.hold(state, partition)
        self._pending.record(state, emitted)
        self._wake.set()

    async def flush(self) -> None:
        """Journal the changed runs, publish what they emitted (one round trip, journal records first), then
        commit the inputs. After a crash the journal may be ahead of what was published, and leases re-dispatch
        what was lost; it is never behind, so the planner never dispatches one attempt twice."""
        async with self._flush_lock:
            changes, self._pending = self._pending, Changes()
            if not changes:
                return
            # Encoded now: the handler may change these runs while the records are on their way.
            journals = [
                # A finished run's journal gets a tombstone: compaction then forgets it.
                RawRecord(
                    self._journal_topic, None if state.finished else encode_journal(state.history), run_id.encode()
                )
                for run_id, state in changes.states.items()
            ]
            finished = [run_id for run_id, state in changes.states.items() if state.finished]
            events = [await self._synthesis.apply(event) for event in changes.events if self._catalogue.carries(event)]
            await self._publisher.publish_all(events, raw=journals)
            for run_id in finished:
                self.runs.release(run_id)
            if changes.offsets and self._consumer is not None:
                try:
                    await self._consumer.commit(changes.offsets)
                except KafkaError as error:
                    # The partitions moved; their new owner re-reads these inputs and the journal dedupes them.
                    log.warning("%s could not commit %s: %s", self._name, changes.offsets, error)

    async def _flush_loop(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            await self.flush()

    async def _tick_loop(self) -> None:
        while True:
            wakeup = self.runs.next_wakeup()
            timeout = None if wakeup is None else max(0.0, (wakeup - self._now()).total_seconds())
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
            now = self._now()
            for state in list(self.runs.due(now)):
                if emitted := state.on_tick(now):
                    self._pending.record(state, emitted)
                    self._dirty.set()

    async def restore(self, assigned: set[TopicPartition]) -> None:
        """Rebuild the runs of newly assigned partitions from the journal (event sourcing)."""
        partitions = {tp.partition for tp in assigned}
        journals = await read_latest_values(
            self._bootstrap, [TopicPartition(self._journal_topic, partition) for partition in partitions]
        )
        restored = 0
        for partition, values in journals.items():
            for value in values.values():
                state = RunState.replay(decode_journal(value), new_id=self._new_id)
                if state.finished:
                    continue
                self.runs.hold(state, partition.partition)
                restored += 1
                # The journal may end just after a result was applied: decide again what it unlocks.
                if emitted := state.on_tick(self._now()):
                    self._pending.record(state, emitted)
        if restored:
            log.info("%s restored %d runs from the journal", self._name, restored)
        self._dirty.set()
        self._wake.set()

    async def forget(self, revoked: set[TopicPartition]) -> None:
        await self.flush()  # commit what was applied while the partitions were still ours
        self.runs.drop_partitions({tp.partition for tp in revoked})

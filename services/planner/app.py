"""The planner service: owns the state of the runs on its partitions and turns results into the next dispatches.

Inputs (RunRequested, TaskFinished) are co-partitioned by run id and read by one subscriber with the range
assignor, so the planner that owns partition p sees every input of the runs on p. Each change is written to the
journal, then published, then the input offset is committed (after the effect). When partitions are assigned,
their runs are rebuilt from the journal before any input is read; leases and retries then resume on their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

import msgspec
from aiokafka import TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from schemas import Event, Policy, PolicyUpdated, RunFinished, RunRejected, RunRequested, TaskFinished
from services.llm.chat import ChatClient, ChatError
from services.planner.core.errors import PlanError
from services.planner.core.run import RunState
from services.planner.core.scheduling import SchedulingConfig, choose_strategy
from services.planner.intake import Intake
from services.planner.runbook import RunBook, decode_journal, encode_journal
from services.planner.settings import PlannerSettings
from streams.broker import consumer_options, raw_body
from streams.catalogue import PLANNER_JOURNAL, POLICY, RUNS_REQUESTED, TASKS_FINISHED, Catalogue
from streams.inbox import Inbox
from streams.outbox import EventPublisher
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
        synthesizer: ChatClient | None,
        name: str,
        now: Callable[[], datetime],
        new_id: Callable[[], str],
        on_ready: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._broker = broker
        self._catalogue = catalogue
        self._bootstrap = bootstrap
        self._settings = settings
        self._intake = intake
        self._synthesizer = synthesizer
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
            max_parallelism=settings.max_parallelism, gap_threshold=settings.gap_threshold, max_attempts=settings.max_attempts
        )
        self.runs = RunBook(settings.remember_finished)
        self._publisher = EventPublisher(broker, catalogue, source=name)
        self._inbox = Inbox(self._publisher, catalogue, consumer=name)
        self._journal_topic = catalogue.name(PLANNER_JOURNAL)
        self._requests_topic = catalogue.name(RUNS_REQUESTED)
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._ticker: asyncio.Task[None] | None = None

        broker.subscriber(
            self._requests_topic,
            catalogue.name(TASKS_FINISHED),
            **consumer_options(settings.group_id),
            listener=RebalanceHooks(on_assigned=self.restore, on_revoked=self.forget, on_first_assignment=on_ready),
            partition_assignment_strategy=(RangePartitionAssignor,),
        )(self.on_input)
        # Every planner reads the whole compacted policy topic, without a group: the newest policy wins.
        broker.subscriber(
            catalogue.name(POLICY), auto_offset_reset="earliest", decoder=raw_body, ack_policy=AckPolicy.ACK_FIRST
        )(self.on_policy)

    async def start_ticking(self) -> None:
        self._ticker = asyncio.create_task(self._tick_loop())

    async def stop_ticking(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker

    async def on_input(self, body: bytes, message: KafkaMessage) -> None:
        partition = message.raw_message.partition
        await self._inbox.handle(message, lambda event: self._apply(event, partition), expect=(RunRequested, TaskFinished))

    async def on_policy(self, body: bytes, message: KafkaMessage) -> None:
        await self._inbox.handle(message, self._adopt_policy, expect=(PolicyUpdated,))

    async def _adopt_policy(self, update: PolicyUpdated) -> None:
        if update.policy.version > self.policy.version:
            self.policy = update.policy
            log.info("%s applies policy v%d: %s", self._name, update.policy.version, update.policy)

    async def _apply(self, event: RunRequested | TaskFinished, partition: int) -> None:
        if isinstance(event, RunRequested):
            await self._start(event, partition)
            return
        async with self._lock:
            state = self.runs.get(event.run_id)
            if state is None:
                log.debug("%s ignores a result for run %s, which it does not hold (finished or unknown)", self._name, event.run_id)
                return
            before = len(state.history)
            emitted = state.on_task_finished(event, self._now())
            if len(state.history) > before:
                await self._record(state, emitted)

    async def _start(self, request: RunRequested, partition: int) -> None:
        if self.runs.known(request.run_id):
            return  # a redelivered request: the run already exists
        policy = self.policy
        try:
            parsed = await self._intake.plan(request, policy)
        except PlanError as error:
            rejection = RunRejected(
                run_id=request.run_id, reason=str(error), line=error.line, task_id=error.task_id, source=self._name
            )
            await self._publisher.publish(rejection)
            return
        async with self._lock:
            strategy = choose_strategy(parsed.plan, policy, request.strategy)
            state, emitted = RunState.begin(
                request,
                parsed.plan,
                policy=policy,
                strategy=strategy,
                config=self._scheduling,
                now=self._now(),
                new_id=self._new_id,
            )
            self.runs.hold(state, partition)
            await self._record(state, emitted)
        self._wake.set()

    async def _record(self, state: RunState, emitted: list[Event]) -> None:
        """Journal first, then publish: after a crash the journal may be ahead of what was published, and the
        lease re-dispatches what was lost; it is never behind, so nothing is dispatched twice by the planner."""
        key = state.run_id.encode()
        if state.finished:
            emitted = [await self._synthesize(event) for event in emitted]
            await self._publisher.publish_raw(self._journal_topic, None, key=key, headers={})
        else:
            await self._publisher.publish_raw(self._journal_topic, encode_journal(state.history), key=key, headers={})
        await self._publisher.publish_all([event for event in emitted if self._catalogue.carries(event)])
        if state.finished:
            self.runs.release(state.run_id)

    async def _synthesize(self, event: Event) -> Event:
        if not (self._settings.synthesize_answer and self._synthesizer and isinstance(event, RunFinished)):
            return event
        if event.status not in ("succeeded", "partial"):
            return event
        prompt = (
            "Answer the request from these task results. Reply with the answer only.\n"
            f"Results: {msgspec.json.encode(event.observations).decode()}"
        )
        try:
            completion = await self._synthesizer.complete(prompt)
        except ChatError as error:
            log.warning("%s keeps the final task's result as the answer of %s: %s", self._name, event.run_id, error)
            return event
        return msgspec.structs.replace(event, answer=completion.text)

    async def _tick_loop(self) -> None:
        while True:
            wakeup = self.runs.next_wakeup()
            timeout = None if wakeup is None else max(0.0, (wakeup - self._now()).total_seconds())
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
            async with self._lock:
                now = self._now()
                for state in list(self.runs.due(now)):
                    emitted = state.on_tick(now)
                    if emitted:
                        await self._record(state, emitted)

    async def restore(self, assigned: set[TopicPartition]) -> None:
        """Rebuild the runs of newly assigned partitions from the journal (event sourcing)."""
        partitions = {tp.partition for tp in assigned}
        journals = await read_latest_values(
            self._bootstrap, [TopicPartition(self._journal_topic, partition) for partition in partitions]
        )
        restored = 0
        async with self._lock:
            for partition, values in journals.items():
                for value in values.values():
                    state = RunState.replay(decode_journal(value), new_id=self._new_id)
                    if state.finished:
                        continue
                    self.runs.hold(state, partition.partition)
                    restored += 1
                    # The journal may end just after a result was applied: decide again what it unlocks.
                    emitted = state.on_tick(self._now())
                    if emitted:
                        await self._record(state, emitted)
        if restored:
            log.info("%s restored %d runs from the journal", self._name, restored)
        self._wake.set()

    async def forget(self, revoked: set[TopicPartition]) -> None:
        self.runs.drop_partitions({tp.partition for tp in revoked})

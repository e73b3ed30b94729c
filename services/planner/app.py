"""The planner service: owns the state of the runs on its partitions and turns results into the next dispatches.

Inputs (RunRequested, RunCancelRequested, TaskStarted, TaskFinished) are co-partitioned by run id and read by one
subscriber with the range assignor, so the planner that owns partition p sees every input of the runs on p. An input
is applied in memory at once; a flusher then journals the changed runs, publishes what they emitted and commits the
inputs' offsets, all in one Kafka transaction per input partition (group commit: inputs that arrive during a flush
share the next one, and none waits for a timer). When partitions are assigned, their previous owner is fenced and
their runs are rebuilt from the committed journal; leases and retries resume on their own.

Nothing on the handler's or the flush's path waits on a model: planning a query, re-planning a task that failed for
good and writing an answer with the LLM are stages of their own (asyncio tasks), whose results come back as inputs
of the run they belong to. The flush and tick loops are supervised (services/runtime/loops.py): a failing step is
retried with backoff, a loop that keeps failing stops the process, and a loop that stalls or stops makes the planner
unhealthy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from datetime import datetime
from typing import Any

import msgspec
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import KafkaError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from opentelemetry import context as otel_context

from schemas import (
    Policy,
    PolicyUpdated,
    RunCancelRequested,
    RunFinished,
    RunRejected,
    RunRequested,
    TaskFinished,
    TaskReady,
    TaskStarted,
    TurnRecorded,
)
from schemas.plan import Plan
from services.planner.backlog import Backlog, sent_at
from services.planner.changes import Changes
from services.planner.core.errors import PlanError
from services.planner.core.journal import AnswerRequested, ReplanRequested
from services.planner.core.replan import failed_step
from services.planner.core.run import RunState
from services.planner.core.scheduling import SchedulingConfig, choose_strategy
from services.planner.dispatch import DirectDispatch
from services.planner.intake import Intake
from services.planner.metrics import PlannerTelemetry
from services.planner.outgoing import PartitionBatch, finished_marker
from services.planner.replanning import Replanning
from services.planner.runbook import RunBook, decode_journal, group_journal, replay_journal
from services.planner.settings import PlannerSettings
from services.planner.synthesis import AnswerSynthesis
from services.runtime.loops import SupervisedLoops
from streams.blobs import marker
from streams.broker import READ_COMMITTED, event_producer, group_consumer, raw_body
from streams.catalogue import PLANNER_FINISHED, PLANNER_JOURNAL, POLICY, RUNS_REQUESTED, TASKS_FINISHED, Catalogue
from streams.inbox import Inbox
from streams.outbox import EventPublisher, RawRecord, event_record
from streams.reading import read_latest_records
from streams.rebalance import RebalanceHooks
from streams.settings import KafkaSettings
from streams.tracing import RUN_TRACES, context_from_headers
from streams.transactions import OFFSETS_KEY, PartitionLost, PartitionTransactions, decode_offsets, key_partition

log = logging.getLogger(__name__)
BACKLOG_TICK_S = 0.05  # how often due runs are looked at while a take-over's backlog holds some of them back
OFFSET_REPORT_INTERVAL_S = 5.0


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
        on_fatal: Callable[[BaseException], None] | None = None,
        kafka: KafkaSettings | None = None,
    ) -> None:
        self._catalogue = catalogue
        self._bootstrap = bootstrap
        self._kafka = kafka or KafkaSettings()
        self._intake = intake
        self._synthesis = synthesis
        self._replanning = Replanning(intake, max_replans=settings.max_replans)
        self._name = name
        self._now = now
        self._new_id = new_id
        self._scheduling = SchedulingConfig(
            task_timeout_s=settings.task_timeout_s,
            lease_grace_s=settings.lease_grace_s,
            backoff_base_s=settings.backoff_base_s,
            backoff_max_s=settings.backoff_max_s,
            default_deadline_s=settings.default_deadline_s,
            start_timeout_s=settings.start_timeout_s,
            synthesis_timeout_s=settings.synthesis_timeout_s if synthesis.enabled else None,
            max_observation_bytes=settings.max_observation_bytes,
            max_replans=self._replanning.max_replans,
            replan_timeout_s=settings.replan_timeout_s,
        )
        self.policy = Policy(
            max_parallelism=settings.max_parallelism,
            gap_threshold=settings.gap_threshold,
            max_attempts=settings.max_attempts,
        )
        self.runs = RunBook(
            settings.remember_finished,
            snapshot_records=settings.journal_snapshot_records,
            max_record_bytes=self._kafka.max_message_bytes,
        )
        self._telemetry = PlannerTelemetry(runs_held=lambda: len(self.runs), policy_version=lambda: self.policy.version)
        self._policy_adopted = asyncio.Condition()  # notified when a newer policy takes over (wait_for_policy)
        self._publisher = EventPublisher(broker, catalogue, source=name)
        self._inbox = Inbox(self._publisher, catalogue, consumer=name)
        self._journal_topic = catalogue.name(PLANNER_JOURNAL)
        self._finished_topic = catalogue.name(PLANNER_FINISHED)
        self._restore_timeout_s = settings.restore_timeout_s
        # One Kafka transaction per input partition carries its journal records, events and input offsets.
        self._transactions = PartitionTransactions(
            self._kafka,
            bootstrap,
            transactional_prefix=settings.group_id,
            group_id=settings.group_id,
            client_id=name,
            transaction_timeout_ms=settings.transaction_timeout_ms,
            offsets_topic=self._journal_topic,
        )
        # With dispatch_guarantee at_least_once, dispatches skip the transactions (services/planner/dispatch.py).
        self._direct: DirectDispatch | None = None
        self._dispatch_directly = settings.dispatch_guarantee == "at_least_once"
        # Records a restore owes a partition's next transaction (tombstones of journals it dead-lettered).
        self._owed: dict[int, list[RawRecord]] = {}
        # Set while no partition is being taken over: inputs wait for their runs to be restored first.
        self._restored = asyncio.Event()
        self._backlog = Backlog()  # inputs that waited while a partition taken over had no owner
        self._rebalances = 0  # partitions revoked so far: a batch polled before a revocation is checked again
        self._on_fatal = on_fatal or _log_fatal
        self._requests_topic = catalogue.name(RUNS_REQUESTED)
        self._pending = Changes()
        self._in_flight: dict[int, asyncio.Task[None]] = {}  # input partition -> its transaction on its way
        self._failures: list[BaseException] = []
        # Input offsets committed by transactions and not yet reported to the group (for lag tools only).
        self._unreported: dict[TopicPartition, int] = {}
        self._report_at = 0.0
        self._consumer: AIOKafkaConsumer | None = None
        self._flush_lock = asyncio.Lock()
        self._dirty = asyncio.Event()
        self._wake = asyncio.Event()
        self.loops = SupervisedLoops(
            stall_s=settings.loop_stall_s,
            max_failures=settings.loop_max_failures,
            on_fatal=on_fatal or _log_fatal,
            backoff_base_s=settings.backoff_base_s,
            backoff_max_s=settings.backoff_max_s,
        )
        # The LLM stages in flight: plans being drafted (by run id) and answers being written.
        self._drafting: dict[str, asyncio.Task[None]] = {}
        self._drafting_on: dict[str, int] = {}  # run id -> the input partition of the plan being drafted
        # While a plan is drafted, its request's offset (and those after it) stay uncommitted: a crash redelivers
        # the request, and the inputs after it are deduplicated as every redelivery is.
        self._held: dict[int, int] = {}  # requests partition -> the newest offset consumed there
        self._stages: set[asyncio.Task[None]] = set()

        # Inputs are read in batches by a raw consumer (no per-message middleware): a batch is applied in memory and
        # its offsets are committed only inside the flush's transactions, never by the consumer.
        self._input_topics = (catalogue.name(RUNS_REQUESTED), catalogue.name(TASKS_FINISHED))
        self._consumer_options = {
            "group_id": settings.group_id,
            "client_id": name,
            "session_timeout_ms": settings.session_timeout_ms,
            "partition_assignment_strategy": (RangePartitionAssignor,),
        }
        self._max_poll_records = settings.max_poll_records
        self._on_ready = on_ready
        # Every planner reads the whole compacted policy topic, without a group: the newest policy wins.
        broker.subscriber(
            catalogue.name(POLICY),
            auto_offset_reset="earliest",
            decoder=raw_body,
            ack_policy=AckPolicy.ACK_FIRST,
            isolation_level=READ_COMMITTED,
        )(self.on_policy)

    async def start(self) -> None:
        consumer = group_consumer(self._bootstrap, **self._consumer_options)
        consumer.subscribe(
            self._input_topics,
            listener=RebalanceHooks(
                on_assigned=self.restore, on_revoked=self.forget, on_first_assignment=self._on_ready
            ),
        )
        self._consumer = consumer
        if self._dispatch_directly:
            self._direct = DirectDispatch(
                event_producer(self._kafka, self._bootstrap, client_id=f"{self._name}-dispatch"),
                self._catalogue,
                source=self._name,
                on_sent=lambda dispatch: self._telemetry.published([dispatch]),
                on_refused=self._dispatch_in_transaction,
            )
            await self._direct.start()
            self.loops.spawn("dispatch", self._dispatch_step)
        await consumer.start()
        self.loops.spawn("consume", self._consume_step)
        self.loops.spawn("flush", self._flush_step)
        self.loops.spawn("tick", self._tick_step)

    async def stop(self) -> None:
        await self.loops.stop()
        stages = [*self._stages, *self._drafting.values()]
        for stage in stages:
            stage.cancel()
        await asyncio.gather(*stages, return_exceptions=True)
        try:
            if self._direct is not None:
                await self._direct.stop()  # a dispatch it could not send goes in the last flush
            await self.flush()
        finally:
            try:
                if self._consumer is not None:
                    await self._consumer.stop()
            finally:
                await self._transactions.close()

    async def _consume_step(self) -> None:
        assert self._consumer is not None
        epoch = self._backlog.epoch
        polled = await self._consumer.getmany(
            timeout_ms=int(1000 * self.loops.beat_s), max_records=self._max_poll_records
        )
        if not polled and self._backlog.clear(polled_since=epoch):
            self._wake.set()  # nothing more waited: ticks of the runs taken over go on
        generation = self._rebalances
        for partition, records in polled.items():
            for record in records:
                # aiokafka fetches the records of newly assigned partitions while the rebalance listener (restore)
                # still runs, unlike the Java client: an input applied before its run is restored would be lost or
                # applied twice.
                if not self._restored.is_set():
                    await self._restored.wait()
                if generation != self._rebalances and partition not in self._consumer.assignment():
                    break  # revoked while this batch was applied: its new owner reads the rest
                await self.on_record(record)
        await self._send_dispatches()

    async def _dispatch_step(self) -> None:
        """Dispatches emitted outside the consume loop (ticks, LLM stages) are sent as soon as the loop is free."""
        assert self._direct is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._direct.queued.wait(), self.loops.beat_s)
        await self._send_dispatches()

    async def _send_dispatches(self) -> None:
        if self._direct is not None and self._direct.queued.is_set():
            await self._direct.send()

    def _dispatch_in_transaction(self, dispatch: TaskReady, error: BaseException) -> None:
        self._telemetry.dispatch_handed_back()
        self._pending.events.append(dispatch)
        self._dirty.set()

    async def on_record(self, record: ConsumerRecord) -> None:
        """Apply one input in memory; its journal, its effects and its offset go out with the next flush."""
        delivery = await self._inbox.decode_record(
            record, expect=(RunRequested, RunCancelRequested, TaskStarted, TaskFinished)
        )
        if delivery is not None:
            with self._trace_of(delivery.event, record):
                self._telemetry.applied(delivery.event)
                tp = TopicPartition(record.topic, record.partition)
                try:
                    await self._apply(delivery.event, record.partition, self._backlog.judged_at(tp, record.timestamp))
                except Exception as error:
                    await self._inbox.reject(delivery, error)
                if self._backlog.applied(tp, record.offset):
                    self._wake.set()
        if record.topic == self._requests_topic and record.partition in self._drafting_on.values():
            self._held[record.partition] = max(record.offset, self._held.get(record.partition, -1))
        else:
            self._pending.consumed(TopicPartition(record.topic, record.partition), record.offset)
        if delivery is None or not isinstance(delivery.event, TaskStarted):
            self._dirty.set()  # a start's offset and journal ride on the next flush (see _apply)

    @contextlib.contextmanager
    def _trace_of(self, event: object, record: ConsumerRecord) -> Iterator[None]:
        """Make the trace an input carries current where the planner needs it: a new run's span is a child of its
        request, and a run restored from the journal follows the trace its results carry."""
        run_id = getattr(event, "run_id", "")
        if not isinstance(event, RunRequested | TaskFinished) or run_id in RUN_TRACES:
            yield
            return
        token = otel_context.attach(context_from_headers(record.headers))
        try:
            yield
        finally:
            otel_context.detach(token)

    async def on_policy(self, body: bytes, message: KafkaMessage) -> None:
        await self._inbox.handle(message, self._adopt_policy, expect=(PolicyUpdated,))

    async def _adopt_policy(self, update: PolicyUpdated) -> None:
        if update.policy.version > self.policy.version:
            self.policy = update.policy
            log.info("%s applies policy v%d: %s", self._name, update.policy.version, update.policy)
            async with self._policy_adopted:
                self._policy_adopted.notify_all()

    async def wait_for_policy(self, version: int) -> Policy:
        """The policy runs planned from now on get, once it is ``version`` or newer (the version the heartbeat and
        the genesis_planner_policy_version gauge report); callers bound the wait."""
        async with self._policy_adopted:
            await self._policy_adopted.wait_for(lambda: self.policy.version >= version)
        return self.policy

    async def _apply(
        self,
        event: RunRequested | RunCancelRequested | TaskStarted | TaskFinished,
        partition: int,
        as_of: datetime | None = None,
    ) -> None:
        """``as_of``: the time the input's leases and deadline are judged at, when not now (services/planner/
        backlog.py)."""
        if isinstance(event, RunRequested):
            self._start_run(event, partition)
            return
        if isinstance(event, RunCancelRequested) and (draft := self._drafting.get(event.run_id)) is not None:
            draft.cancel()
            self._drafted(event.run_id)
            self._pending.events.append(_cancelled_while_planning(event, self._name))
            return
        state = self.runs.get(event.run_id)
        if state is None:
            log.debug(
                "%s ignores %s for run %s, which it does not hold (finished or unknown)",
                self._name,
                type(event).__name__,
                event.run_id,
            )
            return
        now, before = self._now(), len(state.history)
        if isinstance(event, RunCancelRequested):
            emitted = state.on_cancel(event, now)
        elif isinstance(event, TaskStarted):
            emitted = state.on_task_started(event, now, as_of=as_of)
        else:
            emitted = state.on_task_finished(with_result_marker(event), now, as_of=as_of)
        if len(state.history) > before:  # facts that change nothing (redeliveries, stale attempts) are not journaled
            # A start that unlocks nothing can wait for the next flush: a transaction of its own would hold back the
            # result that follows it (zero-latency tools finish within the same millisecond).
            self._record(state, emitted, urgent=not isinstance(event, TaskStarted) or bool(emitted))

    def _start_run(self, request: RunRequested, partition: int) -> None:
        if self.runs.known(request.run_id) or request.run_id in self._drafting:
            return  # a redelivered request: the run already exists
        policy = self.policy
        try:
            with self._telemetry.planning(request):  # the run's invoke_workflow span and the plan span
                parsed = self._intake.accept(request)
        except PlanError as error:
            self._reject(request, error)
            return
        if parsed is None:  # a query: the LLM drafts the plan in a stage of its own
            self._drafting[request.run_id] = asyncio.create_task(self._draft(request, policy, partition))
            self._drafting_on[request.run_id] = partition
            return
        self._begin(request, parsed.plan, policy, partition)

    async def _draft(self, request: RunRequested, policy: Policy, partition: int) -> None:
        try:
            with self._telemetry.planning(request):
                parsed = self._intake.accept_draft(request, await self._intake.draft(request, policy))
        except Exception as error:  # one request's failure ends that request, never the stage machinery
            problem = error if isinstance(error, PlanError) else PlanError(f"the LLM planner failed: {error!r}")
            if self._drafted(request.run_id):
                self._reject(request, problem)
            return
        finally:
            planning_tokens = self._record_planning_turns(request.run_id)
        if self._consumer is not None and TopicPartition(self._requests_topic, partition) not in (
            self._consumer.assignment()
        ):
            # The partition's new owner reads the request again (its offset was held back) and plans it itself.
            log.warning("%s drops the plan of run %s: its partition moved meanwhile", self._name, request.run_id)
            self._drafted(request.run_id, commit=False)
            return
        if self._drafted(request.run_id):  # False: cancelled while the model wrote
            self._begin(request, parsed.plan, policy, partition, planning_tokens=planning_tokens)

    def _record_planning_turns(self, run_id: str) -> int:
        """The model calls that wrote the plan are turns of the run (task "plan"), like the executors' model calls;
        returns their tokens, which the run counts."""
        return self._publish_turns(self._intake.take_planning_turns(run_id))

    def _publish_turns(self, turns: list[TurnRecorded]) -> int:
        """Publish a stage's model calls (planning, re-planning, the answer) as turns of their run with the next
        flush; returns their tokens, which the run counts."""
        if turns:
            self._pending.events.extend(msgspec.structs.replace(turn, source=self._name) for turn in turns)
            self._dirty.set()
        return sum(turn.input_tokens + turn.output_tokens for turn in turns)

    def _drafted(self, run_id: str, *, commit: bool = True) -> bool:
        """The draft of ``run_id`` is over; False when it was over already (cancelled). The last draft on its
        partition lets the offsets held back there be committed, with what the draft decided."""
        if self._drafting.pop(run_id, None) is None:
            return False
        partition = self._drafting_on.pop(run_id)
        if partition not in self._drafting_on.values() and (offset := self._held.pop(partition, None)) is not None:
            if commit:
                self._pending.consumed(TopicPartition(self._requests_topic, partition), offset)
                self._dirty.set()
        return True

    def _begin(
        self, request: RunRequested, plan: Plan, policy: Policy, partition: int, *, planning_tokens: int = 0
    ) -> None:
        state, emitted = RunState.begin(
            request,
            plan,
            policy=policy,
            strategy=choose_strategy(plan, policy, request.strategy),
            config=self._scheduling,
            now=self._now(),
            new_id=self._new_id,
            planning_tokens=planning_tokens,
        )
        self.runs.hold(state, partition)
        self._record(state, emitted)

    def _reject(self, request: RunRequested, error: PlanError) -> None:
        rejection = RunRejected(
            run_id=request.run_id, reason=str(error), line=error.line, task_id=error.task_id, source=self._name
        )
        self._pending.events.append(rejection)
        self._dirty.set()

    def _record(self, state: RunState, emitted: list, *, urgent: bool = True) -> None:
        """Queue the run's journal and what it emitted for the next flush (at once when ``urgent``, else with the
        next one or after a loop beat), and start the answer stage when the run asks for it. Dispatches go out at
        once instead when they are sent directly."""
        self._pending.record(state, self._direct.take(emitted) if self._direct is not None else emitted)
        if urgent:
            self._dirty.set()
        if self.runs.schedule(state):
            self._wake.set()  # a retry or lease is now due before anything the ticker waits for
        if any(isinstance(event, AnswerRequested) for event in emitted):
            self._start_synthesis(state.run_id)
        for event in emitted:
            if isinstance(event, ReplanRequested):
                self._start_stage(self._replan(state.run_id, event))

    def _resume_stages(self, state: RunState) -> None:
        """A restored run that was waiting for its answer gets it written again (the writer was lost with the
        planner that held the run); it still finishes at the time it was given if the model is slow."""
        if state.answer_due_at is not None and not state.finished:
            self._start_synthesis(state.run_id)
        for request in list(state.replans.waiting.values()):  # sub-plans asked for by the previous owner
            self._start_stage(self._replan(state.run_id, request))

    def _start_synthesis(self, run_id: str) -> None:
        stage = asyncio.create_task(self._synthesize(run_id))
        self._stages.add(stage)
        stage.add_done_callback(self._stages.discard)

    async def _synthesize(self, run_id: str) -> None:
        state = self.runs.get(run_id)
        if state is None:
            return
        results = {task_id: task.result for task_id, task in state.tasks.items() if task.status == "succeeded"}
        answer = await self._synthesis.write(run_id, results)
        tokens = self._publish_turns([answer.turn] if answer.turn is not None else [])
        if (state := self.runs.get(run_id)) is not None and (
            emitted := state.on_answer(answer.text, self._now(), tokens=tokens)
        ):
            self._record(state, emitted)

    def _start_stage(self, work: Coroutine[Any, Any, None]) -> None:
        stage = asyncio.create_task(work)
        self._stages.add(stage)
        stage.add_done_callback(self._stages.discard)

    async def _replan(self, run_id: str, request: ReplanRequested) -> None:
        """Ask the LLM for a sub-plan in place of the task that failed for good, and hand it to the run, which
        decides (services/planner/core/replan.py); the model's calls are turns of the run."""
        state = self.runs.get(run_id)
        if state is None:
            return
        proposal = await self._replanning.propose(run_id, failed_step(state, request.task_id), request.replan)
        tokens = self._publish_turns(proposal.turns)
        state = self.runs.get(run_id)
        now = self._now()
        if state is not None and (
            emitted := state.on_replan(request.task_id, proposal.plan, proposal.problem, now, tokens=tokens)
        ):
            self._record(state, emitted)

    async def flush(self) -> None:
        """Write what changed, per input partition, in one Kafka transaction each: the runs' journal records, what
        they emitted, a marker for each run that finished, and the offsets of the inputs applied. Either all of it
        is visible to read_committed readers or none is, so the journal never disagrees with what was dispatched and
        no attempt is dispatched twice. A partition whose transaction is fenced belongs to another planner now: its
        runs are dropped here, and the new owner redoes their inputs from its committed state. Waits for the
        transactions in flight, then writes everything pending; raises the first transaction that failed."""
        async with self._flush_lock:
            await self._flush_now()

    async def _flush_now(self) -> None:
        """The flush itself; the caller holds the flush lock."""
        self._failures = []  # earlier failures' changes were put back: this flush retries them and reports its own
        self._start_flushes()
        while self._in_flight:
            await asyncio.gather(*self._in_flight.values(), return_exceptions=True)
            if self._failures:
                break
            self._start_flushes()  # what arrived for those partitions while their transactions were on their way
        self._raise_failure()

    def _start_flushes(self) -> None:
        """Start a transaction for each partition with changes and none in flight (call with the flush lock held).
        Partitions pipeline independently: a partition's inputs wait only for its own transaction in flight, and
        those that arrive meanwhile share its next one (group commit)."""
        parts = self._pending.split(self._partition_of)
        self._pending = Changes()
        for partition in self._owed:
            parts.setdefault(partition, Changes())
        for partition, changes in parts.items():
            if partition in self._in_flight:
                self._pending.put_back(changes)
                continue
            batch = self._batch(partition, changes)
            if batch is None:
                continue
            flushing = asyncio.create_task(self._flush_partition(partition, batch, changes.inputs))
            self._in_flight[partition] = flushing
            flushing.add_done_callback(lambda _, partition=partition: self._flushed(partition))

    def _flushed(self, partition: int) -> None:
        self._in_flight.pop(partition, None)
        if self._pending:
            self._dirty.set()

    async def _flush_partition(self, partition: int, batch: PartitionBatch, inputs: int) -> None:
        began = time.perf_counter()
        try:
            await self._transactions.commit(partition, batch.records, batch.offsets)
        except PartitionLost as lost:
            log.warning("%s drops the runs of partition %d: %s", self._name, partition, lost)
            self.runs.drop_partitions({partition})
            return
        except Exception as error:  # nothing of it is visible: the next flush sends it again
            self._pending.put_back(batch.changes)
            self._owed[partition] = batch.owed + self._owed.get(partition, [])
            self._failures.append(error)
            self._dirty.set()
            return
        self._telemetry.flushed(time.perf_counter() - began, inputs=inputs)
        self._committed(batch)
        self._unreported.update(batch.offsets)

    def _raise_failure(self) -> None:
        if self._failures:
            failure, self._failures = self._failures[0], []
            raise failure

    def _batch(self, partition: int, changes: Changes) -> PartitionBatch | None:
        """What one partition's transaction writes. Journal records are encoded now: the handler may change these
        runs while the transaction is on its way."""
        batch = PartitionBatch()
        batch.owed = self._owed.pop(partition, [])
        batch.records.extend(batch.owed)
        for run_id, state in changes.states.items():
            batch.changes.states[run_id] = state
            if write := self.runs.journal_write(state):
                batch.writes.append(write)
                batch.records += [
                    RawRecord(self._journal_topic, value, key, partition=write.partition)
                    for key, value in write.records
                ]
            if state.finished:
                status = state.outcome.status if state.outcome is not None else None
                batch.records.append(
                    RawRecord(self._finished_topic, finished_marker(status), run_id.encode(), partition=partition)
                )
                batch.finished.append(run_id)
        for event in changes.events:
            batch.changes.events.append(event)
            if self._catalogue.carries(event):
                batch.events.append(event)
                batch.records.append(event_record(self._catalogue, event, source=self._name))
            if isinstance(event, RunFinished) and event.run_id not in changes.states:
                # Ended without a state (cancelled while planning): a repeated request is not run either. A rejected
                # request is not marked: sent again, it is rejected again, with the reason.
                key = event.run_id.encode()
                batch.records.append(
                    RawRecord(self._finished_topic, finished_marker(event.status), key, partition=partition)
                )
                batch.finished.append(event.run_id)
        batch.offsets.update(changes.offsets)
        batch.changes.offsets.update(changes.offsets)
        batch.changes.counts.update(changes.counts)
        return batch if batch.records or batch.offsets else None

    def _committed(self, batch: PartitionBatch) -> None:
        self._telemetry.published(batch.events)
        for write in batch.writes:
            self.runs.journaled(write)
        for run_id in batch.finished:
            self.runs.release(run_id)

    def _partition_of(self, run_id: str) -> int:
        """The input partition a run's events arrive on: where its state is held, else where its key hashes to
        (a run rejected or ended before it was held)."""
        partition = self.runs.partition_of(run_id)
        if partition is not None:
            return partition
        count = len(self._consumer.partitions_for_topic(self._requests_topic) or ()) if self._consumer else 0
        return key_partition(run_id.encode(), count) if count else 0

    async def _flush_step(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._dirty.wait(), self.loops.beat_s)
        self._dirty.clear()
        async with self._flush_lock:
            self._start_flushes()
        self._raise_failure()  # the changes were put back: the loop's retry sends them again

    async def _tick_step(self) -> None:
        wakeup = self.runs.next_wakeup()
        timeout = self.loops.beat_s
        if wakeup is not None:
            # While a backlog is read, the runs it holds stay due: wait a little between looks rather than spin.
            at_least = BACKLOG_TICK_S if self._backlog else 0.0
            timeout = min(timeout, max(at_least, (wakeup - self._now()).total_seconds()))
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)
        now, monotonic_now = self._now(), time.monotonic()
        for state in self.runs.due(now):
            partition = self.runs.partition_of(state.run_id)
            if partition is not None and self._backlog.holds(partition, monotonic_now):
                self.runs.schedule(state)  # judged by the clock once the inputs that waited are read
            elif emitted := state.on_tick(now):
                self._record(state, emitted)
            else:
                self.runs.schedule(state)
        await self._send_dispatches()
        if self._unreported and time.monotonic() >= self._report_at:
            await self._report_offsets()

    async def _report_offsets(self) -> None:
        """Tell the consumer group how far the committed transactions got, for lag tools (kafka-consumer-groups,
        dashboards). Never read back: the journaled offsets are the ones a take-over resumes from."""
        self._report_at = time.monotonic() + OFFSET_REPORT_INTERVAL_S
        assigned = self._consumer.assignment() if self._consumer is not None else set()
        offsets = {tp: offset for tp, offset in self._unreported.items() if tp in assigned}
        self._unreported = {}
        if not offsets or self._consumer is None:
            return
        try:
            await self._consumer.commit(offsets)
        except KafkaError as error:
            log.debug("%s could not report its offsets to the group (informational only): %r", self._name, error)

    async def restore(self, assigned: set[TopicPartition]) -> None:
        """Take newly assigned partitions over: fence their previous owner (its open transaction is aborted), then
        rebuild their runs from the committed journal and remember their finished runs (event sourcing). A journal
        that does not decode goes to the dead-letter topic and its run ends as failed; the others restore. Reading
        stops after ``restore_timeout_s``, and what was left unread is logged."""
        try:
            async with self._flush_lock:  # no flush may see a partition half taken over
                await self._take_over(sorted({tp.partition for tp in assigned}))
        except Exception as error:
            # Inputs stay held: applied without their runs, they would be committed as if done. A new process (the
            # supervisor restarts this one) takes the partitions over again.
            log.critical("%s could not take partitions over: %r", self._name, error)
            self._on_fatal(error)
            return
        self._restored.set()
        self._dirty.set()
        self._wake.set()

    async def _take_over(self, partitions: list[int]) -> None:
        if partitions:
            started = asyncio.get_running_loop().time()
            await self._transactions.claim(partitions)
            latest = await read_latest_records(
                self._bootstrap,
                [TopicPartition(topic, p) for topic in (self._journal_topic, self._finished_topic) for p in partitions],
                timeout_s=self._restore_timeout_s,
            )
            for tp, (position, end) in sorted(latest.unread.items()):
                log.error(
                    "%s stopped restoring %s[%d] at offset %d of %d (planner.restore_timeout_s = %.0f s): "
                    "runs journaled past it are not restored",
                    self._name,
                    tp.topic,
                    tp.partition,
                    position,
                    end,
                    self._restore_timeout_s,
                )
            restored = remembered = dead = 0
            for tp, records in latest.records.items():
                if tp.topic == self._finished_topic:
                    for key in records:
                        self.runs.release(key.decode("utf-8", "surrogateescape"))  # known from now on: not run again
                    remembered += len(records)
                    continue
                last_commit = None
                if (offsets := records.pop(OFFSETS_KEY, None)) is not None:
                    inputs = self._resume_inputs(tp.partition, offsets.value)
                    if inputs and self._consumer is not None:
                        ends = await self._consumer.end_offsets(list(inputs))
                        until = time.monotonic() + self._restore_timeout_s
                        if self._backlog.start(tp.partition, inputs, ends, until):
                            last_commit = sent_at(offsets.timestamp)
                values = {key: record.value for key, record in records.items()}
                for run_id, journal in group_journal(values).items():
                    try:
                        state, cursor = replay_journal(journal, new_id=self._new_id)
                    except Exception as error:
                        await self._dead_letter_journal(
                            run_id, tp.partition, [records[key] for _, key, _ in journal], error
                        )
                        dead += 1
                        continue
                    if state.finished:
                        continue
                    self.runs.hold(state, tp.partition, cursor)
                    self._resume_stages(state)
                    restored += 1
                    # The journal may end just after a result was applied: decide again what it unlocks, judging
                    # leases at the previous owner's last commit while the inputs that waited since are unread.
                    if emitted := state.on_tick(self._now(), as_of=last_commit):
                        self._record(state, emitted)
            log.info(
                "%s took partitions %s over in %.1f s: %d runs restored, %d finished runs remembered, "
                "%d journals dead-lettered",
                self._name,
                partitions,
                asyncio.get_running_loop().time() - started,
                restored,
                remembered,
                dead,
            )

    def _resume_inputs(self, partition: int, value: bytes | None) -> dict[TopicPartition, int]:
        """Read the partition's inputs on from the offsets its last transaction journaled (not from the group's
        committed offsets, which only serve lag tools). Offsets that do not decode are logged and ignored: the
        group's offsets, never ahead of them, are then used, and inputs read twice are deduplicated as always."""
        try:
            offsets = decode_offsets(value or b"")
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as error:
            log.error("%s ignores the journaled input offsets of partition %d: %s", self._name, partition, error)
            return {}
        inputs = {tp: offset for tp, offset in offsets.items() if tp.partition == partition}
        self._transactions.resume(partition, inputs)
        assigned = self._consumer.assignment() if self._consumer is not None else set()
        resumed = {tp: offset for tp, offset in inputs.items() if tp in assigned}
        for tp, offset in resumed.items():
            self._consumer.seek(tp, offset)
        return resumed

    async def _dead_letter_journal(self, run_id: str, partition: int, records: list, error: Exception) -> None:
        """Park a run's journal that cannot be replayed (the records that do not decode, or all of them when each
        does but together they do not replay), end the run as failed, and delete its journal in the partition's
        next transaction, so that the next restore does not meet it again."""
        bad = [record for record in records if not _decodes(record.value)] or records
        reason = f"journal of run {run_id} cannot be replayed: {type(error).__name__}: {error}"
        for record in bad:
            await self._inbox.dead_letter(record, record.value, reason)
        owed = self._owed.setdefault(partition, [])
        owed += [RawRecord(self._journal_topic, None, record.key, partition=partition) for record in records]
        self.runs.release(run_id)  # its RunFinished below also writes its finished marker
        self._pending.events.append(
            RunFinished(
                run_id=run_id,
                status="failed",
                reason=f"the planner could not restore the run: {reason} (the records are in the dead-letter topic)",
                source=self._name,
            )
        )

    async def forget(self, revoked: set[TopicPartition]) -> None:
        self._rebalances += 1
        self._restored.clear()  # a rebalance: inputs of the next assignment wait for its restore
        partitions = {tp.partition for tp in revoked}
        async with self._flush_lock:
            try:
                await self._flush_now()  # commit what was applied while the partitions were still ours
            except Exception as error:
                # Not committed: the partitions' next owner redoes those inputs from the committed journal.
                log.warning(
                    "%s could not flush before giving up partitions %s: %r", self._name, sorted(partitions), error
                )
            self.runs.drop_partitions(partitions)
            self._backlog.drop(partitions)
            await self._transactions.release(partitions)


def _decodes(value: bytes | None) -> bool:
    try:
        decode_journal(value or b"")
    except Exception:
        return False
    return True


def _cancelled_while_planning(request: RunCancelRequested, source: str) -> RunFinished:
    reason = f"cancelled while planning: {request.reason}" if request.reason else "cancelled while planning"
    return RunFinished(run_id=request.run_id, status="cancelled", reason=reason, source=source)


def _log_fatal(error: BaseException) -> None:
    # Without a way to end the process (tests), a loop that cannot go on leaves the planner unhealthy.
    log.critical("planner loop stopped for good: %s", error)


def with_result_marker(finished: TaskFinished) -> TaskFinished:
    """A result stored out of band (the executors' claim check) stands in the run as its marker: dependents get the
    marker in their arguments and the executor that runs them reads the blob back."""
    if finished.result_ref is None:
        return finished
    return msgspec.structs.replace(finished, result=marker(finished.result_ref))

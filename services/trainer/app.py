"""The trainer service: finished runs from Kafka become Agent Lightning rollouts, and each gets its reward.

It reads RunFinished and TurnRecorded (one consumer group of its own). Turns wait for their run; a RunFinished is
scored (the seed's reward), written to the LightningStore as a rollout with the run's spans and the reward, and
answered with RewardAssigned. Offsets are committed after that (the broker's default ack policy), so a crash
redelivers, and a redelivered RunFinished repeats the same RewardAssigned (same event id) instead of a second
rollout. RunRejected shares the topic and is passed over: nothing ran, so there is no trajectory to score.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from schemas.events import Event, RewardAssigned, RunFinished, RunRejected, TurnRecorded
from services.trainer.core.collection import RecordedRun, TraceAssembler
from services.trainer.core.reward import RewardConfig
from services.trainer.core.traces import scored_trace, turn_span
from services.trainer.core.trajectory import Checker
from services.trainer.lightning.store import RolloutLog
from services.trainer.settings import CollectorConfig
from streams.broker import consumer_options
from streams.catalogue import RUNS_FINISHED, TURNS, Catalogue
from streams.inbox import Inbox
from streams.outbox import EventPublisher
from streams.rebalance import RebalanceHooks


class TraceCollector:
    def __init__(
        self,
        broker: KafkaBroker,
        catalogue: Catalogue,
        *,
        log: RolloutLog,
        reward: RewardConfig,
        checker: Checker,
        settings: CollectorConfig,
        name: str,
        on_ready: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.log = log
        self._reward = reward
        self._checker = checker
        self._name = name
        self._publisher = EventPublisher(broker, catalogue, source=name)
        self._inbox = Inbox(self._publisher, catalogue, consumer=name)
        self._assembler = TraceAssembler(remember_runs=settings.remember_runs, max_open_runs=settings.max_open_runs)
        self.rollouts = 0
        broker.subscriber(
            catalogue.name(RUNS_FINISHED),
            catalogue.name(TURNS),
            **consumer_options(settings.group_id),
            listener=RebalanceHooks(on_first_assignment=on_ready),
        )(self.on_event)

    @property
    def runs_dropped(self) -> int:
        """Runs whose turns were given up waiting for their RunFinished (see collector.max_open_runs)."""
        return self._assembler.dropped_runs

    async def on_event(self, body: bytes, message: KafkaMessage) -> None:
        await self._inbox.handle(message, self._apply, expect=(RunFinished, RunRejected, TurnRecorded))

    async def _apply(self, event: Event) -> None:
        match event:
            case TurnRecorded():
                await self._on_turn(event)
            case RunFinished():
                await self._on_run_finished(event)

    async def _on_turn(self, turn: TurnRecorded) -> None:
        recorded = self._assembler.on_turn(turn)
        if recorded is not None:
            await self.log.add_turn(recorded.rollout_id, recorded.attempt_id, turn_span(turn))

    async def _on_run_finished(self, finished: RunFinished) -> None:
        turns = self._assembler.on_finished(finished)
        if isinstance(turns, RecordedRun):
            await self._publisher.publish(turns.reward)  # redelivered: the same answer again
            return
        trace = scored_trace(finished, turns, self._reward, self._checker)
        rollout_id, attempt_id = await self.log.record(trace)
        reward = trace.reward
        assigned = RewardAssigned(
            event_id=f"reward-{rollout_id}",
            run_id=finished.run_id,
            reward=reward.total,
            components=reward.components,
            rollout_id=rollout_id,
            source=self._name,
        )
        recorded = RecordedRun(rollout_id=rollout_id, attempt_id=attempt_id, reward=assigned)
        self._assembler.recorded(finished.run_id, recorded)
        self.rollouts += 1
        await self._publisher.publish(assigned)

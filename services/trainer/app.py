"""The trainer service: finished runs from Kafka become Agent Lightning rollouts, and each gets its reward.

It reads RunFinished and TurnRecorded (one consumer group of its own). Turns wait for their run; a RunFinished is
scored (the seed's reward), written to the durable LightningStore (SQLite) as a rollout with the run's spans and
the reward, and answered with RewardAssigned. Turns and rollouts are on disk before the offsets are committed
(after the handler, the broker's default ack policy), so a crash or restart redelivers, loses nothing, and a
redelivered RunFinished repeats the same RewardAssigned (same event id) instead of a second rollout.
RunRejected shares the topic and is passed over: nothing ran, so there is no trajectory to score.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import msgspec
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from schemas.events import Event, RunFinished, RunRejected, TurnRecorded
from services.trainer.core.reward import RewardConfig
from services.trainer.core.traces import RunTrace, scored_trace
from services.trainer.core.trajectory import Checker
from services.trainer.lightning.ledger import TrainerLedger
from services.trainer.metrics import observe_reward
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
        ledger: TrainerLedger,
        reward: RewardConfig,
        checker: Checker,
        settings: CollectorConfig,
        name: str,
        on_ready: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.ledger = ledger
        self._reward = reward
        self._checker = checker
        self._name = name
        self._publisher = EventPublisher(broker, catalogue, source=name)
        self._inbox = Inbox(self._publisher, catalogue, consumer=name)
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
        return self.ledger.dropped_runs

    async def on_event(self, body: bytes, message: KafkaMessage) -> None:
        await self._inbox.handle(message, self._apply, expect=(RunFinished, RunRejected, TurnRecorded))

    async def _apply(self, event: Event) -> None:
        match event:
            case TurnRecorded():
                await self.ledger.add_turn(event)
            case RunFinished():
                await self._on_run_finished(event)

    async def _on_run_finished(self, finished: RunFinished) -> None:
        recorded_before = self.ledger.recorded_runs()
        assigned = await self.ledger.record_run(finished, self._score)
        if self.ledger.recorded_runs() != recorded_before:
            self.rollouts += 1
            observe_reward(assigned)
        # Redelivered: the same RewardAssigned again (same event id), so consumers see it once.
        await self._publisher.publish(msgspec.structs.replace(assigned, source=self._name))

    def _score(self, finished: RunFinished, turns: list[TurnRecorded]) -> RunTrace:
        return scored_trace(finished, turns, self._reward, self._checker)

"""The planner and executors wired in-process against a real broker, with isolated topics, for end-to-end tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import msgspec
from faststream.kafka import KafkaBroker

from schemas import new_event_id, utc_now
from services.client import GenesisClient
from services.executor.app import Executor
from services.executor.settings import ExecutorSettings
from services.executor.tools import ToolError, ToolRegistry, ToolSettings, ToolSpec, build_registry
from services.llm.chat import ChatClient
from services.planner.app import Planner
from services.planner.intake import Intake
from services.planner.settings import PlannerSettings, intake_limits
from services.planner.synthesis import AnswerSynthesis
from streams.broker import make_broker
from streams.catalogue import Catalogue
from streams.settings import KafkaSettings

READY_TIMEOUT_S = 60
FAST_RETRIES = PlannerSettings(backoff_base_s=0.05, backoff_max_s=0.2, lease_grace_s=2.0, task_timeout_s=10.0)


def registry_with_failing_tools() -> ToolRegistry:
    """The built-in tools without simulated latency, plus tools that fail on purpose."""
    registry = build_registry(ToolSettings(kb_latency_s=0.0), entry_point_group=None)
    calls: dict[str, int] = {}

    async def always_fails(reason: str = "the service is down") -> Any:
        raise ToolError(reason)

    async def fails_first(key: str) -> str:
        calls[key] = calls.get(key, 0) + 1
        if calls[key] == 1:
            raise ToolError("transient failure")
        return f"{key} after {calls[key]} calls"

    registry.register(ToolSpec(name="always_fails", fn=always_fails))
    registry.register(ToolSpec(name="fails_first", fn=fails_first))
    return registry


class System:
    def __init__(
        self,
        bootstrap: str,
        catalogue: Catalogue,
        *,
        executors: int,
        planner_settings: PlannerSettings,
        executor_settings: ExecutorSettings | None = None,
        chat: ChatClient | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.catalogue = catalogue
        self._executor_settings = executor_settings or ExecutorSettings()
        # The planner's LLM (query planning, answer synthesis with planner_settings.synthesize_answer).
        self._chat = chat
        self.registry = registry_with_failing_tools()
        # Groups of their own: a test never shares a consumer group with another test's services.
        self._planner_settings = msgspec.structs.replace(planner_settings, group_id=f"{catalogue.prefix}-planner")
        self._executor_count = executors
        self._brokers: list[KafkaBroker] = []
        self.executors: list[Executor] = []
        self.planner: Planner | None = None
        self._planner_broker: KafkaBroker | None = None

    def _broker(self, client_id: str) -> KafkaBroker:
        return make_broker(KafkaSettings(), self.bootstrap, client_id=client_id)

    async def start_planner(self, on_fatal: Callable[[BaseException], None] | None = None) -> Planner:
        ready = asyncio.Event()

        async def on_ready() -> None:
            ready.set()

        broker = self._broker("planner")
        planner = Planner(
            broker,
            self.catalogue,
            bootstrap=self.bootstrap,
            settings=self._planner_settings,
            intake=Intake(
                known_tools=self.registry.names(),
                signatures=self.registry.signatures(),
                limits=intake_limits(self._planner_settings),
                chat=self._chat,
                prompt_template="{user_query}",
            ),
            synthesis=AnswerSynthesis(self._chat, enabled=self._planner_settings.synthesize_answer),
            name="planner",
            now=utc_now,
            new_id=new_event_id,
            on_ready=on_ready,
            on_fatal=on_fatal,
        )
        await broker.start()
        await planner.start()
        await asyncio.wait_for(ready.wait(), READY_TIMEOUT_S)
        self.planner, self._planner_broker = planner, broker
        return planner

    async def stop_planner(self) -> None:
        assert self.planner is not None and self._planner_broker is not None
        await self.planner.stop()
        await self._planner_broker.stop()
        self.planner = self._planner_broker = None

    async def start_executors(self) -> None:
        ready = [asyncio.Event() for _ in range(self._executor_count)]
        for number, event in enumerate(ready, start=1):
            broker = self._broker(f"executor-{number}")
            executor = Executor(
                broker,
                self.catalogue,
                self.registry,
                msgspec.structs.replace(self._executor_settings, group_id=f"{self.catalogue.prefix}-executors"),
                bootstrap=self.bootstrap,
                name=f"executor-{number}",
                now=utc_now,
                on_fatal=lambda error: None,
                on_ready=_setter(event),
            )
            await broker.start()
            self._brokers.append(broker)
            await executor.start()
            self.executors.append(executor)
        await asyncio.wait_for(asyncio.gather(*(event.wait() for event in ready)), READY_TIMEOUT_S)

    async def stop(self) -> None:
        if self.planner is not None:
            await self.stop_planner()
        await asyncio.gather(*(executor.stop() for executor in self.executors))
        for broker in self._brokers:
            await broker.stop()


def _setter(event: asyncio.Event):
    async def set_event() -> None:
        event.set()

    return set_event


@contextlib.asynccontextmanager
async def running_system(
    bootstrap: str,
    catalogue: Catalogue,
    *,
    executors: int = 2,
    planner_settings: PlannerSettings = FAST_RETRIES,
    executor_settings: ExecutorSettings | None = None,
    chat: ChatClient | None = None,
) -> AsyncIterator[tuple[System, GenesisClient]]:
    system = System(
        bootstrap,
        catalogue,
        executors=executors,
        planner_settings=planner_settings,
        executor_settings=executor_settings,
        chat=chat,
    )
    try:
        await system.start_planner()
        await system.start_executors()
        async with GenesisClient(bootstrap, catalogue, KafkaSettings()) as client:
            yield system, client
    finally:
        await system.stop()

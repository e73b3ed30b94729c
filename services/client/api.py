"""A small asyncio client for producers and consumers of Genesis runs.

    async with GenesisClient.connect() as client:
        outcome = await client.run(plan_text=open("plan.txt").read(), timeout_s=60)
        print(outcome.status, outcome.answer)

Results are read from the results topic without a consumer group: the client takes every partition and starts
at its end *before* it submits, so a result can never be published before the client is listening for it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from aiokafka import AIOKafkaClient, AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaConnectionError, KafkaError

from deploy.local_kafka import load_local_kafka_settings
from schemas import (
    Plan,
    RunCancelRequested,
    RunFinished,
    RunRejected,
    RunRequested,
    UndecodableEvent,
    UnknownEvent,
    decode_event,
    new_event_id,
)
from schemas.events import Strategy
from streams.broker import make_broker
from streams.catalogue import RUNS_FINISHED, Catalogue
from streams.connection import KafkaEndpoint, bootstrap_servers, check_login, client_options
from streams.outbox import EventPublisher
from streams.reading import groupless_consumer, topic_partitions
from streams.settings import KafkaSettings, load_kafka_settings

RunOutcome = RunFinished | RunRejected
# Connecting to a broker that is down fails at once; one that does not answer (a dropped route) would otherwise
# hold the client for the request timeout, 30 s and more.
CONNECT_TIMEOUT_S = 10.0


class KafkaUnreachable(ConnectionError):
    """No broker answered at the bootstrap address within the connect timeout."""

    def __init__(self, bootstrap: str, cause: str) -> None:
        super().__init__(f"cannot reach Kafka at {bootstrap}: {cause}")
        self.bootstrap = bootstrap


class GenesisClient:
    def __init__(
        self,
        bootstrap: str,
        catalogue: Catalogue,
        settings: KafkaSettings,
        *,
        client_id: str = "genesis-client",
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
    ) -> None:
        self._connect_timeout_s = connect_timeout_s
        self._broker = make_broker(settings, bootstrap, client_id=client_id)
        self._publisher = EventPublisher(self._broker, catalogue, source=client_id)
        self._results_topic = catalogue.name(RUNS_FINISHED)
        # The raw readers below connect with the same security settings as the broker above.
        self._bootstrap = bootstrap if isinstance(bootstrap, KafkaEndpoint) else KafkaEndpoint(bootstrap, settings)
        self._consumer: AIOKafkaConsumer | None = None
        self._reader: asyncio.Task[None] | None = None
        self._resources = contextlib.AsyncExitStack()
        self._waiters: dict[str, asyncio.Future[RunOutcome]] = {}
        self._streams: list[asyncio.Queue[RunOutcome]] = []

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(
        cls, settings: KafkaSettings | None = None, *, connect_timeout_s: float = CONNECT_TIMEOUT_S
    ) -> AsyncIterator[GenesisClient]:
        """Connect, or raise KafkaUnreachable within ``connect_timeout_s``."""
        settings = settings or load_kafka_settings()
        address = bootstrap_servers(settings, load_local_kafka_settings())
        client = cls(address, Catalogue(settings.topic_prefix), settings, connect_timeout_s=connect_timeout_s)
        async with client:
            yield client

    async def __aenter__(self) -> GenesisClient:
        try:
            async with asyncio.timeout(self._connect_timeout_s):
                return await self._start()
        except (KafkaConnectionError, TimeoutError) as error:
            await self._resources.aclose()
            cause = str(error) or f"no answer within {self._connect_timeout_s:g} s"
            raise KafkaUnreachable(self._bootstrap, cause) from None
        except BaseException:
            await self._resources.aclose()
            raise

    async def _start(self) -> GenesisClient:
        await check_login(self._bootstrap)  # a refused login raises KafkaLoginError, one line, not "unreachable"
        await _probe(self._bootstrap)
        await self._resources.enter_async_context(self._broker)
        assigned = await topic_partitions(self._bootstrap, self._results_topic)
        consumer = await self._resources.enter_async_context(groupless_consumer(self._bootstrap))
        consumer.assign(assigned)
        await consumer.seek_to_end(*assigned)
        for partition in assigned:
            await consumer.position(partition)  # fixes the start before anything is submitted
        self._consumer = consumer
        self._reader = asyncio.create_task(self._read_results())
        self._resources.push_async_callback(self._stop_reader)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._resources.aclose()

    async def _stop_reader(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def submit(
        self,
        *,
        plan_text: str | None = None,
        plan: Plan | None = None,
        query: str | None = None,
        expected_answer: str | None = None,
        deadline_s: float | None = None,
        strategy: Strategy = "auto",
        labels: dict[str, str] | None = None,
        run_id: str | None = None,
        allowed_tools: list[str] | None = None,
    ) -> str:
        """Publish a RunRequested and return its run id (the result arrives on the results topic)."""
        if plan_text is None and plan is None and query is None:
            raise ValueError("submit needs one of plan_text, plan or query")
        request = RunRequested(
            run_id=run_id or new_event_id(),
            plan=plan,
            plan_text=plan_text,
            query=query,
            expected_answer=expected_answer,
            deadline_s=deadline_s,
            strategy=strategy,
            labels=labels or {},
            allowed_tools=allowed_tools,
            source=self._publisher.source,
        )
        self._waiters.setdefault(request.run_id, asyncio.get_running_loop().create_future())
        await self._publisher.publish(request)
        return request.run_id

    async def cancel(self, run_id: str, *, reason: str = "") -> None:
        """Ask the planner to end the run as cancelled (tasks not started are skipped); its RunFinished says so.
        A run that has finished already keeps its outcome."""
        self._waiters.setdefault(run_id, asyncio.get_running_loop().create_future())
        await self._publisher.publish(RunCancelRequested(run_id=run_id, reason=reason, source=self._publisher.source))

    async def wait(self, run_id: str, *, timeout_s: float = 120.0) -> RunOutcome:
        """The run's outcome; raises TimeoutError after ``timeout_s``."""
        future = self._waiters.setdefault(run_id, asyncio.get_running_loop().create_future())
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout_s)
        finally:
            if future.done():
                self._waiters.pop(run_id, None)

    async def group_members(self, group_id: str) -> int:
        """How many consumers are in ``group_id`` now (0 when the group is empty or unknown)."""
        admin = AIOKafkaAdminClient(**client_options(self._bootstrap))
        await admin.start()
        try:
            responses = await admin.describe_consumer_groups([group_id])
        except KafkaError:
            return 0
        finally:
            await admin.close()
        # DescribeGroups answers (error_code, group_id, state, protocol_type, protocol, members, ...) per group.
        return sum(len(group[5]) for response in responses for group in response.groups if group[1] == group_id)

    async def run(self, *, timeout_s: float = 120.0, **request: Any) -> RunOutcome:
        return await self.wait(await self.submit(**request), timeout_s=timeout_s)

    async def results(self) -> AsyncIterator[RunOutcome]:
        """Every outcome published after the client connected, as it arrives."""
        queue: asyncio.Queue[RunOutcome] = asyncio.Queue()
        self._streams.append(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._streams.remove(queue)

    async def _read_results(self) -> None:
        assert self._consumer is not None
        async for record in self._consumer:
            try:
                event = decode_event(record.value or b"")
            except UndecodableEvent:
                continue  # not ours to dead-letter: the client only reads
            if isinstance(event, UnknownEvent) or not isinstance(event, RunFinished | RunRejected):
                continue
            future = self._waiters.get(event.run_id)
            if future is not None and not future.done():
                future.set_result(event)
            for queue in self._streams:
                queue.put_nowait(event)


async def _probe(bootstrap: str) -> None:
    """Raise KafkaConnectionError unless a broker answers. Checked first, because a FastStream broker that cannot
    connect leaves its producer open (and warned about at exit)."""
    client = AIOKafkaClient(**client_options(bootstrap))
    try:
        await client.bootstrap()
    finally:
        await client.close()


def outcome_as_dict(outcome: RunOutcome) -> dict[str, Any]:
    """The outcome as `genesis submit --json` prints it: RunFinished's content, or a rejection in the same shape."""
    if isinstance(outcome, RunRejected):
        return {
            "run_id": outcome.run_id,
            "status": "rejected",
            "answer": None,
            "observations": {},
            "metrics": {},
            "reason": outcome.reason,
            "line": outcome.line,
            "task_id": outcome.task_id,
        }
    document = msgspec.to_builtins(outcome)
    for envelope_field in ("type", "event_id", "source"):
        document.pop(envelope_field, None)
    return document

"""One console process: the web server, the live feed from Kafka, and (under `genesis up`) its health file."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import uvicorn

from schemas import utc_now
from services.client import GenesisClient
from services.console.app import Console, SubmitFailed, build_app
from services.console.core.board import Board
from services.console.core.plans import PlanRules
from services.console.feed import LiveFeed
from services.console.hub import Hub
from services.console.settings import ConsoleSettings
from services.console.warehouse import WarehouseViews
from services.runtime.health import Heartbeat
from services.warehouse.preparing import build_scrubber
from services.warehouse.settings import WarehouseSettings
from streams.catalogue import Catalogue
from streams.settings import KafkaSettings

log = logging.getLogger(__name__)
SHUTDOWN_GRACE_S = 2


class ConsoleService:
    def __init__(
        self,
        settings: ConsoleSettings,
        *,
        bootstrap: str,
        catalogue: Catalogue,
        kafka: KafkaSettings,
        warehouse: WarehouseSettings,
        rules: PlanRules,
        heartbeat: Heartbeat | None = None,
    ) -> None:
        self.settings = settings
        self._bootstrap = bootstrap
        self._catalogue = catalogue
        self._kafka = kafka
        self._heartbeat = heartbeat
        board, hub = Board(settings.keep_finished), Hub()
        self.feed = LiveFeed(
            bootstrap,
            catalogue,
            board,
            hub,
            build_scrubber(warehouse.scrub_pii),
            lookback_s=settings.lookback_s,
            batch_wait_ms=settings.feed_batch_wait_ms,
            now=utc_now,
        )
        self.console = Console(
            board=board,
            hub=hub,
            warehouse=WarehouseViews(warehouse, max_rows=settings.sql_max_rows, timeout_s=settings.sql_timeout_s),
            rules=rules,
            submit=self.submit,
            now=utc_now,
            feed_status=lambda: self.feed.status,
        )
        self.app = build_app(self.console)
        self.port: int | None = None
        self._server: uvicorn.Server | None = None

    async def submit(self, **request: object) -> str:
        """Publish a RunRequested through the client library; SubmitFailed when Kafka does not answer in time."""
        try:
            async with asyncio.timeout(self.settings.submit_timeout_s):
                async with GenesisClient(
                    self._bootstrap, self._catalogue, self._kafka, client_id="genesis-console"
                ) as c:
                    return await c.submit(**request)  # type: ignore[arg-type]
        except TimeoutError:
            raise SubmitFailed(
                f"Kafka at {self._bootstrap} did not answer within {self.settings.submit_timeout_s:g} s; "
                "is the stack up (`genesis up`)?"
            ) from None
        except Exception as error:  # the client's connection errors, whatever their type: one line for the page
            raise SubmitFailed(f"could not submit through Kafka at {self._bootstrap}: {error}") from None

    async def run(self, on_ready: Callable[[str], None] | None = None) -> None:
        """Serve until stopped (SIGINT or SIGTERM end uvicorn's loop; the feed stops with it)."""
        config = uvicorn.Config(
            self.app,
            host=self.settings.host,
            port=self.settings.port,
            log_level="warning",
            lifespan="off",
            # Open pages hold event streams that never end by themselves: on stop they get this long, then close.
            timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
        )
        self._server = server = uvicorn.Server(config)
        feed = asyncio.create_task(self.feed.run())
        serving = asyncio.create_task(server.serve())
        try:
            while not server.started:
                if serving.done():
                    await serving  # bind failed: uvicorn has logged why
                    raise SystemExit(f"console: could not serve on {self.settings.host}:{self.settings.port}")
                await asyncio.sleep(0.05)
            self.port = server.servers[0].sockets[0].getsockname()[1]
            log.info("console at %s", self.url)
            if on_ready is not None:
                on_ready(self.url)
            if self._heartbeat is not None:
                self._heartbeat.detail["url"] = self.url
                self._heartbeat.report(lambda: {"feed": self.feed.status, "events": self.feed.events})
                await self._heartbeat.start()
            await serving
        finally:
            feed.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feed
            if self._heartbeat is not None:
                await self._heartbeat.stop()

    @property
    def url(self) -> str:
        return f"http://{self.settings.host}:{self.port}/"

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True

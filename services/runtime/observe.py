"""One call in each service's bootstrap: traces for the process, and /metrics + /healthz for its lifetime."""

from __future__ import annotations

from faststream import FastStream
from faststream.kafka import KafkaBroker

from services.runtime.health import Heartbeat
from services.runtime.metrics import MetricsPortInUse, MetricsServer, health_report
from services.runtime.service import ServiceContext, StartRefused
from services.runtime.telemetry import configure_tracing, load_telemetry_settings, shutdown_tracing


def observe(app: FastStream, context: ServiceContext, *, service: str, metrics_port: int) -> None:
    """Configure tracing now (before any span is made) and serve metrics from start-up to shutdown.

    ``service`` names the configuration section that holds ``metrics_port`` (planner, executor, ...).
    """
    settings = load_telemetry_settings()
    provider = configure_tracing(settings, service=service, instance=context.name)
    heartbeat = context.heartbeat
    watch_subscribers(heartbeat, context.broker)
    server = MetricsServer(
        host=settings.metrics_host,
        port=metrics_port,
        health=lambda: health_report(heartbeat, unhealthy_after_s=context.runtime.unhealthy_after_s),
        setting=f"{service}.metrics_port (GENESIS_{service.upper()}_METRICS_PORT)",
    )

    async def start() -> None:
        try:
            server.start()
        except MetricsPortInUse as error:
            raise StartRefused(f"{context.name} refuses to start: {error}") from None
        heartbeat.metrics_url = server.url

    async def stop() -> None:
        server.stop()
        shutdown_tracing(provider)

    app.on_startup(start)
    app.after_shutdown(stop)  # after the service's own shutdown, whose last spans are exported too


def watch_subscribers(heartbeat: Heartbeat, broker: KafkaBroker) -> None:
    """A subscriber whose consume loop ended reads nothing more: the service no longer does its job."""
    heartbeat.watch("kafka subscribers", lambda: all(subscriber.running for subscriber in broker.subscribers))

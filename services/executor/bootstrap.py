"""Wires one executor process from its configuration (read once, here)."""

from __future__ import annotations

from faststream import FastStream

from schemas import utc_now
from services.executor import metrics as executor_metrics
from services.executor.app import Executor
from services.executor.core.limits import check_fits
from services.executor.settings import load_executor_settings
from services.executor.tools import build_registry, load_tool_settings
from services.llm.settings import load_llm_settings
from services.runtime.collector import freeze_startup_objects, watch_pauses
from services.runtime.observe import observe
from services.runtime.service import ServiceContext


def build(name: str) -> FastStream:
    context = ServiceContext.create(name)
    tools = load_tool_settings()
    limits = tools.limits()
    check_fits(limits, context.kafka.max_message_bytes)
    settings = load_executor_settings()
    app = FastStream(context.broker)
    observe(app, context, service="executor", metrics_port=settings.metrics_port)
    executor = Executor(
        context.broker,
        context.catalogue,
        build_registry(tools, llm=load_llm_settings()),
        settings,
        bootstrap=context.bootstrap,
        kafka=context.kafka,
        name=context.instance,
        now=utc_now,
        on_fatal=lambda error: app.exit(),
        on_ready=context.heartbeat.start,
        limits=limits,
        blobs=tools.open_blobs(),
    )
    context.heartbeat.report(executor.stats)
    context.heartbeat.watch("consume loop", executor.consuming)
    executor_metrics.watch(executor)

    app.on_startup(context.ensure_topics)
    app.after_startup(executor.start)
    app.after_startup(tune_garbage_collection)
    app.on_shutdown(executor.stop)  # before the broker stops: a dead letter may still go out while tasks drain
    app.on_shutdown(context.heartbeat.stop)
    return app


async def tune_garbage_collection() -> None:
    """Each attempt allocates a few dozen short-lived container objects (its task, coroutines, futures, span) that
    reference counting frees; the cyclic collector, run every 700 allocations by default, took about a fifth of the
    executor's CPU under load (py-spy --native: gc_collect_main). See services/runtime/collector.py."""
    freeze_startup_objects()
    watch_pauses()

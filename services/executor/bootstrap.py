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
        name=context.instance,
        now=utc_now,
        on_fatal=lambda error: app.exit(),
        on_ready=context.heartbeat.start,
        limits=limits,
        blobs=tools.open_blobs(),
    )
    context.heartbeat.report(executor.stats)
    executor_metrics.watch(executor)

    app.on_startup(context.ensure_topics)
    app.on_shutdown(executor.drain)
    app.on_shutdown(context.heartbeat.stop)
    return app

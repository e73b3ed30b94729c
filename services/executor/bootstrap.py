"""Wires one executor process from its configuration (read once, here)."""

from __future__ import annotations

from faststream import FastStream

from schemas import utc_now
from services.executor.app import Executor
from services.executor.settings import load_executor_settings
from services.executor.tools import build_registry, load_tool_settings
from services.llm.settings import load_llm_settings
from services.runtime.service import ServiceContext


def build(name: str) -> FastStream:
    context = ServiceContext.create(name)
    app = FastStream(context.broker)
    executor = Executor(
        context.broker,
        context.catalogue,
        build_registry(load_tool_settings(), llm=load_llm_settings()),
        load_executor_settings(),
        name=context.instance,
        now=utc_now,
        on_fatal=lambda error: app.exit(),
        on_ready=context.heartbeat.start,
    )
    context.heartbeat.report(lambda: {"in_flight": executor.in_flight, "handled": executor.handled})

    app.on_startup(context.ensure_topics)
    app.on_shutdown(executor.drain)
    app.on_shutdown(context.heartbeat.stop)
    return app

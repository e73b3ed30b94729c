"""Wires one warehouse process from its configuration (read once, here)."""

from __future__ import annotations

from faststream import FastStream

from services.runtime.observe import observe
from services.runtime.service import ServiceContext
from services.warehouse import metrics as warehouse_metrics
from services.warehouse.app import Warehouse
from services.warehouse.preparing import Preparer, ProcessPreparer, ThreadPreparer, build_scrubber
from services.warehouse.settings import WarehouseSettings, load_warehouse_settings
from services.warehouse.store import WarehouseStore
from services.warehouse.tuning import tune_process_for_ingest
from services.warehouse.writer import BatchWriter
from streams.inbox import Inbox
from streams.outbox import EventPublisher


def build_preparer(settings: WarehouseSettings) -> Preparer:
    if settings.prepare_in_process:
        return ProcessPreparer(scrub_pii=settings.scrub_pii)
    return ThreadPreparer(build_scrubber(settings.scrub_pii))


def build(name: str) -> FastStream:
    context = ServiceContext.create(name)
    settings = load_warehouse_settings()
    tune_process_for_ingest()
    store = WarehouseStore.open(
        settings.database_path, checkpoint_threshold=settings.checkpoint_threshold, timeout_s=settings.open_timeout_s
    )
    app = FastStream(context.broker)
    warehouse = Warehouse(
        bootstrap=context.bootstrap,
        catalogue=context.catalogue,
        settings=settings,
        store=store,
        writer=BatchWriter(store, build_preparer(settings)),
        # The broker only publishes: dead letters, with the reason and origin in their headers.
        inbox=Inbox(
            EventPublisher(context.broker, context.catalogue, source=context.instance),
            context.catalogue,
            consumer=context.instance,
        ),
        name=context.instance,
        on_fatal=lambda error: app.exit(),
        on_ready=context.heartbeat.start,
    )
    context.heartbeat.report(warehouse.figures)
    observe(app, context, service="warehouse", metrics_port=settings.metrics_port)
    context.heartbeat.watch("consume and snapshot loops", warehouse.loops_running)
    warehouse_metrics.watch(warehouse)
    app.on_startup(context.ensure_topics)
    app.after_startup(warehouse.start)
    app.on_shutdown(warehouse.stop)
    app.on_shutdown(context.heartbeat.stop)
    return app

"""Wires one warehouse process from its configuration (read once, here)."""

from __future__ import annotations

from faststream import FastStream

from services.curator.bootstrap import build_detector
from services.curator.settings import load_curator_settings
from services.runtime.service import ServiceContext
from services.warehouse.app import Warehouse
from services.warehouse.core.scrubbing import KeepText, TextScrubber
from services.warehouse.settings import WarehouseSettings, load_warehouse_settings
from services.warehouse.store import WarehouseStore
from services.warehouse.writer import BatchWriter, tune_process_for_ingest
from streams.inbox import Inbox
from streams.outbox import EventPublisher


def build_scrubber(settings: WarehouseSettings) -> TextScrubber | KeepText:
    # The curator's detector, with the curator's phone regions: one definition of personal data for the project.
    return TextScrubber(build_detector(load_curator_settings()).scrub) if settings.scrub_pii else KeepText()


def build(name: str) -> FastStream:
    context = ServiceContext.create(name)
    settings = load_warehouse_settings()
    scrubber = build_scrubber(settings)
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
        writer=BatchWriter(store, scrubber),
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
    context.heartbeat.report(lambda: {**warehouse.figures(), "pii_replaced": scrubber.replaced})
    app.on_startup(context.ensure_topics)
    app.after_startup(warehouse.start)
    app.on_shutdown(warehouse.stop)
    app.on_shutdown(context.heartbeat.stop)
    return app

"""Wires the trainer service from its configuration (read once, here): `genesis serve trainer`."""

from __future__ import annotations

from pathlib import Path

from faststream import FastStream

from services.runtime.observe import observe
from services.runtime.service import ServiceContext
from services.trainer import metrics as trainer_metrics
from services.trainer.app import TraceCollector
from services.trainer.checkers import load_checker
from services.trainer.lightning.ledger import TrainerLedger
from services.trainer.lightning.sqlite_store import SqliteLightningStore
from services.trainer.settings import load_trainer_config, load_trainer_service_settings


def build(name: str) -> FastStream:
    context = ServiceContext.create(name)
    config = load_trainer_config()
    app = FastStream(context.broker)
    collector = TraceCollector(
        context.broker,
        context.catalogue,
        bootstrap=context.bootstrap,
        ledger=TrainerLedger(
            SqliteLightningStore(Path(config.collector.store_path)),
            remember_runs=config.collector.remember_runs,
            max_open_runs=config.collector.max_open_runs,
        ),
        reward=config.reward,
        checker=load_checker(config.reward.checker),
        settings=config.collector,
        name=context.instance,
        on_fatal=lambda error: app.exit(),
        on_ready=context.heartbeat.start,
    )
    context.heartbeat.report(
        lambda: {"rollouts": collector.rollouts, "runs_dropped": collector.runs_dropped, "batches": collector.batches}
    )
    context.heartbeat.watch("consume loop", collector.consuming)
    observe(app, context, service="trainer", metrics_port=load_trainer_service_settings().metrics_port)
    trainer_metrics.watch(collector)
    app.on_startup(context.ensure_topics)
    app.after_startup(collector.start)
    app.on_shutdown(collector.stop)  # before the broker stops: the last batch's rewards still go out
    app.on_shutdown(context.heartbeat.stop)
    return app

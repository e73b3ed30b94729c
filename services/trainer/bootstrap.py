"""Wires the trainer service from its configuration (read once, here): `genesis serve trainer`."""

from __future__ import annotations

from faststream import FastStream

from services.runtime.service import ServiceContext
from services.trainer.app import TraceCollector
from services.trainer.checkers import load_checker
from services.trainer.lightning.store import RolloutLog, make_store
from services.trainer.settings import load_trainer_config


def build(name: str) -> FastStream:
    context = ServiceContext.create(name)
    config = load_trainer_config()
    collector = TraceCollector(
        context.broker,
        context.catalogue,
        log=RolloutLog(make_store(config.store)),
        reward=config.reward,
        checker=load_checker(config.reward.checker),
        settings=config.collector,
        name=context.instance,
        on_ready=context.heartbeat.start,
    )
    context.heartbeat.report(lambda: {"rollouts": collector.rollouts, "runs_dropped": collector.runs_dropped})
    app = FastStream(context.broker)
    app.on_startup(context.ensure_topics)
    app.on_shutdown(context.heartbeat.stop)
    return app

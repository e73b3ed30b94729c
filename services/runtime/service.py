"""What every service process shares: its Kafka connection, its health file, and a clean stop on SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
from dataclasses import dataclass

from faststream import FastStream
from faststream.kafka import KafkaBroker

from deploy.local_kafka import load_local_kafka_settings
from services.runtime.health import Heartbeat
from services.runtime.settings import RuntimeSettings, load_runtime_settings
from streams.admin import ensure_topics
from streams.broker import make_broker
from streams.catalogue import Catalogue
from streams.connection import KafkaLoginError, bootstrap_servers, check_login, replication_factor
from streams.settings import KafkaSettings, load_kafka_settings


@dataclass
class ServiceContext:
    """Built once per process from the configuration: the pieces a service's app is wired from."""

    name: str
    instance: str
    kafka: KafkaSettings
    runtime: RuntimeSettings
    bootstrap: str
    replication_factor: int
    catalogue: Catalogue
    broker: KafkaBroker
    heartbeat: Heartbeat

    @classmethod
    def create(cls, name: str) -> ServiceContext:
        kafka = load_kafka_settings()
        runtime = load_runtime_settings()
        local = load_local_kafka_settings()
        address = bootstrap_servers(kafka, local)
        instance = f"{name}@{socket.gethostname()}:{os.getpid()}"
        return cls(
            name=name,
            instance=instance,
            kafka=kafka,
            runtime=runtime,
            bootstrap=address,
            replication_factor=replication_factor(kafka, local),
            catalogue=Catalogue(kafka.topic_prefix),
            broker=make_broker(kafka, address, client_id=instance),
            heartbeat=Heartbeat(runtime.run_dir, name, runtime.heartbeat_interval_s),
        )

    async def ensure_topics(self) -> None:
        # A refused login says so in one line here, rather than as the admin client's "Unable to bootstrap".
        await check_login(self.bootstrap)
        await ensure_topics(
            self.bootstrap,
            self.catalogue,
            replication_factor=self.replication_factor,
            max_message_bytes=self.kafka.max_message_bytes,
            min_insync_replicas=self.kafka.min_insync_replicas,
        )


def run_service(app: FastStream) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    try:
        asyncio.run(app.run())
    except KafkaLoginError as error:
        logging.getLogger("genesis").error("%s", error)
        sys.exit(2)
    except BaseException as error:
        refused = _refusal_in(error)
        if refused is None:
            raise
        logging.getLogger("genesis").critical("%s", refused)  # one line, no traceback: the message says it all
        sys.exit(2)


class StartRefused(RuntimeError):
    """A start-up check failed: the service must not run against this cluster; the message says why and what to do."""


def _refusal_in(error: BaseException) -> StartRefused | None:
    # FastStream runs start-up hooks in a task group, so the refusal may come wrapped in exception groups.
    if isinstance(error, StartRefused):
        return error
    for inner in getattr(error, "exceptions", ()):
        if (found := _refusal_in(inner)) is not None:
            return found
    return None

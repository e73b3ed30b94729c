"""What every service process shares: its Kafka connection, its health file, and a clean stop on SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from dataclasses import dataclass

from faststream import FastStream
from faststream.kafka import KafkaBroker

from deploy.local_kafka import load_local_kafka_settings
from services.runtime.health import Heartbeat
from services.runtime.settings import RuntimeSettings, load_runtime_settings
from streams.admin import ensure_topics
from streams.broker import make_broker
from streams.catalogue import Catalogue
from streams.connection import bootstrap_servers
from streams.settings import KafkaSettings, load_kafka_settings


@dataclass
class ServiceContext:
    """Built once per process from the configuration: the pieces a service's app is wired from."""

    name: str
    instance: str
    kafka: KafkaSettings
    runtime: RuntimeSettings
    bootstrap: str
    catalogue: Catalogue
    broker: KafkaBroker
    heartbeat: Heartbeat

    @classmethod
    def create(cls, name: str) -> ServiceContext:
        kafka = load_kafka_settings()
        runtime = load_runtime_settings()
        address = bootstrap_servers(kafka, load_local_kafka_settings())
        instance = f"{name}@{socket.gethostname()}:{os.getpid()}"
        return cls(
            name=name,
            instance=instance,
            kafka=kafka,
            runtime=runtime,
            bootstrap=address,
            catalogue=Catalogue(kafka.topic_prefix),
            broker=make_broker(kafka, address, client_id=instance),
            heartbeat=Heartbeat(runtime.run_dir, name, runtime.heartbeat_interval_s),
        )

    async def ensure_topics(self) -> None:
        await ensure_topics(self.bootstrap, self.catalogue, replication_factor=self.kafka.replication_factor)


def run_service(app: FastStream) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    asyncio.run(app.run())

"""Where the tests' Kafka comes from: a configured cluster, else a Docker container, else the local launcher."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from deploy.local_kafka import LocalKafka, LocalKafkaSettings, load_local_kafka_settings
from streams.settings import load_kafka_settings


@contextmanager
def real_kafka(data_dir: Path) -> Iterator[str]:
    configured = load_kafka_settings().bootstrap_servers
    if configured:
        yield configured
        return
    if _docker_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer("apache/kafka:4.1.1").with_kraft() as container:
            yield container.get_bootstrap_server()
        return
    # Fresh storage and free ports: tests never touch a developer's own broker.
    defaults = load_local_kafka_settings()
    settings = LocalKafkaSettings(
        port=_free_port(),
        controller_port=_free_port(),
        heap=defaults.heap,
        version=defaults.version,
        cache_dir=defaults.cache_dir,
        data_dir=str(data_dir),
    )
    broker = LocalKafka(settings)
    broker.up()
    try:
        yield settings.bootstrap_servers
    finally:
        broker.down()


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
    except Exception:
        return False
    return True


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]

"""Where the tests' Kafka comes from: a configured cluster, else a Docker container, else the local launcher.

Brokers the launcher starts for tests live under pytest's temporary folder, with their process records
(``broker-N.pid``: pid, start time, command line): CI's exit trap stops exactly those (deploy/processes.py).
"""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from deploy.local_kafka import PORT_STRIDE, LocalKafka, LocalKafkaSettings, load_local_kafka_settings
from streams.settings import load_kafka_settings

# Heap per broker JVM for a test cluster: three of them must fit beside the services on a CI machine.
CLUSTER_HEAP = "320m"


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
    with local_kafka(data_dir) as broker:
        yield broker.settings.bootstrap_servers


@contextmanager
def local_kafka(data_dir: Path, *, nodes: int = 1, sasl: bool = False, heap: str | None = None) -> Iterator[LocalKafka]:
    """A broker (or a cluster of ``nodes``) of the test's own: fresh storage and free ports, stopped afterwards."""
    defaults = load_local_kafka_settings()
    port = free_port_block(nodes)
    settings = LocalKafkaSettings(
        port=port,
        controller_port=port + 1,
        heap=heap or (defaults.heap if nodes == 1 else CLUSTER_HEAP),
        version=defaults.version,
        cache_dir=defaults.cache_dir,
        data_dir=str(data_dir),
        nodes=nodes,
        sasl=sasl,
    )
    broker = LocalKafka(settings)
    broker.up()
    try:
        yield broker
    finally:
        broker.down()


def free_port_block(nodes: int) -> int:
    """A port P such that P, P+1 and the same two at each node's stride are free on 127.0.0.1."""
    for _ in range(200):
        base = random.randrange(20_000, 60_000)
        ports = [base + offset + PORT_STRIDE * n for n in range(nodes) for offset in (0, 1)]
        if all(_is_free(port) for port in ports):
            return base
    raise RuntimeError("no free block of ports on 127.0.0.1 for a test broker")


def _is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
    except Exception:
        return False
    return True

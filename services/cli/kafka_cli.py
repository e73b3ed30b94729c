"""genesis kafka up | down | status | topics: the local broker and the topic catalogue."""

from __future__ import annotations

import asyncio
import time

import msgspec
import typer

from configs.settings import Secret
from deploy.local_kafka import (
    Credentials,
    LocalKafka,
    LocalKafkaError,
    LocalKafkaSettings,
    load_local_kafka_settings,
    wait_until_ready,
)
from services.cli.console import console, fail
from streams.admin import ensure_topics
from streams.catalogue import Catalogue
from streams.connection import (
    KafkaEndpoint,
    KafkaLoginError,
    KafkaSecurityError,
    bootstrap_servers,
    check_login,
    replication_factor,
    security_options,
    uses_local_broker,
)
from streams.settings import KafkaSettings, load_kafka_settings

app = typer.Typer(help="Run a local Apache Kafka broker (no Docker) and create the topics.", no_args_is_help=True)


@app.command()
def up(
    nodes: int = typer.Option(None, "--nodes", min=1, help="Brokers: 3 starts a KRaft cluster (local_kafka.nodes)."),
    sasl: bool = typer.Option(None, "--sasl/--no-sasl", help="A SASL/PLAIN listener (local_kafka.sasl)."),
    reset: bool = typer.Option(False, "--reset", help="Delete the local broker's data and start empty."),
) -> None:
    """Start the local broker or cluster (idempotent) and create the catalogue's topics."""
    kafka = load_kafka_settings()
    local = load_local_kafka_settings()
    if nodes is not None or sasl is not None:
        local = msgspec.structs.replace(
            local, nodes=local.nodes if nodes is None else nodes, sasl=local.sasl if sasl is None else sasl
        )
    address = bootstrap_servers(kafka, local)
    started = time.monotonic()
    try:
        if uses_local_broker(kafka):
            broker = LocalKafka(local)
            if reset and any(local.data_path.glob("k[0-9]*")):
                console.print(f"deleting the local Kafka data in {local.data_path} (--reset)")
            status = broker.up(reset=reset)
            pids = ", ".join(str(pid) for pid in status.pids.values())
            console.print(f"Kafka {status.version} answers on {address} (pid {pids}, data {status.data_dir})")
            _print_client_settings(local, status.credentials)
            # Topics are created with the launcher's own credentials: this shell may not have them yet.
            address = KafkaEndpoint(address, _with_credentials(kafka, status.credentials))
        else:
            asyncio.run(check_login(address))
            wait_until_ready(address, local.start_timeout_s, options=security_options(kafka))
            console.print(f"Using the configured cluster at {address}; nothing to start")
    except (LocalKafkaError, KafkaSecurityError, KafkaLoginError) as error:
        fail(str(error))
    created = asyncio.run(
        ensure_topics(
            address,
            Catalogue(kafka.topic_prefix),
            replication_factor=replication_factor(kafka, local),
            max_message_bytes=kafka.max_message_bytes,
            min_insync_replicas=kafka.min_insync_replicas,
        )
    )
    console.print(f"ready in {time.monotonic() - started:.1f} s; topics created: {len(created)}")


@app.command()
def down() -> None:
    """Stop the local broker by its recorded pid."""
    stopped = LocalKafka(load_local_kafka_settings()).down()
    console.print("local Kafka stopped" if stopped else "local Kafka was not running")


@app.command()
def status() -> None:
    """Show whether the local broker runs, with its pid and address."""
    kafka = load_kafka_settings()
    if not uses_local_broker(kafka):
        console.print(f"configured cluster: {kafka.bootstrap_servers} (KAFKA_BOOTSTRAP_SERVERS)")
        return
    state = LocalKafka(load_local_kafka_settings()).status()
    if state.running:
        pids = ", ".join(str(pid) for pid in state.pids.values())
        console.print(f"running: Kafka {state.version} on {state.bootstrap_servers}, pid {pids}, data {state.data_dir}")
    else:
        console.print(f"not running (data {state.data_dir}); start it with: genesis kafka up")
        raise typer.Exit(3)


@app.command()
def topics() -> None:
    """Create the catalogue's topics that do not exist yet (safe to run again)."""
    kafka = load_kafka_settings()
    local = load_local_kafka_settings()
    address = bootstrap_servers(kafka, local)
    catalogue = Catalogue(kafka.topic_prefix)
    try:
        asyncio.run(check_login(address))
    except (KafkaSecurityError, KafkaLoginError) as error:
        fail(str(error))
    created = asyncio.run(
        ensure_topics(
            address,
            catalogue,
            replication_factor=replication_factor(kafka, local),
            max_message_bytes=kafka.max_message_bytes,
            min_insync_replicas=kafka.min_insync_replicas,
        )
    )
    for name in catalogue.names():
        console.print(f"{'created' if name in created else 'exists '}  {name}")


def _print_client_settings(local: LocalKafkaSettings, credentials: Credentials | None) -> None:
    """What the services must be told when this command's flags differ from the configuration they read."""
    configured = load_local_kafka_settings()
    lines = []
    if local.nodes != configured.nodes:
        lines.append(f"export GENESIS_LOCAL_KAFKA_NODES={local.nodes}")
    if credentials is not None:
        lines.append(f"set -a; . {local.data_path / 'credentials.env'}; set +a   # the SASL user and its password")
    if lines:
        console.print("for the services and the CLI:\n  " + "\n  ".join(lines), highlight=False)


def _with_credentials(kafka: KafkaSettings, credentials: Credentials | None) -> KafkaSettings:
    if credentials is None:
        return kafka
    return msgspec.structs.replace(
        kafka,
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="PLAIN",
        sasl_username=credentials.username,
        sasl_password=Secret(credentials.password),
    )

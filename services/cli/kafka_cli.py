"""genesis kafka up | down | status | topics: the local broker and the topic catalogue."""

from __future__ import annotations

import asyncio
import time

import typer

from deploy.local_kafka import LocalKafka, LocalKafkaError, load_local_kafka_settings, wait_until_ready
from services.cli.console import console, fail
from streams.admin import ensure_topics
from streams.catalogue import Catalogue
from streams.connection import bootstrap_servers, uses_local_broker
from streams.settings import load_kafka_settings

app = typer.Typer(help="Run a local Apache Kafka broker (no Docker) and create the topics.", no_args_is_help=True)


@app.command()
def up() -> None:
    """Start the local broker (idempotent) and create the catalogue's topics."""
    kafka = load_kafka_settings()
    local = load_local_kafka_settings()
    address = bootstrap_servers(kafka, local)
    started = time.monotonic()
    try:
        if uses_local_broker(kafka):
            status = LocalKafka(local).up()
            console.print(f"Kafka {status.version} answers on {address} (pid {status.pid}, data {status.data_dir})")
        else:
            wait_until_ready(address, local.start_timeout_s)
            console.print(f"Using the configured cluster at {address}; nothing to start")
    except LocalKafkaError as error:
        fail(str(error))
    created = asyncio.run(
        ensure_topics(address, Catalogue(kafka.topic_prefix), replication_factor=kafka.replication_factor)
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
        console.print(
            f"running: Kafka {state.version} on {state.bootstrap_servers}, pid {state.pid}, data {state.data_dir}"
        )
    else:
        console.print(f"not running (data {state.data_dir}); start it with: genesis kafka up")
        raise typer.Exit(3)


@app.command()
def topics() -> None:
    """Create the catalogue's topics that do not exist yet (safe to run again)."""
    kafka = load_kafka_settings()
    address = bootstrap_servers(kafka, load_local_kafka_settings())
    catalogue = Catalogue(kafka.topic_prefix)
    created = asyncio.run(ensure_topics(address, catalogue, replication_factor=kafka.replication_factor))
    for name in catalogue.names():
        console.print(f"{'created' if name in created else 'exists '}  {name}")

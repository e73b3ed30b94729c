"""genesis dlq list | show | replay: the dead-letter topic, where consumers park what they could not use.

streams/inbox.py writes each record's original bytes and key, with headers naming why (``reason``), who
(``consumer``) and where it came from (``topic``, ``partition``, ``offset``). Replay publishes the bytes and key
unchanged to the original topic (after the cause is fixed), marked with a ``replayed-from`` header.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

import typer
from aiokafka import AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaConnectionError

from deploy.local_kafka import load_local_kafka_settings
from services.cli.console import console, fail, print_json, table
from services.client import KafkaUnreachable
from streams.catalogue import DEAD_LETTERS, Catalogue
from streams.connection import bootstrap_servers, client_options
from streams.reading import MissingTopic, groupless_consumer, topic_partitions
from streams.settings import load_kafka_settings

app = typer.Typer(
    help="The dead-letter topic: list, show and replay what consumers could not use.", no_args_is_help=True
)

CONNECT_TIMEOUT_S = 10.0
REPLAYED_FROM = "replayed-from"
T = TypeVar("T")


@dataclass(frozen=True)
class DeadLetter:
    """One record of the dead-letter topic; ``id`` is ``partition:offset`` (what show and replay take)."""

    id: str
    timestamp_ms: int
    key: bytes | None
    reason: str
    consumer: str
    topic: str
    partition: str
    offset: str
    value: bytes | None

    @property
    def origin(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"

    def as_dict(self, *, with_value: bool) -> dict:
        document = asdict(self)
        document.pop("value")
        document["key"] = self.key.decode(errors="backslashreplace") if self.key is not None else None
        if with_value:
            document["value"] = _readable(self.value)
        return document


def dead_letter_from(record: ConsumerRecord) -> DeadLetter:
    headers = {name: value.decode(errors="replace") for name, value in record.headers or ()}
    return DeadLetter(
        id=f"{record.partition}:{record.offset}",
        timestamp_ms=record.timestamp,
        key=record.key,
        reason=headers.get("reason", ""),
        consumer=headers.get("consumer", ""),
        topic=headers.get("topic", ""),
        partition=headers.get("partition", ""),
        offset=headers.get("offset", ""),
        value=record.value,
    )


@app.command("list")
def list_dead_letters(
    limit: int = typer.Option(50, "--limit", "-n", min=1, help="The newest N records."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array (without the records' bytes)."),
) -> None:
    """The newest dead letters: id, when, where they came from, which consumer parked them and why."""
    letters = _read()[-limit:]
    if as_json:
        print_json([letter.as_dict(with_value=False) for letter in letters])
        return
    if not letters:
        console.print("the dead-letter topic is empty")
        return
    shown = table("id", "origin", "consumer", "reason", whole=("id",))
    for letter in letters:
        shown.add_row(letter.id, letter.origin, letter.consumer, letter.reason)
    console.print(shown)


@app.command()
def show(
    letter_id: str = typer.Argument(..., help="The record's id from `genesis dlq list` (partition:offset, or offset)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """One dead letter in full: its headers, key and the original bytes (as JSON when they are JSON)."""
    letter = _find(_read(), [letter_id])[0]
    document = letter.as_dict(with_value=True)
    if as_json:
        print_json(document)
        return
    for name, value in document.items():
        if name != "value":
            console.print(f"[bold]{name}:[/] {value}", highlight=False)
    console.print("[bold]value:[/]")
    if isinstance(document["value"], str):  # not JSON: the bytes as text, escapes for what is not UTF-8
        console.print(document["value"], highlight=False, markup=False)
    else:
        console.print_json(data=document["value"])


@app.command()
def replay(
    letter_ids: list[str] = typer.Argument(None, help="Ids from `genesis dlq list`; none with --all."),
    replay_all: bool = typer.Option(False, "--all", help="Replay every record of the dead-letter topic."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Publish dead letters again, unchanged, to the topics they came from (fix the cause first)."""
    if bool(letter_ids) == replay_all:
        fail("give the ids to replay, or --all", code=2)
    letters = _read()
    chosen = letters if replay_all else _find(letters, letter_ids)
    if unroutable := [letter.id for letter in chosen if not letter.topic]:
        fail(f"dead letters {', '.join(unroutable)} have no topic header; cannot tell where they came from", code=2)
    if not chosen:
        console.print("nothing to replay")
        return
    if not yes and not typer.confirm(f"replay {len(chosen)} record(s) to their original topics?"):
        raise typer.Exit(1)
    _run(_republish(chosen))
    for letter in chosen:
        console.print(f"replayed {letter.id} to {letter.topic}", highlight=False)


def _find(letters: list[DeadLetter], ids: list[str]) -> list[DeadLetter]:
    by_id = {letter.id: letter for letter in letters}
    wanted = [letter_id if ":" in letter_id else f"0:{letter_id}" for letter_id in ids]
    if missing := [letter_id for letter_id in wanted if letter_id not in by_id]:
        fail(f"no dead letter {', '.join(missing)}", code=2, hint="genesis dlq list shows the ids")
    return [by_id[letter_id] for letter_id in wanted]


def _read() -> list[DeadLetter]:
    return _run(_read_all())


def _run(work: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(work)
    except MissingTopic as error:
        fail(str(error), hint="is the system up? genesis up")


async def _dead_letter_partitions() -> tuple[str, list[TopicPartition]]:
    """The bootstrap address and the dead-letter topic's partitions; KafkaUnreachable when no broker answers
    within the bound."""
    settings = load_kafka_settings()
    address = bootstrap_servers(settings, load_local_kafka_settings())
    topic = Catalogue(settings.topic_prefix).name(DEAD_LETTERS)
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            partitions = await topic_partitions(address, topic)
    except (KafkaConnectionError, TimeoutError) as error:
        raise KafkaUnreachable(address, str(error) or f"no answer within {CONNECT_TIMEOUT_S:g} s") from None
    return address, partitions


async def _read_all() -> list[DeadLetter]:
    return await read_to_end(*await _dead_letter_partitions())


async def read_to_end(address: str, partitions: list[TopicPartition]) -> list[DeadLetter]:
    """Every record of ``partitions`` up to the end offsets at the start, oldest first."""
    letters: list[DeadLetter] = []
    async with groupless_consumer(address) as consumer:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        remaining = {partition for partition in partitions if ends[partition] > 0}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000)
            for records in batches.values():
                letters += [dead_letter_from(record) for record in records]
            remaining = {p for p in remaining if await consumer.position(p) < ends[p]}
    return sorted(letters, key=lambda letter: (letter.timestamp_ms, letter.id))


async def _republish(letters: list[DeadLetter]) -> None:
    settings = load_kafka_settings()
    address = bootstrap_servers(settings, load_local_kafka_settings())
    producer = AIOKafkaProducer(**client_options(address), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        sent = [
            await producer.send(
                letter.topic,
                letter.value,
                key=letter.key,
                headers=[(REPLAYED_FROM, f"dlq {letter.id}".encode())],
            )
            for letter in letters
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


def _readable(value: bytes | None) -> object:
    if value is None:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return value.decode(errors="backslashreplace")

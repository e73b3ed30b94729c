"""What competes with a hop, and what a hop cannot go under (docs/BENCHMARKS.md, fifth pass).

    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:19092 uv run python -m tests.benchmarks.gap.bench_hop arms --pairs 3
    uv run python -m tests.benchmarks.gap.bench_hop arms --arm "as shipped" --arm "no console:stop=console"
    uv run python -m tests.benchmarks.gap.bench_hop legs

``arms`` runs `genesis up` stacks (2 executors, dispatches at least once) back to back, one per arm and round, and
measures in each what `genesis bench load` measures first: the latency floor (10 chains of 20 zero-latency tasks)
and the hop while 400 tasks wait on their tools. An arm is ``LABEL[:KEY=VALUE,...]``: each GENESIS_* key is a
setting of that stack, and ``stop=SERVICE+SERVICE`` pauses those services (SIGSTOP by pid, checked to be the
stack's, then SIGCONT) after the warm-up, to see what they cost the hop. The defaults compare the console's live
feed read per event and in batches.

``legs`` times one Kafka leg with nothing of ours in it: raw aiokafka, an idempotent producer (acks=all) and a
read_committed consumer on one partition; a record sent, then read, back to back and after idle gaps.
Without KAFKA_BOOTSTRAP_SERVERS a local broker is started on free ports and stopped after (cold: its JIT has not
warmed up, so figures are higher than on a broker warmed by earlier runs).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import typer
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from rich.console import Console
from rich.table import Table

from services.bench.load import busy_hops, chain_hops, closed_loop
from services.bench.stack import IsolatedStack
from tests.support.kafka import real_kafka

app = typer.Typer(add_completion=False)
console = Console()
GUARANTEE = "at_least_once"
EXECUTORS = 2


@dataclass(frozen=True)
class Arm:
    label: str
    settings: dict[str, str] = field(default_factory=dict)
    stopped: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Arm:
        label, _, rest = text.partition(":")
        settings: dict[str, str] = {}
        stopped: tuple[str, ...] = ()
        for item in filter(None, (part.strip() for part in rest.split(","))):
            key, sep, value = item.partition("=")
            if not sep:
                raise typer.BadParameter(f"arm {text!r}: {item!r} is not KEY=VALUE")
            if key == "stop":
                stopped = tuple(filter(None, value.split("+")))
            else:
                settings[key] = value
        return cls(label.strip() or text, settings, stopped)


@contextlib.contextmanager
def paused(stack: IsolatedStack, names: tuple[str, ...]) -> Iterator[None]:
    pids = []
    for name in names:
        pid = stack.pid(name)  # only while it is still the process the stack started
        if pid is None:
            raise RuntimeError(f"the stack has no running {name} to stop")
        os.kill(pid, signal.SIGSTOP)
        pids.append(pid)
    try:
        yield
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


def measure(bootstrap: str, arm: Arm) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-hop-") as folder:
        settings = {
            "GENESIS_EXECUTOR_CONCURRENCY": "400",  # a slot for every waiting task, as bench load gives them
            "GENESIS_PLANNER_DISPATCH_GUARANTEE": GUARANTEE,
            **arm.settings,
        }
        stack = IsolatedStack(bootstrap, Path(folder), **settings)
        stack.up(EXECUTORS)
        try:
            asyncio.run(closed_loop(stack, runs=30, in_flight_runs=10))  # warm: connections, metadata, code paths
            with paused(stack, arm.stopped):
                floor = asyncio.run(chain_hops(stack, guarantee=GUARANTEE, executors=EXECUTORS, runs=10))
                busy = busy_hops(
                    stack, guarantee=GUARANTEE, executors=EXECUTORS, tasks_in_flight=400, tool_latency_s=0.5, runs=108
                )
        finally:
            stack.down()
    return {
        "floor p50": floor.hop_p50_ms,
        "floor p99": floor.hop_p99_ms,
        "busy p50": busy.hop_p50_ms,
        "busy p99": busy.hop_p99_ms,
    }


@app.command()
def arms(
    arm: list[str] = typer.Option(
        ["per event:GENESIS_CONSOLE_FEED_BATCH_WAIT_MS=0", "batched:"],
        help="LABEL[:KEY=VALUE,...]; stop=SERVICE+SERVICE pauses services during the measurement.",
    ),
    pairs: int = typer.Option(3, min=1, help="Rounds: every arm once per round, back to back."),
) -> None:
    """The floor and busy hop of each arm, in rounds, side by side."""
    chosen = [Arm.parse(text) for text in arm]
    title = f"Hops, ms ({EXECUTORS} executors, {GUARANTEE} unless an arm says; busy: 400 tasks waiting on 0.5 s tools)"
    table = Table(title=title)
    for column in ("round", "arm", "floor p50", "floor p99", "busy p50", "busy p99"):
        table.add_column(column, justify="right" if column != "arm" else "left")
    with tempfile.TemporaryDirectory() as data, real_kafka(Path(data)) as bootstrap:
        for round_number in range(1, pairs + 1):
            for each in chosen:
                with console.status(f"round {round_number}/{pairs}: {each.label}"):
                    figures = measure(str(bootstrap), each)
                table.add_row(str(round_number), each.label, *(f"{value:.1f}" for value in figures.values()))
                console.print(f"round {round_number} {each.label}: {figures}")
    console.print(table)


async def leg_latencies(bootstrap: str, gaps: list[float], records: int) -> dict[float, list[float]]:
    topic = f"bench-hop-leg-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, isolation_level="read_committed", auto_offset_reset="earliest"
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await consumer.start()
    await producer.start()
    arrived: dict[bytes, float] = {}
    changed = asyncio.Event()

    async def read() -> None:
        while True:
            for batch in (await consumer.getmany(timeout_ms=1000)).values():
                now = time.perf_counter()
                for record in batch:
                    arrived[record.value] = now
                changed.set()

    reader = asyncio.create_task(read())
    try:
        latencies: dict[float, list[float]] = {}
        for gap in gaps:
            for number in range(records):
                value = f"{gap}-{number}".encode()
                sent = time.perf_counter()
                await producer.send(topic, value)
                async with asyncio.timeout(30):
                    while value not in arrived:
                        changed.clear()
                        await changed.wait()
                latencies.setdefault(gap, []).append(1000 * (arrived[value] - sent))
                if gap:
                    await asyncio.sleep(gap)
        return latencies
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        await producer.stop()
        await consumer.stop()


@app.command()
def legs(
    gaps: str = typer.Option("0,0.05,0.25", help="Idle seconds between records, comma-separated."),
    records: int = typer.Option(30, min=5, help="Records per gap."),
    runs: int = typer.Option(3, min=1, help="Runs, each on a topic of its own."),
) -> None:
    """One Kafka leg: a record sent -> read by a read_committed consumer, raw aiokafka."""
    chosen = [float(gap) for gap in gaps.split(",")]
    table = Table(title=f"One Kafka leg, ms (raw aiokafka, {records} records per gap)")
    for column in ("run", "gap s", "p50", "max"):
        table.add_column(column, justify="right")
    with tempfile.TemporaryDirectory() as data, real_kafka(Path(data)) as bootstrap:
        for run in range(1, runs + 1):
            for gap, latencies in asyncio.run(leg_latencies(str(bootstrap), chosen, records)).items():
                table.add_row(str(run), f"{gap:g}", f"{statistics.median(latencies):.1f}", f"{max(latencies):.1f}")
    console.print(table)


if __name__ == "__main__":
    app()

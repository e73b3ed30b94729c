"""genesis up | status | down | serve: the whole system on one machine, in the background."""

from __future__ import annotations

import importlib
from dataclasses import asdict

import typer
from rich.table import Table

from deploy.local_kafka import LocalKafka, LocalKafkaError, load_local_kafka_settings
from services.cli.console import console, fail, print_json
from services.runtime.settings import load_runtime_settings
from services.runtime.supervisor import ServiceFailedToStart, Supervisor
from streams.connection import bootstrap_servers, uses_local_broker
from streams.settings import load_kafka_settings

# The module that builds each kind of service; `genesis serve KIND` runs it.
SERVICE_MODULES = {
    "planner": "services.planner.bootstrap",
    "executor": "services.executor.bootstrap",
    "trainer": "services.trainer.bootstrap",
    "warehouse": "services.warehouse.bootstrap",
}
KAFKA_STARTED_BY_UP = "kafka.started-by-up"

app = typer.Typer()


@app.command()
def up(executors: int = typer.Option(2, "--executors", "-e", min=1, help="Executor processes to start.")) -> None:
    """Start Kafka (local unless one is configured), the planner, N executors and the warehouse; wait until ready."""
    stack = Stack()
    stack.up(executors)
    for state in stack.supervisor.names():
        console.print(f"  {state}: pid {stack.supervisor.state(state).pid}")
    console.print(f"ready; Kafka at {stack.bootstrap}")


@app.command()
def down() -> None:
    """Stop what `genesis up` started."""
    Stack().down()
    console.print("stopped")


@app.command()
def status(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """Each service with its pid and health, and where Kafka is."""
    stack = Stack()
    report = stack.status()
    if as_json:
        print_json(report)
        return
    console.print(f"Kafka: {report['kafka']['bootstrap_servers']} ({report['kafka']['mode']}, pid {report['kafka']['pid']})")
    table = Table("service", "pid", "health", "heartbeat age (s)", "detail")
    for service in report["services"]:
        age = service["heartbeat_age_s"]
        table.add_row(
            service["name"],
            str(service["pid"] or "-"),
            "healthy" if service["healthy"] else ("starting" if service["alive"] else "down"),
            "-" if age is None else f"{age:.1f}",
            ", ".join(f"{key}={value}" for key, value in service["detail"].items()),
        )
    console.print(table)


@app.command(hidden=True)
def serve(kind: str = typer.Argument(..., help="planner or executor"), name: str = typer.Option(...)) -> None:
    """Run one service in the foreground (what `genesis up` starts in the background)."""
    if kind not in SERVICE_MODULES:
        fail(f"unknown service kind {kind!r}; known: {', '.join(SERVICE_MODULES)}", code=2)
    from services.runtime.service import run_service

    run_service(importlib.import_module(SERVICE_MODULES[kind]).build(name))


class Stack:
    """The set of processes `genesis up` manages on this machine."""

    def __init__(self) -> None:
        self.kafka = load_kafka_settings()
        self.local = load_local_kafka_settings()
        self.runtime = load_runtime_settings()
        self.supervisor = Supervisor(self.runtime)
        self.bootstrap = bootstrap_servers(self.kafka, self.local)

    def up(self, executors: int) -> None:
        try:
            if uses_local_broker(self.kafka) and not LocalKafka(self.local).status().running:
                LocalKafka(self.local).up()
                self.runtime.run_dir.mkdir(parents=True, exist_ok=True)
                (self.runtime.run_dir / KAFKA_STARTED_BY_UP).touch()
        except LocalKafkaError as error:
            fail(str(error))
        names = [("planner", "planner"), *((f"executor-{n}", "executor") for n in range(1, executors + 1))]
        names.append(("warehouse", "warehouse"))
        for name, kind in names:
            self.supervisor.start(kind, name)
        try:
            self.supervisor.wait_ready([name for name, _ in names])
        except ServiceFailedToStart as error:
            fail(str(error))

    def any_running(self) -> bool:
        """Whether services are up already (then whoever started them stops them, not us)."""
        return any(self.supervisor.state(name).alive for name in self.supervisor.names())

    def down(self) -> None:
        for name in self.supervisor.names():
            self.supervisor.stop(name)
        marker = self.runtime.run_dir / KAFKA_STARTED_BY_UP
        if marker.exists():
            LocalKafka(self.local).down()
            marker.unlink()

    def status(self) -> dict:
        local_state = LocalKafka(self.local).status() if uses_local_broker(self.kafka) else None
        return {
            "kafka": {
                "bootstrap_servers": self.bootstrap,
                "mode": "local" if local_state else "configured",
                "pid": local_state.pid if local_state else None,
                "running": local_state.running if local_state else None,
            },
            "services": [asdict(self.supervisor.state(name)) for name in self.supervisor.names()],
        }

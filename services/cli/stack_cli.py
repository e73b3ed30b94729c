"""genesis up | status | down | serve: the whole system on one machine, in the background."""

from __future__ import annotations

import importlib
from dataclasses import asdict

import typer
from msgspec.structs import replace
from rich.table import Table

from deploy.local_kafka import LocalKafka, LocalKafkaError, load_local_kafka_settings
from services.cli.console import console, fail, print_json
from services.cli.status_report import NOTHING_RUNNING, observe_services
from services.llm.local import free_port, local_endpoint_env, port_free, wants_local_model
from services.llm.settings import LlmSettings, load_llm_settings
from services.runtime.health import read_health
from services.runtime.settings import load_runtime_settings
from services.runtime.supervisor import Service, ServiceFailedToStart, Supervisor
from streams.connection import bootstrap_servers, uses_local_broker
from streams.settings import load_kafka_settings

# The module that builds each kind of service; `genesis serve KIND` runs it.
SERVICE_MODULES = {
    "planner": "services.planner.bootstrap",
    "executor": "services.executor.bootstrap",
    "trainer": "services.trainer.bootstrap",
    "warehouse": "services.warehouse.bootstrap",
    "console": "services.console.bootstrap",
    "llm": "services.llm.bootstrap",  # the local model (extra local-llm), when no endpoint is configured
}
KAFKA_STARTED_BY_UP = "kafka.started-by-up"
_ANY_PORT = {"GENESIS_EXECUTOR_METRICS_PORT": "0"}

app = typer.Typer()


@app.command()
def up(executors: int = typer.Option(2, "--executors", "-e", min=1, help="Executor processes to start.")) -> None:
    """Start Kafka (local unless configured), the planner, N executors, the warehouse and the web console; wait."""
    stack = Stack()
    stack.up(executors)
    for state in stack.supervisor.names():
        console.print(f"  {state}: pid {stack.supervisor.state(state).pid}")
    console.print(f"ready; Kafka at {stack.bootstrap}")
    if url := stack.supervisor.state("console").detail.get("url"):
        console.print(f"web console: {url}")


@app.command()
def down() -> None:
    """Stop what `genesis up` started."""
    Stack().down()
    console.print("stopped")


@app.command()
def status(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """Each service with its pid, health and key metrics (and its metrics_url in --json), and where Kafka is."""
    stack = Stack()
    report = stack.status()
    if as_json:
        print_json(report)
        return
    kafka = report["kafka"]
    where = f"pid {kafka['pid']}" if kafka["pid"] else ("not running" if kafka["mode"] == "local" else "")
    console.print(f"Kafka: {kafka['bootstrap_servers']} ({kafka['mode']}{', ' + where if where else ''})")
    if not report["services"]:
        console.print(NOTHING_RUNNING)
        return
    watchdog = report["supervisor"]
    console.print(f"supervisor: {'pid ' + str(watchdog['pid']) if watchdog['pid'] else 'not running (no restarts)'}")
    table = Table("service", "pid", "health", "restarts", "heartbeat age (s)", "detail")
    for service in report["services"]:
        age = service["heartbeat_age_s"]
        table.add_row(
            service["name"],
            str(service["pid"] or "-"),
            "healthy" if service["healthy"] else ("starting" if service["alive"] else "down"),
            str(service["restarts"]),
            "-" if age is None else f"{age:.1f}",
            service["gave_up"] or ", ".join(f"{key}={value}" for key, value in service["detail"].items()),
        )
    console.print(table)
    for service in report["services"]:  # what each service says of itself, on its metrics port
        if service["metrics_url"]:
            figures = ", ".join(f"{key} {value}" for key, value in service["metrics"].items()) or "no metrics yet"
            console.print(f"{service['name']}: {service['health_check']}; {figures}", soft_wrap=True)
            console.print(f"  {service['metrics_url']}", soft_wrap=True)


@app.command(hidden=True)
def supervise() -> None:
    """Start the services `genesis up` listed and restart those that exit (what `genesis up` runs in the background)."""
    import logging
    import signal
    import threading

    from services.runtime.supervisor import RestartPolicy, Watchdog

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    runtime = load_runtime_settings()
    supervisor = Supervisor(runtime)
    stopping = threading.Event()
    # SIGTERM (genesis down) ends the loop only: `genesis down` stops the services themselves, by their records.
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    Watchdog(supervisor, supervisor.services(), RestartPolicy.of(runtime)).run(stopping)


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
        services = [
            Service("planner", "planner"),
            # The first executor on the configured metrics port, the others on any free one (see status).
            *(Service(f"executor-{n}", "executor", env=_ANY_PORT if n > 1 else {}) for n in range(1, executors + 1)),
            Service("warehouse", "warehouse"),
            Service("console", "console"),  # the web console (docs/CONSOLE.md), on console.port
        ]
        services = with_local_model(services, load_llm_settings())
        if self.supervisor.watchdog_pid() is not None:
            services = self.supervisor.services()  # already up: `genesis up` twice starts nothing
        else:
            self.supervisor.start_watchdog(services)
        try:
            self.supervisor.wait_ready([service.name for service in services])
        except ServiceFailedToStart as error:
            fail(str(error))

    def any_running(self) -> bool:
        """Whether services are up already (then whoever started them stops them, not us)."""
        return any(self.supervisor.state(name).alive for name in self.supervisor.names())

    def down(self) -> None:
        # The watchdog first, so that it restarts nothing while the services stop.
        self.supervisor.stop_watchdog()
        for name in self.supervisor.names():
            self.supervisor.stop(name)
        marker = self.runtime.run_dir / KAFKA_STARTED_BY_UP
        if marker.exists():
            LocalKafka(self.local).down()
            marker.unlink()

    def status(self) -> dict:
        local_state = LocalKafka(self.local).status() if uses_local_broker(self.kafka) else None
        services = []
        for name in self.supervisor.names():
            health = read_health(self.runtime.run_dir, name)
            services.append({**asdict(self.supervisor.state(name)), "metrics_url": health and health.metrics_url})
        observe_services(services)
        return {
            "kafka": {
                "bootstrap_servers": self.bootstrap,
                "mode": "local" if local_state else "configured",
                "pid": local_state.pid if local_state else None,
                "running": local_state.running if local_state else None,
            },
            "supervisor": {"pid": self.supervisor.watchdog_pid()},
            "services": services,
            **({} if services else {"hint": NOTHING_RUNNING}),
        }


def with_local_model(services: list[Service], llm: LlmSettings) -> list[Service]:
    """With no endpoint configured and the local-llm extra installed: the local model too, and the services that
    call a model pointed at it."""
    if not wants_local_model(llm):
        return services
    if llm.local_port == 0 or not port_free(llm.local_port):  # 0 or taken: any free port, told to every user
        llm = replace(llm, local_port=free_port())
    model = local_endpoint_env(llm)
    users = {"planner", "executor", "console"}
    return [
        Service("llm", "llm", env={"GENESIS_LLM_LOCAL_PORT": str(llm.local_port)}),
        *(replace(service, env={**service.env, **model}) if service.kind in users else service for service in services),
    ]

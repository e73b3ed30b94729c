"""A real Apache Kafka broker (or a 3-node cluster) on loopback for machines without Docker, from Maven Central jars.

``up`` resolves the broker jars once (``deploy/kafka/pom.xml``, cached outside the repository), formats KRaft
storage once, starts one combined broker/controller JVM per node, waits until the cluster answers a metadata request
with every node registered, and records each process (pid, start time, command line) so that ``down`` stops exactly
those processes. ``up`` twice finds the running nodes and starts only the ones that are missing.

Storage is never deleted silently: data formatted for other controller ports or another node count makes ``up``
refuse with the data directory and the flag that resets it (``genesis kafka up --reset``).

``sasl: true`` makes the client listener SASL_PLAINTEXT with the PLAIN mechanism; the password of its user is
generated at every start and written, readable by the owner only, to ``credentials.env`` in the data directory
(``set -a; . DATA_DIR/credentials.env; set +a`` gives a shell the ``GENESIS_KAFKA_*`` settings that log in).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import msgspec

from deploy.processes import ProcessRecord, kill, running, stop_all, write_record

KAFKA_DEPLOY_DIR = Path(__file__).resolve().parent / "kafka"
# Node N listens on port + STRIDE*(N-1) and controller_port + STRIDE*(N-1).
PORT_STRIDE = 10
SASL_USER = "genesis"


# local_kafka.jit -> JVM options (see LocalKafkaSettings.jit).
JIT_OPTIONS: dict[str, tuple[str, ...]] = {"quick": ("-XX:TieredStopAtLevel=1",), "full": ()}


class LocalKafkaSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    port: int = 19092
    controller_port: int = 19093
    heap: str = "512m"
    version: str = "4.1.1"
    data_dir: str = ".genesis/kafka"
    cache_dir: str = "~/.cache/genesis-gap"
    start_timeout_s: float = 90.0
    # 1: one combined broker/controller. 3: a KRaft cluster (controller quorum of 3, replication 3, min.insync 2).
    nodes: int = 1
    # A SASL_PLAINTEXT (PLAIN) client listener with a password generated per start, instead of PLAINTEXT.
    sasl: bool = False
    # The JVM's compilers. quick: the client compiler only, for a broker that lives minutes (a demo, a test
    # session): its CPU per task of a benchmark burst was 1.9, 1.5 and 1.6 ms in its first three minutes against
    # 4.1, 2.8 and 1.7 ms with both compilers. full: both, for long runs and throughput benchmarks, once warm
    # (chain hop 4.9 against 6.6 ms, tasks/s +10-30% at 400-4,000 in flight).
    jit: Literal["quick", "full"] = "quick"

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(node.address for node in cluster_nodes(self))

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).expanduser().resolve()

    @property
    def libs_path(self) -> Path:
        return Path(self.cache_dir).expanduser() / f"kafka-{self.version}" / "libs"


class LocalKafkaError(RuntimeError):
    """The local broker cannot be provided; the message says what to install or set instead."""


@dataclass(frozen=True)
class KafkaNode:
    node_id: int
    port: int
    controller_port: int

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@dataclass(frozen=True)
class Credentials:
    """The SASL user a client logs in as; the password stays out of reprs."""

    username: str
    password: str

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password='********')"


@dataclass(frozen=True)
class BrokerStatus:
    running: bool
    pid: int | None  # node 1's
    pids: dict[int, int | None]
    bootstrap_servers: str
    version: str
    data_dir: Path
    credentials: Credentials | None = None


def cluster_nodes(settings: LocalKafkaSettings) -> list[KafkaNode]:
    return [
        KafkaNode(n, settings.port + PORT_STRIDE * (n - 1), settings.controller_port + PORT_STRIDE * (n - 1))
        for n in range(1, settings.nodes + 1)
    ]


class LocalKafka:
    def __init__(self, settings: LocalKafkaSettings) -> None:
        if settings.nodes < 1:
            raise LocalKafkaError(f"local_kafka.nodes is {settings.nodes}: it must be 1 or more")
        self.settings = settings
        self.nodes = cluster_nodes(settings)
        self._data = settings.data_path
        self._identity_file = self._data / "storage.json"
        self._credentials_file = self._data / "credentials.env"

    def status(self) -> BrokerStatus:
        pids = {node.node_id: self._pid(node) for node in self.nodes}
        return BrokerStatus(
            running=all(pid is not None for pid in pids.values()),
            pid=pids[1],
            pids=pids,
            bootstrap_servers=self.settings.bootstrap_servers,
            version=self.settings.version,
            data_dir=self._data,
            credentials=self.credentials(),
        )

    def up(self, *, reset: bool = False) -> BrokerStatus:
        """Start every node that does not run; return once the cluster answers with all nodes registered.

        ``reset`` deletes the storage first (the only way ``up`` ever deletes data); the nodes must be stopped.
        """
        missing = [node for node in self.nodes if self._pid(node) is None]
        if reset and len(missing) < len(self.nodes):
            raise LocalKafkaError(f"local Kafka runs on {self._data}: stop it (genesis kafka down) before --reset")
        started = self._start(missing, reset=reset) if missing else {}

        def exited() -> str | None:
            # The processes just started are our children: poll() says at once, with the status, if one exited.
            for node_id, process in started.items():
                if process.poll() is not None:
                    return f"broker {node_id} exited with status {process.returncode} while starting"
            return None

        try:
            wait_until_ready(
                self.settings.bootstrap_servers,
                self.settings.start_timeout_s,
                options=self.admin_options(),
                brokers=len(self.nodes),
                exited=exited,
            )
        except LocalKafkaError as error:
            if started:
                self.down()
            first = missing[0] if missing else self.nodes[0]
            raise LocalKafkaError(f"{error}; broker log: {self._log(first)}\n{self._log_tail(first)}") from None
        return self.status()

    def down(self, timeout_s: float = 20.0) -> bool:
        """Stop every node recorded in the data directory (whatever ``nodes`` says now) by its verified process:
        SIGTERM, then SIGKILL after ``timeout_s``."""
        files = sorted(self._data.glob("broker-*.pid"))
        records = [record for path in files if (record := running(path)) is not None]
        for path in files:
            path.unlink()
        stop_all(records, timeout_s)
        return bool(records)

    def kill_node(self, node_id: int) -> bool:
        """SIGKILL one node (fault tests): the crash of a broker, not a clean stop."""
        record = running(self._pid_file(self._node(node_id)))
        return record is not None and kill(record)

    def stop_node(self, node_id: int, timeout_s: float = 20.0) -> bool:
        """Stop one node cleanly (SIGTERM); ``up`` starts it again with its data."""
        record = running(self._pid_file(self._node(node_id)))
        if record is None:
            return False
        stop_all([record], timeout_s)
        return True

    def credentials(self) -> Credentials | None:
        """The SASL user clients log in as, while the broker runs in SASL mode."""
        if not self.settings.sasl:
            return None
        try:
            lines = self._credentials_file.read_text().splitlines()
        except FileNotFoundError:
            return None
        saved = dict(line.split("=", 1) for line in lines if "=" in line)
        return Credentials(saved["GENESIS_KAFKA_SASL_USERNAME"], saved["GENESIS_KAFKA_SASL_PASSWORD"])

    def admin_options(self) -> dict[str, Any]:
        """aiokafka keyword arguments (besides the address) that log in to this broker."""
        credentials = self.credentials()
        if credentials is None:
            return {}
        return {
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": "PLAIN",
            "sasl_plain_username": credentials.username,
            "sasl_plain_password": credentials.password,
        }

    def ensure_jars(self) -> Path:
        libs = self.settings.libs_path
        marker = libs / ".complete"
        if marker.exists():
            return libs
        maven = shutil.which("mvn")
        if maven is None:
            raise LocalKafkaError(
                "Maven (mvn) is needed once to fetch the Kafka broker jars: install it "
                "(apt-get install maven), or set KAFKA_BOOTSTRAP_SERVERS to use an existing Kafka cluster"
            )
        libs.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [
                maven,
                "-q",
                "-B",
                "-f",
                str(KAFKA_DEPLOY_DIR / "pom.xml"),
                f"-Dkafka.version={self.settings.version}",
                "dependency:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={libs}",
            ],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise LocalKafkaError(
                f"mvn could not resolve the Kafka {self.settings.version} jars:\n{result.stdout}{result.stderr}"
            )
        marker.touch()
        return libs

    def _start(self, nodes: list[KafkaNode], *, reset: bool) -> dict[int, subprocess.Popen]:
        java = _require_java()
        libs = self.ensure_jars()
        taken = [port for node in nodes for port in (node.port, node.controller_port) if _port_in_use(port)]
        if taken:
            raise LocalKafkaError(
                f"port {taken[0]} on 127.0.0.1 is taken by another process: set GENESIS_LOCAL_KAFKA_PORT and "
                "GENESIS_LOCAL_KAFKA_CONTROLLER_PORT, or point KAFKA_BOOTSTRAP_SERVERS at the broker that holds it"
            )
        cluster_id = self._storage_identity(reset=reset)
        # A node restarted beside running ones keeps their password; a fresh start gets a new one.
        login = None
        if self.settings.sasl:
            login = self.credentials() if len(nodes) < len(self.nodes) else None
            login = login or self._new_credentials()
        started: dict[int, subprocess.Popen] = {}
        for node in nodes:
            properties = self._data / f"node-{node.node_id}.properties"
            properties.write_text(render_properties(node, self.nodes, self._data / f"k{node.node_id}", sasl=login))
            properties.chmod(0o600)  # it holds the SASL passwords in SASL mode
            self._format_storage(java, libs, properties, node, cluster_id)
            command = [
                java,
                f"-Xmx{self.settings.heap}",
                f"-Xms{self.settings.heap}",
                "-XX:+UseG1GC",
                "-XX:MaxGCPauseMillis=20",
                *JIT_OPTIONS[self.settings.jit],
                "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={KAFKA_DEPLOY_DIR / 'log4j2.properties'}",
                f"-Dkafka.logs.dir={self._data / 'logs'}",
                "-cp",
                f"{libs}/*",
                "kafka.Kafka",
                str(properties),
            ]
            with self._log(node).open("ab") as log:
                process = subprocess.Popen(
                    command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
                )
            # The properties path is unique to this data directory: the marker that tells our JVM from others.
            write_record(self._pid_file(node), ProcessRecord.of(process.pid, marker=f"kafka.Kafka {properties}"))
            started[node.node_id] = process
        return started

    def _storage_identity(self, *, reset: bool) -> str:
        """The cluster id of the formatted storage; refuse (or, with ``reset``, delete) storage of another layout."""
        self._data.mkdir(parents=True, exist_ok=True)
        wanted = {"nodes": len(self.nodes), "controller_ports": [node.controller_port for node in self.nodes]}
        recorded = self._recorded_identity()
        storage = sorted(self._data.glob("k[0-9]*"))
        if storage and reset:
            for path in storage:
                shutil.rmtree(path)
            recorded = None
        elif storage and recorded is not None and {key: recorded.get(key) for key in wanted} != wanted:
            raise LocalKafkaError(
                f"the Kafka data in {self._data} was formatted for {recorded['nodes']} node(s) with controller "
                f"ports {recorded['controller_ports']}, not {wanted['controller_ports']}: set the ports back, or "
                "run `genesis kafka up --reset` to delete that data and start empty"
            )
        if recorded is None or not storage:
            recorded = {**wanted, "cluster_id": new_cluster_id()}
            self._identity_file.write_text(json.dumps(recorded))
        return recorded["cluster_id"]

    def _recorded_identity(self) -> dict[str, Any] | None:
        try:
            return json.loads(self._identity_file.read_text())
        except (FileNotFoundError, ValueError):
            pass
        # Storage formatted before storage.json existed: one node, its controller port in the old server.properties.
        old = self._data / "server.properties"
        if (self._data / "k1" / "meta.properties").exists() and old.exists():
            lines = dict(line.split("=", 1) for line in old.read_text().splitlines() if "=" in line)
            port = int(lines.get("controller.quorum.bootstrap.servers", ":0").rpartition(":")[2])
            meta = dict(
                line.split("=", 1)
                for line in (self._data / "k1" / "meta.properties").read_text().splitlines()
                if "=" in line
            )
            identity = {"nodes": 1, "controller_ports": [port], "cluster_id": meta.get("cluster.id", "")}
            self._identity_file.write_text(json.dumps(identity))
            return identity
        return None

    def _new_credentials(self) -> Credentials:
        credentials = Credentials(SASL_USER, secrets.token_urlsafe(18))
        # Created readable by the owner only, before the password is written into it.
        descriptor = os.open(self._credentials_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            # The settings a client needs, in the form `set -a; . credentials.env` exports.
            file.write(
                "GENESIS_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT\nGENESIS_KAFKA_SASL_MECHANISM=PLAIN\n"
                f"GENESIS_KAFKA_SASL_USERNAME={credentials.username}\n"
                f"GENESIS_KAFKA_SASL_PASSWORD={credentials.password}\n"
            )
        return credentials

    def _format_storage(self, java: str, libs: Path, properties: Path, node: KafkaNode, cluster_id: str) -> None:
        log_dir = self._data / f"k{node.node_id}"
        if (log_dir / "meta.properties").exists():
            return
        # One node: a dynamic quorum of itself (--standalone). Several: the static voters in the properties.
        quorum = ["--standalone"] if len(self.nodes) == 1 else []
        result = subprocess.run(
            [
                java,
                "-XX:TieredStopAtLevel=1",  # a one-shot tool: compiling it for speed costs more than it saves
                "-cp",
                f"{libs}/*",
                f"-Dlog4j2.configurationFile={KAFKA_DEPLOY_DIR / 'log4j2.properties'}",
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster_id,
                "-c",
                str(properties),
                *quorum,
            ],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise LocalKafkaError(f"formatting KRaft storage in {log_dir} failed:\n{result.stdout}{result.stderr}")

    def _node(self, node_id: int) -> KafkaNode:
        return next(node for node in self.nodes if node.node_id == node_id)

    def _pid_file(self, node: KafkaNode) -> Path:
        return self._data / f"broker-{node.node_id}.pid"

    def _log(self, node: KafkaNode) -> Path:
        return self._data / f"broker-{node.node_id}.log"

    def _pid(self, node: KafkaNode) -> int | None:
        record = running(self._pid_file(node))
        return record.pid if record is not None else None

    def _log_tail(self, node: KafkaNode, lines: int = 30) -> str:
        try:
            return "\n".join(self._log(node).read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


def render_properties(
    node: KafkaNode, nodes: list[KafkaNode], log_dir: Path, *, sasl: Credentials | None = None
) -> str:
    """The server.properties of one node (pure: the launcher writes it, the unit tests read it)."""
    replicas = min(len(nodes), 3)
    min_isr = 2 if replicas >= 3 else 1
    client = "SASL_PLAINTEXT" if sasl else "PLAINTEXT"
    controller = f"CONTROLLER://127.0.0.1:{node.controller_port}"
    properties: dict[str, object] = {
        "process.roles": "broker,controller",
        "node.id": node.node_id,
        "listeners": f"{client}://127.0.0.1:{node.port},{controller}",
        "inter.broker.listener.name": client,
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": f"CONTROLLER:PLAINTEXT,{client}:{client}",
        "log.dirs": log_dir,
        "num.partitions": 1,
        "auto.create.topics.enable": "false",
        "default.replication.factor": replicas,
        "min.insync.replicas": min_isr,
        "offsets.topic.replication.factor": replicas,
        "offsets.topic.num.partitions": 8,
        "transaction.state.log.replication.factor": replicas,
        "transaction.state.log.min.isr": min_isr,
        "share.coordinator.state.topic.replication.factor": replicas,
        "share.coordinator.state.topic.min.isr": min_isr,
        "group.initial.rebalance.delay.ms": 0,
        # The default dedupe buffer takes 128 MB of a 512 MB heap.
        "log.cleaner.dedupe.buffer.size": 2097152,
        "log.segment.bytes": 67108864,
        # A stopping node does not wait for the controller's approval (which can hang the last node of a quorum).
        "controlled.shutdown.enable": "false",
    }
    if len(nodes) == 1:
        # A dynamic quorum of one (formatted with --standalone), as Kafka's own single-node config does.
        properties["controller.quorum.bootstrap.servers"] = f"127.0.0.1:{node.controller_port}"
        properties["advertised.listeners"] = f"{client}://127.0.0.1:{node.port},{controller}"
    else:
        properties["controller.quorum.voters"] = ",".join(
            f"{other.node_id}@127.0.0.1:{other.controller_port}" for other in nodes
        )
        properties["advertised.listeners"] = f"{client}://127.0.0.1:{node.port}"
    if sasl:
        # One user: the clients' and the brokers' own (inter-broker) login.
        login = f'username="{sasl.username}" password="{sasl.password}" user_{sasl.username}="{sasl.password}"'
        properties |= {
            "sasl.enabled.mechanisms": "PLAIN",
            "sasl.mechanism.inter.broker.protocol": "PLAIN",
            "listener.name.sasl_plaintext.plain.sasl.jaas.config": (
                f"org.apache.kafka.common.security.plain.PlainLoginModule required {login};"
            ),
        }
    header = "# Written by deploy/local_kafka.py at every start; edit local_kafka in configs/genesis.yaml instead.\n"
    return header + "".join(f"{key}={value}\n" for key, value in properties.items())


def new_cluster_id() -> str:
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):  # the storage tool would read it as a flag
            return cluster_id


def wait_until_ready(
    bootstrap_servers: str,
    timeout_s: float,
    *,
    options: Mapping[str, Any] | None = None,
    brokers: int = 1,
    exited: Callable[[], str | None] | None = None,
) -> None:
    """Block until the cluster answers a metadata request listing ``brokers`` brokers, or fail with the reason.

    ``options`` are the aiokafka security arguments; ``exited`` (when given) says which of the processes being
    waited for has exited, so a broker that dies while starting fails at once instead of at the timeout.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if exited is not None and (reason := exited()):
            raise LocalKafkaError(reason)
        if _any_port_open(bootstrap_servers) and asyncio.run(
            _answers_metadata(bootstrap_servers, dict(options or {}), brokers)
        ):
            return
        time.sleep(0.25)
    raise LocalKafkaError(f"no metadata answer from {bootstrap_servers} within {timeout_s:.0f} s")


async def _answers_metadata(bootstrap_servers: str, options: dict[str, Any], brokers: int) -> bool:
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.errors import KafkaError

    addresses = str(bootstrap_servers).split(",")  # a list: the admin client does not split the string itself
    admin = AIOKafkaAdminClient(bootstrap_servers=addresses, request_timeout_ms=3000, **options)
    try:
        await admin.start()
        cluster = await admin.describe_cluster()
        return len(cluster.get("brokers") or []) >= brokers
    except (TimeoutError, KafkaError, OSError):
        return False
    finally:
        await admin.close()


def _any_port_open(bootstrap_servers: str) -> bool:
    # A plain TCP probe first: the admin client logs an error for every refused connection.
    for address in str(bootstrap_servers).split(","):
        host, _, port = address.strip().rpartition(":")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.settimeout(1.0)
            if probe.connect_ex((host or "127.0.0.1", int(port))) == 0:
                return True
    return False


def _require_java() -> str:
    java = shutil.which("java")
    if java is None:
        raise LocalKafkaError(
            "Java 17 or newer is needed to run the local Kafka broker: install it "
            "(apt-get install openjdk-17-jre-headless), or set KAFKA_BOOTSTRAP_SERVERS to use an existing Kafka cluster"
        )
    return java


def _port_in_use(port: int) -> bool:
    return _any_port_open(f"127.0.0.1:{port}")


def load_local_kafka_settings() -> LocalKafkaSettings:
    from configs.settings import load_section

    return load_section("local_kafka", LocalKafkaSettings)

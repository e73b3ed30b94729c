"""A real Apache Kafka broker on loopback for machines without Docker, built from Maven Central jars.

``up`` resolves the broker jars once (``deploy/kafka/pom.xml``, cached outside the repository), formats KRaft
storage once, starts one combined broker/controller JVM, waits until it answers a metadata request and records
its pid. ``down`` stops it by that pid. ``up`` twice finds the running broker and starts nothing.
"""

from __future__ import annotations

import asyncio
import base64
import shutil
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import msgspec

from deploy.processes import process_alive, terminate

KAFKA_DEPLOY_DIR = Path(__file__).resolve().parent / "kafka"


class LocalKafkaSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    port: int = 19092
    controller_port: int = 19093
    heap: str = "512m"
    version: str = "4.1.1"
    data_dir: str = ".genesis/kafka"
    cache_dir: str = "~/.cache/genesis-gap"
    start_timeout_s: float = 90.0

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).expanduser().resolve()

    @property
    def libs_path(self) -> Path:
        return Path(self.cache_dir).expanduser() / f"kafka-{self.version}" / "libs"


class LocalKafkaError(RuntimeError):
    """The local broker cannot be provided; the message says what to install or set instead."""


@dataclass(frozen=True)
class BrokerStatus:
    running: bool
    pid: int | None
    bootstrap_servers: str
    version: str
    data_dir: Path


class LocalKafka:
    def __init__(self, settings: LocalKafkaSettings) -> None:
        self.settings = settings
        self._data = settings.data_path
        self._pid_file = self._data / "broker.pid"
        self._log_file = self._data / "broker.log"

    def status(self) -> BrokerStatus:
        pid = self._running_pid()
        return BrokerStatus(
            running=pid is not None,
            pid=pid,
            bootstrap_servers=self.settings.bootstrap_servers,
            version=self.settings.version,
            data_dir=self._data,
        )

    def up(self) -> BrokerStatus:
        """Start the broker unless it already runs; return once it answers a metadata request."""
        if self._running_pid() is not None:
            wait_until_ready(self.settings.bootstrap_servers, self.settings.start_timeout_s)
            return self.status()
        java = _require_java()
        libs = self.ensure_jars()
        if _port_in_use(self.settings.port) or _port_in_use(self.settings.controller_port):
            raise LocalKafkaError(
                f"port {self.settings.port} or {self.settings.controller_port} on 127.0.0.1 is taken by another "
                "process: set GENESIS_LOCAL_KAFKA_PORT and GENESIS_LOCAL_KAFKA_CONTROLLER_PORT, or point "
                "KAFKA_BOOTSTRAP_SERVERS at the broker that holds it"
            )
        properties = self._write_config()
        self._format_storage(java, libs, properties)
        command = [
            java,
            f"-Xmx{self.settings.heap}",
            f"-Xms{self.settings.heap}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={KAFKA_DEPLOY_DIR / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self._data / 'logs'}",
            "-cp",
            f"{libs}/*",
            "kafka.Kafka",
            str(properties),
        ]
        with self._log_file.open("ab") as log:
            process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        self._pid_file.write_text(str(process.pid))
        try:
            wait_until_ready(self.settings.bootstrap_servers, self.settings.start_timeout_s, process=process)
        except LocalKafkaError as error:
            self.down()
            raise LocalKafkaError(f"{error}; broker log: {self._log_file}\n{self._log_tail()}") from None
        return self.status()

    def down(self, timeout_s: float = 20.0) -> bool:
        """Stop the broker by its recorded pid: SIGTERM, then SIGKILL if it is still alive after ``timeout_s``."""
        pid = self._running_pid()
        self._pid_file.unlink(missing_ok=True)
        if pid is None:
            return False
        terminate(pid, timeout_s)
        return True

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

    def _write_config(self) -> Path:
        self._data.mkdir(parents=True, exist_ok=True)
        log_dir = self._data / "k1"
        template = (KAFKA_DEPLOY_DIR / "server.properties.template").read_text()
        rendered = template.format(
            port=self.settings.port, controller_port=self.settings.controller_port, log_dir=log_dir
        )
        properties = self._data / "server.properties"
        if properties.exists() and properties.read_text() != rendered:
            # The controller's endpoint is written into the formatted storage: new ports need fresh storage.
            shutil.rmtree(log_dir, ignore_errors=True)
        properties.write_text(rendered)
        return properties

    def _format_storage(self, java: str, libs: Path, properties: Path) -> None:
        if (self._data / "k1" / "meta.properties").exists():
            return
        result = subprocess.run(
            [
                java,
                "-cp",
                f"{libs}/*",
                f"-Dlog4j2.configurationFile={KAFKA_DEPLOY_DIR / 'log4j2.properties'}",
                "kafka.tools.StorageTool",
                "format",
                "-t",
                new_cluster_id(),
                "-c",
                str(properties),
                "--standalone",
            ],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise LocalKafkaError(
                f"formatting KRaft storage in {self._data / 'k1'} failed:\n{result.stdout}{result.stderr}"
            )

    def _running_pid(self) -> int | None:
        try:
            pid = int(self._pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if process_alive(pid) and _is_kafka(pid) else None

    def _log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self._log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


def new_cluster_id() -> str:
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):  # the storage tool would read it as a flag
            return cluster_id


def wait_until_ready(bootstrap_servers: str, timeout_s: float, process: subprocess.Popen | None = None) -> None:
    """Block until the broker answers a metadata request (the broker's own readiness), or fail with the reason."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise LocalKafkaError(f"the broker exited with status {process.returncode} while starting")
        if _any_port_open(bootstrap_servers) and asyncio.run(_answers_metadata(bootstrap_servers)):
            return
        time.sleep(0.25)
    raise LocalKafkaError(f"no metadata answer from {bootstrap_servers} within {timeout_s:.0f} s")


async def _answers_metadata(bootstrap_servers: str) -> bool:
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.errors import KafkaError

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=3000)
    try:
        await admin.start()
        cluster = await admin.describe_cluster()
        return bool(cluster.get("brokers"))
    except (TimeoutError, KafkaError, OSError):
        return False
    finally:
        await admin.close()


def _any_port_open(bootstrap_servers: str) -> bool:
    # A plain TCP probe first: the admin client logs an error for every refused connection.
    for address in bootstrap_servers.split(","):
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


def _is_kafka(pid: int) -> bool:
    # A recycled pid must not be mistaken for our broker.
    try:
        return b"kafka.Kafka" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return True


def load_local_kafka_settings() -> LocalKafkaSettings:
    from configs.settings import load_section

    return load_section("local_kafka", LocalKafkaSettings)

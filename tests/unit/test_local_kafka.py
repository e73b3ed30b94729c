"""Specification of the local Kafka launcher's failure messages and its storage identity (no broker started)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from deploy import local_kafka
from deploy.local_kafka import (
    Credentials,
    LocalKafka,
    LocalKafkaError,
    LocalKafkaSettings,
    cluster_nodes,
    new_cluster_id,
    render_properties,
)


def settings(tmp_path: Path, **overrides: object) -> LocalKafkaSettings:
    return LocalKafkaSettings(data_dir=str(tmp_path / "data"), cache_dir=str(tmp_path / "cache"), **overrides)


def test_up_says_what_to_install_or_set_when_java_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local_kafka.shutil, "which", lambda name: None)
    with pytest.raises(LocalKafkaError, match=r"install it \(apt-get install openjdk-17.*KAFKA_BOOTSTRAP_SERVERS"):
        LocalKafka(settings(tmp_path)).up()


def test_up_says_what_to_install_or_set_when_maven_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local_kafka.shutil, "which", lambda name: "/usr/bin/java" if name == "java" else None)
    with pytest.raises(LocalKafkaError, match=r"Maven \(mvn\).*apt-get install maven.*KAFKA_BOOTSTRAP_SERVERS"):
        LocalKafka(settings(tmp_path)).up()


def test_up_names_the_settings_to_change_when_the_port_is_taken(tmp_path: Path) -> None:
    libs = tmp_path / "cache" / "kafka-4.1.1" / "libs"
    libs.mkdir(parents=True)
    (libs / ".complete").touch()  # jars "already fetched": the port check comes next
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(LocalKafkaError, match=f"port {port}.*GENESIS_LOCAL_KAFKA_PORT"):
            LocalKafka(settings(tmp_path, port=port)).up()


def test_status_reports_not_running_when_no_broker_was_started(tmp_path: Path) -> None:
    state = LocalKafka(settings(tmp_path, port=29999)).status()
    assert (state.running, state.pid, state.bootstrap_servers) == (False, None, "127.0.0.1:29999")


def test_down_is_a_no_op_when_nothing_runs(tmp_path: Path) -> None:
    assert LocalKafka(settings(tmp_path)).down() is False


def test_cluster_ids_never_look_like_a_flag_when_generated() -> None:
    ids = {new_cluster_id() for _ in range(500)}
    assert len(ids) == 500
    assert all(len(cluster_id) == 22 and not cluster_id.startswith("-") for cluster_id in ids)


def test_cluster_nodes_get_distinct_ports_and_a_quorum_of_three_when_three_nodes_are_asked(tmp_path: Path) -> None:
    cluster = settings(tmp_path, port=30000, controller_port=30001, nodes=3)
    nodes = cluster_nodes(cluster)
    assert cluster.bootstrap_servers == "127.0.0.1:30000,127.0.0.1:30010,127.0.0.1:30020"
    text = render_properties(nodes[1], nodes, tmp_path / "k2")
    lines = dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))
    assert lines["node.id"] == "2"
    assert lines["controller.quorum.voters"] == "1@127.0.0.1:30001,2@127.0.0.1:30011,3@127.0.0.1:30021"
    assert lines["listeners"] == "PLAINTEXT://127.0.0.1:30010,CONTROLLER://127.0.0.1:30011"
    assert (lines["default.replication.factor"], lines["min.insync.replicas"]) == ("3", "2")
    assert lines["offsets.topic.replication.factor"] == "3"
    assert "controller.quorum.bootstrap.servers" not in lines


def test_single_node_keeps_a_standalone_quorum_and_replication_one_when_one_node_is_asked(tmp_path: Path) -> None:
    nodes = cluster_nodes(settings(tmp_path, port=30000, controller_port=30001))
    lines = render_properties(nodes[0], nodes, tmp_path / "k1")
    assert "controller.quorum.bootstrap.servers=127.0.0.1:30001\n" in lines
    assert "min.insync.replicas=1\n" in lines and "controller.quorum.voters" not in lines


def test_client_listener_requires_sasl_plain_with_every_user_when_sasl_is_on(tmp_path: Path) -> None:
    nodes = cluster_nodes(settings(tmp_path, port=30000, controller_port=30001, sasl=True))
    text = render_properties(nodes[0], nodes, tmp_path / "k1", sasl=Credentials("genesis", "s3cret"))
    assert "listeners=SASL_PLAINTEXT://127.0.0.1:30000,CONTROLLER://127.0.0.1:30001\n" in text
    assert "sasl.enabled.mechanisms=PLAIN\n" in text and "inter.broker.listener.name=SASL_PLAINTEXT\n" in text
    assert 'username="genesis" password="s3cret" user_genesis="s3cret";' in text


def test_up_refuses_and_keeps_the_data_when_the_controller_port_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local_kafka.shutil, "which", lambda name: f"/usr/bin/{name}")
    libs = tmp_path / "cache" / "kafka-4.1.1" / "libs"
    libs.mkdir(parents=True)
    (libs / ".complete").touch()
    data = tmp_path / "data"
    (data / "k1").mkdir(parents=True)
    (data / "k1" / "meta.properties").write_text("cluster.id=abc\n")
    (data / "storage.json").write_text('{"nodes": 1, "controller_ports": [41001], "cluster_id": "abc"}')
    port = _free_port()
    with pytest.raises(LocalKafkaError) as raised:
        LocalKafka(settings(tmp_path, port=port, controller_port=_free_port())).up()
    message = str(raised.value)
    assert str(data) in message and "genesis kafka up --reset" in message and "\n" not in message
    assert (data / "k1" / "meta.properties").read_text() == "cluster.id=abc\n"


def test_up_refuses_reset_when_the_broker_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broker = LocalKafka(settings(tmp_path))
    monkeypatch.setattr(broker, "_pid", lambda node: 4242)
    with pytest.raises(LocalKafkaError, match="stop it \\(genesis kafka down\\) before --reset"):
        broker.up(reset=True)


def test_credentials_never_show_the_password_when_printed() -> None:
    shown = repr(Credentials("genesis", "hunter2-long-password"))
    assert "hunter2" not in shown and "genesis" in shown


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]

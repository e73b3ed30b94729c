"""Specification of the local Kafka launcher's failure messages and its storage identity (no broker started)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from deploy import local_kafka
from deploy.local_kafka import LocalKafka, LocalKafkaError, LocalKafkaSettings, new_cluster_id


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

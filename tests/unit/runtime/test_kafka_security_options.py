"""Kafka security settings: one set of options for every client, and secrets that never show in a repr or a log."""

from __future__ import annotations

from pathlib import Path

import pytest

from configs.settings import Secret, load_section
from deploy.local_kafka import LocalKafkaSettings
from streams.broker import make_broker
from streams.connection import KafkaSecurityError, bootstrap_servers, client_options, security_options
from streams.settings import KafkaSettings


def sasl_settings(**overrides: object) -> KafkaSettings:
    values = {
        "bootstrap_servers": "k1:9092,k2:9092",
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_username": "genesis",
        "sasl_password": Secret("correct horse"),
    }
    return KafkaSettings(**(values | overrides))


def test_password_comes_from_the_environment_and_never_shows_when_settings_are_printed(tmp_path: Path) -> None:
    config = tmp_path / "genesis.yaml"
    config.write_text("kafka:\n  security_protocol: SASL_SSL\n  sasl_username: genesis\n")
    environ = {"GENESIS_CONFIG": str(config), "GENESIS_KAFKA_SASL_PASSWORD": "0123true"}
    settings = load_section("kafka", KafkaSettings, environ=environ)
    assert settings.sasl_password is not None and settings.sasl_password.reveal() == "0123true"
    assert "0123true" not in repr(settings) and "0123true" not in str(settings.sasl_password)


def test_every_raw_client_gets_the_same_sasl_options_when_built_from_the_endpoint() -> None:
    endpoint = bootstrap_servers(sasl_settings(), LocalKafkaSettings())
    assert endpoint == "k1:9092,k2:9092" and "correct" not in repr(endpoint)
    assert client_options(endpoint) == {
        "bootstrap_servers": ["k1:9092", "k2:9092"],
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "genesis",
        "sasl_plain_password": "correct horse",
    }


def test_plain_addresses_connect_in_plaintext_when_no_security_is_set() -> None:
    assert client_options("127.0.0.1:9092") == {"bootstrap_servers": ["127.0.0.1:9092"]}
    assert security_options(KafkaSettings()) == {}


def test_faststream_broker_uses_the_same_credentials_when_made_from_the_settings() -> None:
    broker = make_broker(sasl_settings(), "k1:9092", client_id="t")
    consumer_options = broker.config.broker_config.builder.keywords  # what FastStream builds its consumers with
    assert {key: consumer_options[key] for key in security_options(sasl_settings())} == security_options(
        sasl_settings()
    )


def test_missing_username_fails_with_the_settings_to_set_when_sasl_is_on() -> None:
    with pytest.raises(KafkaSecurityError, match="set kafka.sasl_username and kafka.sasl_password"):
        security_options(sasl_settings(sasl_username=None))


def test_unreadable_ca_file_fails_with_the_settings_named_when_ssl_is_on(tmp_path: Path) -> None:
    with pytest.raises(KafkaSecurityError, match="kafka.ssl_cafile"):
        security_options(KafkaSettings(security_protocol="SSL", ssl_cafile=str(tmp_path / "missing.pem")))

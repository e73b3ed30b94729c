"""Kafka security end to end: a broker with a SASL/PLAIN listener (password generated per start), a whole run
through the planner, an executor and the client logged in with the right password, and a clear one-line refusal
of a wrong one (library and CLI)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from configs.settings import Secret
from deploy.local_kafka import LocalKafka
from schemas import RunFinished
from services.client import GenesisClient
from streams.admin import ensure_topics
from streams.catalogue import Catalogue
from streams.connection import KafkaEndpoint, KafkaLoginError, check_login
from streams.settings import KafkaSettings
from tests.e2e.system import running_system
from tests.support.kafka import local_kafka

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
WAIT_S = 60


@pytest.fixture(scope="module")
def sasl_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    with local_kafka(tmp_path_factory.mktemp("sasl-kafka"), sasl=True, heap="256m") as broker:
        yield broker


def logged_in(broker: LocalKafka, password: str | None = None) -> KafkaEndpoint:
    credentials = broker.credentials()
    assert credentials is not None
    settings = KafkaSettings(
        bootstrap_servers=broker.settings.bootstrap_servers,
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="PLAIN",
        sasl_username=credentials.username,
        sasl_password=Secret(password or credentials.password),
    )
    return KafkaEndpoint(broker.settings.bootstrap_servers, settings)


async def test_run_succeeds_when_every_client_logs_in_with_the_right_password(sasl_broker: LocalKafka) -> None:
    endpoint = logged_in(sasl_broker)
    catalogue = Catalogue(prefix=f"sasl{uuid.uuid4().hex[:8]}")
    await ensure_topics(endpoint, catalogue)  # the raw admin client
    # FastStream brokers of the planner and the executor, the planner's raw journal reader, the client's reader.
    async with running_system(endpoint, catalogue, executors=1) as (_, client):
        outcome = await client.run(plan_text='Task 1: calculator(expression="6 * 7") | Dependencies: none')
    assert isinstance(outcome, RunFinished) and outcome.status == "succeeded" and outcome.answer == 42


async def test_wrong_password_fails_with_one_clear_line_when_connecting(sasl_broker: LocalKafka) -> None:
    wrong = logged_in(sasl_broker, password="not-the-password")
    with pytest.raises(KafkaLoginError) as refused:
        await asyncio.wait_for(check_login(wrong), WAIT_S)
    message = str(refused.value)
    assert "\n" not in message and "not-the-password" not in message
    assert "refused the login of user 'genesis'" in message and "kafka.sasl_password" in message
    with pytest.raises(KafkaLoginError, match="refused the login"):
        async with GenesisClient(wrong, Catalogue(prefix="unused"), KafkaSettings(), connect_timeout_s=WAIT_S):
            pass


def test_cli_exits_1_with_one_line_when_the_password_is_wrong(sasl_broker: LocalKafka, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": sasl_broker.settings.bootstrap_servers,
        "GENESIS_KAFKA_TOPIC_PREFIX": f"sasl{uuid.uuid4().hex[:8]}",
        "GENESIS_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "GENESIS_KAFKA_SASL_USERNAME": "genesis",
        "GENESIS_KAFKA_SASL_PASSWORD": "wrong-password-123",
    }
    result = subprocess.run(
        [sys.executable, "-m", "services.cli.main", "kafka", "topics"],
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT_S,
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "refused the login of user 'genesis'" in result.stderr
    assert "wrong-password-123" not in result.stderr + result.stdout

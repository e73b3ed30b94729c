"""Specification of configuration loading: the file, environment overrides, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from configs.settings import ConfigError, load_section, project_path
from services.executor.settings import ExecutorSettings
from streams.settings import KafkaSettings


def write_config(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "genesis.yaml"
    path.write_text(text)
    return {"GENESIS_CONFIG": str(path)}


def test_section_values_come_from_the_file_when_set_there(tmp_path: Path) -> None:
    environ = write_config(tmp_path, "executor:\n  concurrency: 7\n")
    assert load_section("executor", ExecutorSettings, environ=environ).concurrency == 7


def test_environment_overrides_the_file_when_a_variable_is_set(tmp_path: Path) -> None:
    environ = write_config(tmp_path, "executor:\n  concurrency: 7\n") | {"GENESIS_EXECUTOR_CONCURRENCY": "64"}
    assert load_section("executor", ExecutorSettings, environ=environ).concurrency == 64


def test_kafka_bootstrap_servers_wins_when_set(tmp_path: Path) -> None:
    environ = write_config(tmp_path, "kafka:\n  bootstrap_servers: a:9092\n") | {"KAFKA_BOOTSTRAP_SERVERS": "b:9092"}
    assert load_section("kafka", KafkaSettings, environ=environ).bootstrap_servers == "b:9092"


def test_error_names_the_file_and_the_key_when_a_value_has_the_wrong_type(tmp_path: Path) -> None:
    environ = write_config(tmp_path, "executor:\n  concurrency: lots\n")
    with pytest.raises(ConfigError, match=r"genesis.yaml: .*`executor.concurrency`"):
        load_section("executor", ExecutorSettings, environ=environ)


def test_error_names_the_unknown_key_when_a_key_is_misspelt(tmp_path: Path) -> None:
    environ = write_config(tmp_path, "executor:\n  concurency: 8\n")
    with pytest.raises(ConfigError, match="concurency"):
        load_section("executor", ExecutorSettings, environ=environ)


def test_error_says_how_to_fix_it_when_the_config_file_is_missing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found.*GENESIS_CONFIG"):
        load_section("executor", ExecutorSettings, environ={"GENESIS_CONFIG": str(tmp_path / "absent.yaml")})


def test_every_key_of_the_shipped_config_is_read_by_a_settings_struct() -> None:
    """No dead settings: each section of configs/genesis.yaml decodes strictly into its service's struct."""
    import yaml

    from configs.settings import DEFAULT_CONFIG_FILE
    from tests.support.sections import SECTION_TYPES

    document = yaml.safe_load(DEFAULT_CONFIG_FILE.read_text())
    assert set(document) == set(SECTION_TYPES)
    for section, settings_type in SECTION_TYPES.items():
        msgspec.convert(document[section] or {}, settings_type, strict=False)  # forbid_unknown_fields catches dead keys


def test_relative_project_paths_resolve_from_the_project_when_not_absolute() -> None:
    assert project_path("configs/prompts/gap_planning.txt").is_file()

"""configs/lightning_trainer.yaml: strict, every key known, errors that name the key."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
import yaml

from configs.settings import ConfigError
from services.trainer.checkers import load_checker
from services.trainer.core.trajectory import succeeded
from services.trainer.settings import DEFAULT_TRAINER_CONFIG, TrainerConfig, load_trainer_config


def test_shipped_config_sets_every_key_the_code_reads_when_loaded() -> None:
    document = yaml.safe_load(DEFAULT_TRAINER_CONFIG.read_text())
    config = load_trainer_config()
    # Each section in the file is a struct, and each struct field is written out in the file.
    for section, values in document.items():
        fields = {field.name for field in msgspec.structs.fields(getattr(config, section))}
        assert set(values) == fields, section
    assert set(document) == {field.name for field in msgspec.structs.fields(TrainerConfig)}
    assert config.optimise.knobs()["max_parallelism"][0] == 0


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("algorithm:\n  episodez: 3\n", "algorithm"),
        ("reward:\n  correct: lots\n", "reward.correct"),
        ("environment:\n  rate_limit: 0\n", "environment"),
        ("trainer:\n  type: ppo\n", "trainer"),
    ],
)
def test_config_error_names_the_key_when_the_file_is_wrong(tmp_path: Path, text: str, named: str) -> None:
    path = tmp_path / "trainer.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=f"`{named}"):
        load_trainer_config(path)


def test_checker_is_loaded_from_a_module_when_configured_by_path() -> None:
    assert load_checker("status") is succeeded
    assert load_checker("services.trainer.core.trajectory:succeeded") is succeeded
    with pytest.raises(ConfigError, match="reward.checker"):
        load_checker("no_such_module:check")

"""genesis trainer run: the JSON it prints, the picture it saves, and what it says about algorithms it cannot run
(or, for apo, without a model)."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import yaml
from faststream import FastStream
from typer.testing import CliRunner

from services.cli.main import app
from services.cli.stack_cli import SERVICE_MODULES
from services.trainer.settings import DEFAULT_TRAINER_CONFIG


def config_file(tmp_path: Path, **changes: dict) -> Path:
    document = yaml.safe_load(DEFAULT_TRAINER_CONFIG.read_text())
    document["output"]["reward_curve"] = str(tmp_path / "curve.png")
    for section, values in changes.items():
        document[section].update(values)
    path = tmp_path / "trainer.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_run_prints_exactly_the_result_json_and_saves_the_curve_when_asked_for_json(tmp_path: Path) -> None:
    path = config_file(tmp_path, algorithm={"population": 4, "validation_episodes": 4})
    result = CliRunner().invoke(app, ["trainer", "run", "--episodes", "2", "--json", "--config", str(path)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) == {"traces", "initial_mean_reward", "final_mean_reward", "policy"}
    assert report["traces"] == 2 * 4 + 2 * 4 * 4
    assert set(report["policy"]) == {"version", "max_parallelism", "gap_threshold", "max_attempts", "prompt_template"}
    assert (tmp_path / "curve.png").read_bytes().startswith(b"\x89PNG")


def test_run_says_apo_needs_a_model_when_it_is_chosen_without_an_endpoint_or_local(tmp_path: Path) -> None:
    path = config_file(tmp_path, algorithm={"name": "apo"})
    result = CliRunner().invoke(app, ["trainer", "run", "--config", str(path)])
    assert result.exit_code == 2
    assert "llm.base_url" in result.output and "--local" in result.output


def test_run_names_the_option_when_the_algorithm_is_unknown(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["trainer", "run", "--algorithm", "ppo", "--config", str(config_file(tmp_path))])
    assert result.exit_code == 2
    assert "--algorithm: 'ppo' is not one of policy_search, apo, verl" in result.output


def test_trainer_service_is_wired_when_served_by_name() -> None:
    module = importlib.import_module(SERVICE_MODULES["trainer"])
    assert isinstance(module.build("trainer-test"), FastStream)  # built, not started: no broker needed

"""`genesis trainer run --algorithm apo --local --publish`, as a user runs it, against a real Kafka broker and the
real local model (the local-llm extra's SmolLM2-135M served on loopback), no stub: one APO round proposes a planning
prompt, scores it and the starting one on questions with known answers, records it all, and publishes the best
prompt to the planners. Quality is not asserted (a 135M model's critiques and edits are poor); the shape is.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest
import yaml

from services.bench.stack import stack_environment
from services.llm.local import INSTALL_HINT, extra_installed
from services.trainer.publish import latest_policy
from services.trainer.settings import DEFAULT_TRAINER_CONFIG
from streams.catalogue import Catalogue

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
RUN_TIMEOUT_S = 900


@pytest.mark.timeout(RUN_TIMEOUT_S + 60)
async def test_apo_round_scores_a_proposed_prompt_and_publishes_the_best_when_a_real_model_is_served(
    kafka_bootstrap: str, catalogue: Catalogue, tmp_path: Path
) -> None:
    if not extra_installed():
        pytest.fail(f"this test needs the real local model: {INSTALL_HINT}", pytrace=False)
    config = yaml.safe_load(DEFAULT_TRAINER_CONFIG.read_text())
    config["output"]["apo_record"] = str(tmp_path / "apo.json")
    config_file = tmp_path / "trainer.yaml"
    config_file.write_text(yaml.safe_dump(config))
    # A small model on a shared CPU: a model call can take tens of seconds.
    environment = stack_environment(
        kafka_bootstrap, catalogue.prefix, tmp_path, GENESIS_LLM_TIMEOUT_S="240", GENESIS_LLM_MAX_TOKENS="256"
    )
    command = [sys.executable, "-m", "services.cli.main", "trainer", "run", "--algorithm", "apo", "--rounds", "1"]
    process = await asyncio.create_subprocess_exec(
        *command,
        *("--local", "--publish", "--json", "--config", str(config_file)),
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT_S)
    finally:
        if process.returncode is None:
            process.kill()  # this test's own child, by its handle
            await process.wait()
    assert process.returncode == 0, stderr.decode()[-3000:]
    summary = json.loads(stdout)
    record = json.loads((tmp_path / "apo.json").read_text())

    # APO asked the model for a critique and an edit, and the edit became a candidate that was scored.
    [proposal] = summary["proposals"]
    assert proposal["parent"] == "v0" and proposal["critique"] and proposal["edit"]
    assert proposal["candidate"] and "{user_query}" in proposal["candidate"] and proposal["version"] == "v1"
    scored = {(evaluation["version"], evaluation["mode"]) for evaluation in summary["evaluations"]}
    assert {("v0", "val"), ("v0", "train"), ("v1", "val")} <= scored
    # Every rollout is a question planned under one of the two prompts by the real model, with its reward.
    outcomes = record["rollout_outcomes"]
    assert len(outcomes) == summary["rollouts"] == 10
    assert {outcome["prompt_version"] for outcome in outcomes} == {"v0", "v1"}
    for outcome in outcomes:
        assert outcome["model_calls"] >= 1 and isinstance(outcome["reward"], float)
        assert outcome["plan"] or outcome["error"]
    assert summary["seed_score"] == summary["evaluations"][0]["mean"]
    assert summary["best_version"] in ("v0", "v1") and summary["improved"] == (summary["best_version"] == "v1")

    # The best prompt went to the planners on the policy topic (None: the starting prompt stayed best).
    published = await latest_policy(kafka_bootstrap, catalogue)
    assert published is not None and published.version == summary["published_version"]
    assert published.prompt_template == (summary["best_prompt"] if summary["improved"] else None)

"""End to end on a real broker: a policy the trainer publishes reaches a running planner, and its next runs obey it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY
from typer.testing import CliRunner

from schemas import Policy, RunFinished, RunPlanned
from services.cli.main import app
from services.trainer.publish import latest_policy, publish_policy
from services.trainer.settings import DEFAULT_TRAINER_CONFIG
from streams.catalogue import RUN_EVENTS, Catalogue
from streams.settings import KafkaSettings
from tests.e2e.system import running_system
from tests.support.tail import tailing

pytestmark = pytest.mark.kafka
WAIT_S = 60
SLEEP_S = 0.4
FAN_OUT = "\n".join(f"Task {n}: sleep(seconds={SLEEP_S}) | Dependencies: none" for n in range(1, 4))


async def test_planner_runs_the_next_fan_out_one_task_at_a_time_when_the_trainer_publishes_a_cap_of_one(
    kafka_bootstrap: str, catalogue: Catalogue
) -> None:
    run_events = catalogue.name(RUN_EVENTS)

    def planned() -> dict[str, RunPlanned]:
        return {event.run_id: event for event in tail.events(run_events, RunPlanned)}

    async with (
        running_system(kafka_bootstrap, catalogue) as (system, client),
        tailing(kafka_bootstrap, run_events) as tail,
    ):
        planner = system.planner
        assert planner is not None and planner.policy.max_parallelism == 0
        before = await client.run(plan_text=FAN_OUT, timeout_s=WAIT_S)

        update = await publish_policy(
            kafka_bootstrap,
            catalogue,
            KafkaSettings(),
            Policy(max_parallelism=1, gap_threshold=3, max_attempts=3),
            reason="test: cap of one",
            mean_reward=1.0,
        )
        async with asyncio.timeout(WAIT_S):  # the next run must not be submitted before the planner adopts it
            adopted = await planner.wait_for_policy(update.policy.version)
        assert REGISTRY.get_sample_value("genesis_planner_policy_version") == adopted.version  # what operators see
        after = await client.run(plan_text=FAN_OUT, timeout_s=WAIT_S)
        await tail.wait_for(lambda: after.run_id in planned(), WAIT_S, f"RunPlanned of run {after.run_id}")

    assert planner.policy == adopted == update.policy and update.policy.version == 1
    assert (await latest_policy(kafka_bootstrap, catalogue)) == update.policy
    assert isinstance(before, RunFinished) and isinstance(after, RunFinished)
    assert before.status == after.status == "succeeded"
    assert before.metrics.makespan_s < 2 * SLEEP_S  # uncapped: the three sleeps overlap
    # Capped at one: the sleeps run one after another, so the makespan is about their sum.
    assert after.metrics.makespan_s >= 0.95 * after.metrics.sequential_s >= 0.95 * 3 * SLEEP_S
    assert planned()[after.run_id].policy_version == update.policy.version
    assert planned()[after.run_id].strategy == "parallel"  # the cap did it, not the sequential strategy


async def test_published_policy_versions_grow_when_the_trainer_publishes_again(
    kafka_bootstrap: str, catalogue: Catalogue
) -> None:
    async def publish(cap: int):
        return await publish_policy(
            kafka_bootstrap, catalogue, KafkaSettings(), Policy(max_parallelism=cap), reason="test", mean_reward=None
        )

    first, second = await publish(3), await publish(2)
    assert (first.policy.version, second.policy.version) == (1, 2)
    assert await latest_policy(kafka_bootstrap, catalogue) == second.policy


def test_trainer_run_publishes_the_learned_policy_when_asked_to(
    kafka_bootstrap: str, catalogue: Catalogue, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("GENESIS_KAFKA_TOPIC_PREFIX", catalogue.prefix)
    document = yaml.safe_load(DEFAULT_TRAINER_CONFIG.read_text())
    document["output"]["reward_curve"] = str(tmp_path / "curve.png")
    config = tmp_path / "trainer.yaml"
    config.write_text(yaml.safe_dump(document))

    result = CliRunner().invoke(
        app, ["trainer", "run", "--episodes", "4", "--publish", "--json", "--config", str(config)]
    )
    assert result.exit_code == 0, result.output
    learned = Policy(**json.loads(result.stdout)["policy"])
    assert learned.version == 1
    assert asyncio.run(latest_policy(kafka_bootstrap, catalogue)) == learned

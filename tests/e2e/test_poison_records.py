"""Poison on every input topic of the planner (requests, results, policies): each bad record is dead-lettered with
its reason, nothing else is disturbed, and the next plan runs. (tasks.ready has its own in
tests/integration/test_executor_faults.py; the journal in tests/e2e/test_planner_faults.py.)"""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaProducer

from schemas import RunFinished
from streams.catalogue import DEAD_LETTERS, POLICY, RUNS_REQUESTED, TASKS_FINISHED, Catalogue
from tests.e2e.system import running_system
from tests.support.tail import tailing

pytestmark = pytest.mark.kafka
WAIT_S = 90

SHAPES: dict[str, bytes] = {
    "not-json": b"\xff\xfe not json",
    "empty": b"",
    "json-array": b"[1, 2, 3]",
    "missing-fields": b'{"type": "RunRequested.v1"}',
    "wrong-field-type": b'{"type": "TaskFinished.v1", "run_id": "r", "task_id": "1", "status": 7}',
    "deeply-nested": b'{"type": "RunRequested.v1", "run_id": "r", "labels": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
    "wrong-event-type": b'{"type": "TaskReady.v1", "run_id": "r", "task_id": "1", "tool": "sleep"}',
}
# A policy that decodes as JSON but would stop dispatch: refused at decode, the planner keeps its policy.
STOPPING_POLICY = b'{"type": "PolicyUpdated.v1", "run_id": "policy", "policy": {"version": 99, "max_attempts": 0}}'


async def test_dead_letters_each_poison_record_and_runs_the_next_plan_when_planner_inputs_hold_garbage(
    kafka_bootstrap: str, catalogue: Catalogue
) -> None:
    inputs = [catalogue.name(spec) for spec in (RUNS_REQUESTED, TASKS_FINISHED)]
    dead = catalogue.name(DEAD_LETTERS)
    client_producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await client_producer.start()
    try:
        async with (
            tailing(kafka_bootstrap, dead, catalogue.name(TASKS_FINISHED)) as tail,
            running_system(kafka_bootstrap, catalogue) as (system, client),
        ):
            policy_before = system.planner.policy
            for topic in inputs:
                for name, body in SHAPES.items():
                    await client_producer.send_and_wait(topic, body, key=f"{topic}/{name}".encode())
                await client_producer.send_and_wait(topic, None, key=f"{topic}/tombstone".encode())
            await client_producer.send_and_wait(catalogue.name(POLICY), STOPPING_POLICY, key=b"planner")

            outcome = await client.run(
                plan_text='Task 1: calculator(expression="6 * 7") | Dependencies: none\n'
                'Task 2: calculator(expression="$1 + 1") | Dependencies: Task 1',
                strategy="parallel",
                timeout_s=WAIT_S,
            )
            expected = len(inputs) * (len(SHAPES) + 1) + 1  # every shape and tombstone on each input, the policy
            await tail.wait_for(lambda: len(tail.on(dead)) >= expected, WAIT_S, f"{expected} dead letters")
            assert system.planner.policy == policy_before
    finally:
        await client_producer.stop()

    assert isinstance(outcome, RunFinished) and outcome.status == "succeeded" and outcome.answer == 43
    letters = {seen.key.decode(): seen.headers["reason"].decode() for seen in tail.on(dead) if seen.key}
    for topic in inputs:
        for name in [*SHAPES, "tombstone"]:
            assert f"{topic}/{name}" in letters, f"no dead letter for {name} on {topic}"
            assert "\n" not in letters[f"{topic}/{name}"]
    assert letters[f"{inputs[0]}/deeply-nested"] == "undecodable: nested too deeply to decode"
    assert letters[f"{inputs[0]}/wrong-event-type"] == "unexpected event type TaskReady on this topic"
    assert "max_attempts is 0" in letters["planner"]

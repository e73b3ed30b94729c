"""Personal data never reaches the warehouse: text fields are scrubbed, structure and figures are kept."""

from __future__ import annotations

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import Plan, RunFinished, RunPlanned, Task, TaskReady, TurnRecorded
from services.curator.core.pii import PiiDetector
from services.warehouse.core.prepare import prepare
from services.warehouse.core.scrubbing import BARE_SHORT_INTEGER, KeepText
from tests.unit.warehouse.events import batch_of, prepared, record, scrubber

EMAIL = "jane.doe@example.com"
DETECTOR = PiiDetector()
PHONE = "+1 415 555 2671"


def test_arguments_and_outputs_are_scrubbed_when_they_hold_personal_data() -> None:
    turn = TurnRecorded(
        run_id="r",
        task_id="1",
        tool_name="http_get",
        arguments=f'{{"to": "{EMAIL}"}}',
        output=f"call {PHONE} today",
        latency_s=0.5,
        arguments_bytes=40,
    )
    (row,) = prepared(turn).derived["turns"].to_pylist()
    assert EMAIL not in row["arguments"] and "[EMAIL]" in row["arguments"]
    assert row["output"] == "call [PHONE] today"
    assert (row["latency_s"], row["arguments_bytes"], row["tool_name"]) == (0.5, 40, "http_get")


def test_stored_payload_is_the_scrubbed_event_when_personal_data_was_found() -> None:
    ready = TaskReady(run_id="r", task_id="7", tool="kb_search", args={"query": f"orders of {EMAIL}", "limit": 5})
    (row,) = prepared(ready).events.to_pylist()
    payload = msgspec.json.decode(row["payload"])
    assert payload["args"] == {"query": "orders of [EMAIL]", "limit": 5}
    assert (payload["task_id"], payload["event_id"]) == ("7", ready.event_id)


def test_nested_answers_and_observations_are_scrubbed_when_a_run_finishes() -> None:
    finished = RunFinished(
        run_id="r", status="succeeded", answer={"contact": [EMAIL, "n/a"]}, observations={"2": f"phone {PHONE}"}
    )
    scrubbed = scrubber().event(finished)
    assert scrubbed.answer == {"contact": ["[EMAIL]", "n/a"]}
    assert scrubbed.observations == {"2": "phone [PHONE]"}


def test_plan_ids_and_dependencies_are_kept_when_its_text_is_scrubbed() -> None:
    plan = Plan(
        tasks=(
            Task(id="T1", tool="kb_search", args={"query": EMAIL}),
            Task(id="T2", description=f"write to {EMAIL}", deps=("T1",)),
        )
    )
    event = RunPlanned(run_id="r", plan=plan, strategy="parallel", levels=[["T1"], ["T2"]], critical_path=["T1", "T2"])
    scrubbed = scrubber().event(event)
    assert [(t.id, t.deps) for t in scrubbed.plan.tasks] == [("T1", ()), ("T2", ("T1",))]
    assert scrubbed.plan.tasks[0].args == {"query": "[EMAIL]"}
    assert scrubbed.plan.tasks[1].description == "write to [EMAIL]"


def test_event_is_stored_as_it_came_when_it_holds_no_personal_data() -> None:
    ready = TaskReady(run_id="r", task_id="1", tool="calculator", args={"expression": "68400000 / 83200000"})
    assert scrubber().event(ready) is ready
    incoming = record(ready)
    (row,) = prepared(incoming).events.to_pylist()
    assert row["payload"] == incoming.value.decode()


def test_unknown_event_keeps_its_envelope_when_its_strings_are_scrubbed() -> None:
    future = msgspec.json.encode({"type": "Note.v1", "event_id": "n-1", "run_id": "r", "text": f"mail {EMAIL}"})
    (row,) = prepared(future).events.to_pylist()
    assert msgspec.json.decode(row["payload"]) == {
        "type": "Note.v1",
        "event_id": "n-1",
        "run_id": "r",
        "text": "mail [EMAIL]",
    }


def test_text_is_stored_as_it_came_when_scrubbing_is_off() -> None:
    ready = TaskReady(run_id="r", task_id="1", tool="kb_search", args={"query": EMAIL})
    (row,) = prepare(batch_of(ready), KeepText()).events.to_pylist()
    assert EMAIL in row["payload"]


def test_replacements_are_counted_when_text_is_scrubbed() -> None:
    text_scrubber = scrubber()
    text_scrubber.event(TaskReady(run_id="r", task_id="1", tool="t", args={"a": EMAIL, "b": PHONE}))
    assert text_scrubber.replaced == 2


@settings(max_examples=2000, deadline=None)
@given(st.integers(min_value=-(10**12) + 1, max_value=10**12 - 1))
def test_detector_finds_nothing_in_bare_short_integers_which_the_warehouse_skips(number: int) -> None:
    text = str(number)
    assert BARE_SHORT_INTEGER.fullmatch(text)
    assert DETECTOR.detect(text) == []

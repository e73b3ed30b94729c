"""The generated documents match the code: AsyncAPI, the Strimzi topics, the README's configuration table."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import msgspec
import pytest
import yaml

from schemas import RunRequested, TaskReady, encode_event
from services.cli import contracts
from streams.catalogue import TOPIC_SPECS, Catalogue

PROJECT = Path(__file__).resolve().parents[3]
ASYNCAPI = PROJECT / "docs" / "asyncapi.yaml"


def test_committed_asyncapi_document_is_current_when_compared_with_the_code() -> None:
    assert ASYNCAPI.read_text() == contracts.asyncapi_yaml(), "docs/asyncapi.yaml is stale: run genesis docs asyncapi"


def test_asyncapi_has_every_topic_with_its_events_when_generated() -> None:
    document = yaml.safe_load(contracts.asyncapi_yaml())
    catalogue = Catalogue()
    assert document["asyncapi"].startswith("3.")
    assert list(document["channels"]) == catalogue.names()
    for spec in TOPIC_SPECS:
        channel = document["channels"][catalogue.name(spec)]
        assert channel["bindings"]["kafka"]["partitions"] == spec.partitions
        if spec.events:
            assert list(channel["messages"]) == [event.__name__ for event in spec.events]
        operation = document["operations"][catalogue.name(spec)]
        assert operation["action"] == "send" and len(operation["messages"]) == len(channel["messages"])


def test_asyncapi_document_is_valid_for_faststreams_asyncapi_3_model_when_parsed() -> None:
    from faststream.specification.asyncapi.v3_0_0.schema import ApplicationSchema

    parsed = ApplicationSchema.model_validate(yaml.safe_load(ASYNCAPI.read_text()))
    assert set(parsed.components.messages) >= {event.__name__ for spec in TOPIC_SPECS for event in spec.events}
    assert all(operation.action == "send" for operation in parsed.operations.values())


@pytest.mark.parametrize(
    "event",
    [
        RunRequested(run_id="r1", plan_text="Task 1: sleep(seconds=0) | Dependencies: none", labels={"job": "x"}),
        TaskReady(run_id="r1", task_id="1", tool="sleep", args={"seconds": 0}),
    ],
    ids=lambda event: type(event).__name__,
)
def test_asyncapi_schema_accepts_the_bytes_a_producer_sends_when_validated(event: msgspec.Struct) -> None:
    document = yaml.safe_load(contracts.asyncapi_yaml())
    schema = {
        "$ref": f"#/components/schemas/{type(event).__name__}",
        "components": {"schemas": document["components"]["schemas"]},
    }
    jsonschema.validate(msgspec.json.decode(encode_event(event)), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"type": type(event).__name__ + ".v1"}, schema)  # required fields missing


def test_committed_kafka_topics_are_current_when_compared_with_the_catalogue() -> None:
    committed = (PROJECT / "deploy" / "k8s" / "topics.yaml").read_text()
    assert committed == contracts.kafka_topics_yaml(), "deploy/k8s/topics.yaml is stale: run genesis docs k8s-topics"


def test_readme_configuration_table_is_current_when_compared_with_the_settings() -> None:
    readme = (PROJECT / "README.md").read_text()
    assert contracts.with_config_table(readme, contracts.config_table()) == readme, (
        "README.md's configuration table is stale: run genesis docs config"
    )


def test_every_section_of_the_config_file_is_read_by_some_service_when_listed() -> None:
    keys = {key for key, *_ in contracts.config_rows()}
    assert {"kafka.bootstrap_servers", "executor.group_id", "warehouse.dir", "curator.reports_dir"} <= keys
    for key, variable, _, _ in contracts.config_rows():
        section, name = key.split(".", 1)
        assert variable.startswith(f"GENESIS_{section}_{name}".upper())


def test_docs_check_fails_when_the_document_is_stale(genesis, tmp_path: Path) -> None:
    stale = tmp_path / "asyncapi.yaml"
    stale.write_text("asyncapi: 3.0.0\n")
    assert genesis("docs", "asyncapi", str(stale), "--check").exit_code == 1
    assert genesis("docs", "asyncapi", str(stale)).exit_code == 0
    assert genesis("docs", "asyncapi", str(stale), "--check").exit_code == 0


def test_guides_linked_from_the_readme_exist_when_followed() -> None:
    import re

    path = PROJECT / "README.md"
    links = [link for link in re.findall(r"\]\(([^)#]+)\)", path.read_text()) if not link.startswith("http")]
    assert links
    assert [link for link in links if not (path.parent / link).exists()] == []

"""Documents generated from the code, so they cannot drift from it: the AsyncAPI contract of every topic, the
Strimzi KafkaTopic resources, and the README's table of configuration keys. Tests fail when a committed copy
differs from what these functions produce (regenerate with `genesis docs ...`)."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import msgspec
import yaml
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI

from configs.settings import DEFAULT_CONFIG_FILE, load_section
from streams.catalogue import DAY_MS, DEAD_LETTERS, TOPIC_SPECS, Catalogue, TopicSpec
from streams.settings import KafkaSettings

SERVER = "kafka:9092"
STRIMZI_CLUSTER = "genesis"
TOPIC_REPLICAS = 3
# What streams/outbox.py and streams/inbox.py put in the Kafka headers.
EVENT_HEADERS = {
    "event-type": "The event's tag, e.g. RunRequested.v1 (read before decoding).",
    "source": "The process that published it.",
}
DEAD_LETTER_HEADERS = {
    "reason": "Why the consumer could not use the record.",
    "consumer": "The consumer that parked it.",
    "topic": "The topic it came from (where genesis dlq replay sends it back).",
    "partition": "Its partition there.",
    "offset": "Its offset there.",
}


def asyncapi_document(catalogue: Catalogue | None = None) -> dict[str, Any]:
    """AsyncAPI 3.0: FastStream's generator lays out the server, one channel and one send operation per topic;
    each channel then carries one message per event type on it, with the event's JSON schema from msgspec."""
    catalogue = catalogue or Catalogue()
    broker = KafkaBroker(
        SERVER, description="The cluster in KAFKA_BOOTSTRAP_SERVERS (configs/genesis.yaml: kafka.bootstrap_servers)"
    )
    for spec in TOPIC_SPECS:
        broker.publisher(catalogue.name(spec), title=catalogue.name(spec), description=_topic_description(spec))
    document = (
        AsyncAPI(
            broker,
            title="Genesis GAP events",
            version=package_version("genesis-gap"),
            description="Every event on every topic of streams/catalogue.py, schemas from schemas/events.py.",
        )
        .to_specification()
        .to_jsonable()
    )

    event_types = sorted({event for spec in TOPIC_SPECS for event in spec.events}, key=lambda event: event.__name__)
    _, schemas = msgspec.json.schema_components(event_types, ref_template="#/components/schemas/{name}")
    components = document.setdefault("components", {})
    components["schemas"] = dict(sorted(schemas.items()))
    components["schemas"]["RawBytes"] = {
        "type": "string",
        "format": "binary",
        "description": "Bytes as a producer or consumer left them, not an event of this catalogue.",
    }
    messages = {
        event.__name__: {
            "name": event.__name__,
            "title": event.__name__,
            "summary": _first_line(event.__doc__),
            "contentType": "application/json",
            "payload": {"$ref": f"#/components/schemas/{event.__name__}"},
        }
        for event in event_types
    }
    for message in messages.values():
        message["headers"] = _headers(EVENT_HEADERS)
    messages["InternalRecord"] = {
        "name": "InternalRecord",
        "title": "InternalRecord",
        "summary": "A service's own record (the planner's changelog and finished runs): not for other consumers.",
        "contentType": "application/octet-stream",
        "payload": {"$ref": "#/components/schemas/RawBytes"},
    }
    messages["DeadLetter"] = {
        "name": "DeadLetter",
        "title": "DeadLetter",
        "summary": "A record a consumer could not use, unchanged, with why and where from (genesis dlq list).",
        "contentType": "application/octet-stream",
        "payload": {"$ref": "#/components/schemas/RawBytes"},
        "headers": _headers(DEAD_LETTER_HEADERS),
    }
    components["messages"] = messages
    order = [catalogue.name(spec) for spec in TOPIC_SPECS]
    document["channels"] = {name: document["channels"][name] for name in order}
    document["operations"] = {name: document["operations"][name] for name in order}
    for spec in TOPIC_SPECS:
        name = catalogue.name(spec)
        carried = [event.__name__ for event in spec.events] or [
            "DeadLetter" if spec is DEAD_LETTERS else "InternalRecord"
        ]
        channel = document["channels"][name]
        channel["messages"] = {message: {"$ref": f"#/components/messages/{message}"} for message in carried}
        channel["bindings"]["kafka"].update(partitions=spec.partitions, topicConfiguration=_topic_configuration(spec))
        document["operations"][name]["messages"] = [
            {"$ref": f"#/channels/{_pointer(name)}/messages/{message}"} for message in carried
        ]
    return document


def asyncapi_yaml(catalogue: Catalogue | None = None) -> str:
    header = "# Generated by `genesis docs asyncapi` from streams/catalogue.py and schemas/; do not edit.\n"
    return header + yaml.safe_dump(asyncapi_document(catalogue), sort_keys=False, allow_unicode=True, width=120)


def kafka_topics(catalogue: Catalogue | None = None) -> list[dict[str, Any]]:
    """One Strimzi KafkaTopic per catalogue topic, for the cluster in deploy/k8s/kafka.yaml, configured as
    `genesis kafka topics` creates them (streams/admin.py): the catalogue's configs and kafka.max_message_bytes."""
    catalogue = catalogue or Catalogue()
    kafka = load_section("kafka", KafkaSettings, environ={})  # configs/genesis.yaml as committed
    return [
        {
            "apiVersion": "kafka.strimzi.io/v1beta2",
            "kind": "KafkaTopic",
            "metadata": {
                "name": catalogue.name(spec).replace(".", "-"),
                "labels": {"strimzi.io/cluster": STRIMZI_CLUSTER, "app.kubernetes.io/part-of": "genesis"},
            },
            "spec": {
                "topicName": catalogue.name(spec),
                "partitions": spec.partitions,
                "replicas": TOPIC_REPLICAS,
                "config": {**spec.configs(), "max.message.bytes": str(kafka.max_message_bytes)},
            },
        }
        for spec in TOPIC_SPECS
    ]


def kafka_topics_yaml(catalogue: Catalogue | None = None) -> str:
    header = "# Generated by `genesis docs k8s-topics` from streams/catalogue.py; do not edit.\n"
    return header + yaml.safe_dump_all(kafka_topics(catalogue), sort_keys=False, explicit_start=True)


def _headers(described: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {name: {"type": "string", "description": text} for name, text in described.items()},
    }


def _topic_description(spec: TopicSpec) -> str:
    events = ", ".join(event.__name__ for event in spec.events) or "raw records (no events of the catalogue)"
    kept = "compacted" if spec.compacted else f"kept {spec.retention_ms // DAY_MS} days" if spec.retention_ms else ""
    partitions = f"{spec.partitions} partition{'s' if spec.partitions > 1 else ''}"
    return f"Carries {events}. Key: {spec.key_doc}. {partitions}, {kept}."


def _topic_configuration(spec: TopicSpec) -> dict[str, Any]:
    configs = spec.configs()
    result: dict[str, Any] = {"cleanup.policy": [configs["cleanup.policy"]]}
    if "retention.ms" in configs:
        result["retention.ms"] = int(configs["retention.ms"])
    result["max.message.bytes"] = load_section("kafka", KafkaSettings, environ={}).max_message_bytes
    return result


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0] if text and text.strip() else ""


def _pointer(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


# --- The README's table of configuration keys ---------------------------------------------------------------------

CONFIG_TABLE_START = "<!-- config-table:start (generated by `genesis docs config`; do not edit) -->"
CONFIG_TABLE_END = "<!-- config-table:end -->"
_SOURCE_PACKAGES = ("streams", "services", "deploy", "configs")


def settings_sections() -> dict[str, type[msgspec.Struct]]:
    """Every section a service reads, found where the code reads it: each ``load_section("name", Type)`` call."""
    root = Path(__file__).resolve().parents[2]
    found: dict[str, type[msgspec.Struct]] = {}
    for package in _SOURCE_PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            for call in ast.walk(ast.parse(path.read_text(), str(path))):
                if (
                    isinstance(call, ast.Call)
                    and getattr(call.func, "id", None) == "load_section"
                    and len(call.args) >= 2
                    and isinstance(call.args[0], ast.Constant)
                    and isinstance(call.args[1], ast.Name)
                ):
                    module = ".".join(path.relative_to(root).with_suffix("").parts)
                    found[call.args[0].value] = getattr(importlib.import_module(module), call.args[1].id)
    return found


def config_rows(config_file: Path = DEFAULT_CONFIG_FILE) -> list[tuple[str, str, str, str]]:
    """(key, environment variable, default, what it does) for every key of every section, in the file's order."""
    text = config_file.read_text()
    document = yaml.safe_load(text) or {}
    comments = _key_comments(text)
    sections = settings_sections()
    if unread := sorted(set(document) - set(sections)):
        raise ValueError(f"{config_file}: no code reads section(s) {', '.join(unread)}")
    rows = []
    for section in [*document, *sorted(set(sections) - set(document))]:
        values = document.get(section) or {}
        fields = msgspec.structs.fields(sections[section])
        ordered = [*values, *(field.name for field in fields if field.name not in values)]
        defaults = {field.name: field.default for field in fields}
        for key in ordered:
            default = values[key] if key in values else defaults.get(key)
            variable = f"GENESIS_{section}_{key}".upper()
            if section == "kafka" and key == "bootstrap_servers":
                variable += "`, `KAFKA_BOOTSTRAP_SERVERS"
            what = comments.get((section, key)) or _field_comments(sections[section]).get(key, "")
            rows.append((f"{section}.{key}", variable, _yaml_scalar(default), what))
    return rows


def config_table(config_file: Path = DEFAULT_CONFIG_FILE) -> str:
    lines = [
        CONFIG_TABLE_START,
        "| key | environment variable | default | what |",
        "|---|---|---|---|",
        *(
            f"| `{key}` | `{variable}` | `{default}` | {what.replace('|', '&#124;')} |"
            for key, variable, default, what in config_rows(config_file)
        ),
        CONFIG_TABLE_END,
    ]
    return "\n".join(lines)


def with_config_table(readme: str, table: str) -> str:
    """``readme`` with the text between the table's markers replaced by ``table``."""
    start, end = readme.find(CONFIG_TABLE_START), readme.find(CONFIG_TABLE_END)
    if start < 0 or end < start:
        raise ValueError(f"README.md has no {CONFIG_TABLE_START} ... {CONFIG_TABLE_END} markers")
    return readme[:start] + table + readme[end + len(CONFIG_TABLE_END) :]


def _key_comments(text: str) -> dict[tuple[str, str], str]:
    """The comment after each top-level key of a section (``  key: value  # comment``)."""
    comments: dict[tuple[str, str], str] = {}
    section = None
    for line in text.splitlines():
        if match := re.match(r"^([a-z_]+):", line):
            section = match.group(1)
        elif section and (match := re.match(r"^  ([a-z_0-9]+):[^#]*?(?:#\s*(.*))?$", line)):
            comments[(section, match.group(1))] = (match.group(2) or "").strip()
    return comments


def _field_comments(settings_type: type) -> dict[str, str]:
    """The comment on, or on the lines just above, each field of a settings class."""
    comments: dict[str, str] = {}
    above: list[str] = []
    for line in inspect.getsource(settings_type).splitlines()[1:]:
        stripped = line.strip()
        if stripped.startswith("#"):
            above.append(stripped.lstrip("# "))
        elif match := re.match(r"^([a-z_0-9]+)\s*:[^#]*(?:#\s*(.*))?$", stripped):
            comments[match.group(1)] = (match.group(2) or " ".join(above)).strip()
            above = []
        else:
            above = []
    return comments


def _yaml_scalar(value: Any) -> str:
    if isinstance(value, msgspec.structs.NODEFAULT.__class__) or value is msgspec.NODEFAULT:
        return ""
    return yaml.safe_dump(value, default_flow_style=True, width=1000).strip().removesuffix("...").strip()

"""OpenTelemetry tracing for a service process: spans are made whenever tracing is on (so trace ids travel in
Kafka headers and land in the warehouse), and exported where configured: to an OTLP/HTTP collector, and to
JSON-lines files (one per process, for tests and for looking at one machine's spans without a collector).

Span names follow the OpenTelemetry GenAI conventions: ``invoke_workflow`` (a run), ``plan``,
``execute_tool {tool}``, ``chat {model}``; FastStream adds ``{topic} publish`` / ``{topic} process`` spans.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import msgspec
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from configs.settings import load_section

# GenAI semantic-convention attribute names used by the services.
OPERATION = "gen_ai.operation.name"
TOOL_NAME = "gen_ai.tool.name"
TOOL_CALL_ID = "gen_ai.tool.call.id"
REQUEST_MODEL = "gen_ai.request.model"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
CONVERSATION_ID = "gen_ai.conversation.id"  # the run id: every span of a run carries it
ERROR_TYPE = "error.type"


class TelemetrySettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    # Spans are made (and their context sent in Kafka headers) only when this is on.
    tracing: bool = True
    # An OTLP/HTTP traces endpoint, e.g. http://localhost:4318/v1/traces; null: no export to a collector.
    otlp_endpoint: str | None = None
    # A folder: each process appends its finished spans to <folder>/<service name>.jsonl; null: none.
    span_dir: str | None = None
    # The address the metrics and health endpoint listens on (each service's own metrics_port).
    metrics_host: str = "0.0.0.0"


def load_telemetry_settings() -> TelemetrySettings:
    return load_section("telemetry", TelemetrySettings)


def configure_tracing(settings: TelemetrySettings, *, service: str, instance: str) -> TracerProvider | None:
    """Install the process's tracer provider (once, at start-up); None when tracing is off."""
    provider = tracer_provider(settings, service=service, instance=instance)
    if provider is not None:
        trace.set_tracer_provider(provider)
    return provider


def tracer_provider(settings: TelemetrySettings, *, service: str, instance: str) -> TracerProvider | None:
    """A tracer provider with the configured exporters; None when tracing is off."""
    if not settings.tracing:
        return None
    provider = TracerProvider(
        resource=Resource.create({"service.name": f"genesis-{service}", "service.instance.id": instance})
    )
    if settings.otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otlp_endpoint)))
    if settings.span_dir:
        exporter = JsonLinesSpanExporter(Path(settings.span_dir).expanduser() / f"{instance}.jsonl")
        provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=200))
    return provider


class SpanRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One finished span as the JSON-lines exporter writes it."""

    name: str
    trace_id: str
    span_id: str
    parent_span_id: str | None
    kind: str
    service: str
    start_ns: int
    end_ns: int
    status: str
    attributes: dict[str, object]


class JsonLinesSpanExporter(SpanExporter):
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._lock = threading.Lock()
        self._encoder = msgspec.json.Encoder()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = b"".join(self._encoder.encode(span_record(span)) + b"\n" for span in spans)
        with self._lock, self._path.open("ab") as file:
            file.write(lines)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


def span_record(span: ReadableSpan) -> SpanRecord:
    context = span.get_span_context()
    return SpanRecord(
        name=span.name,
        trace_id=f"{context.trace_id:032x}",
        span_id=f"{context.span_id:016x}",
        parent_span_id=f"{span.parent.span_id:016x}" if span.parent is not None else None,
        kind=span.kind.name,
        service=str(span.resource.attributes.get("service.name", "")),
        start_ns=span.start_time or 0,
        end_ns=span.end_time or 0,
        status=span.status.status_code.name,
        attributes={key: _plain(value) for key, value in (span.attributes or {}).items()},
    )


def read_spans(path: Path) -> list[SpanRecord]:
    decoder = msgspec.json.Decoder(SpanRecord)
    return [decoder.decode(line) for line in path.read_bytes().splitlines() if line.strip()]


def _plain(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


def shutdown_tracing(provider: TracerProvider | None) -> None:
    """Export what is still buffered; called when the service stops."""
    if provider is not None:
        provider.shutdown()

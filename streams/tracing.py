"""Trace context in Kafka headers (W3C ``traceparent``), so that one run is one trace across services.

FastStream's telemetry middleware (streams/broker.py) injects and extracts the header for everything sent and
received through a broker. Code that talks to Kafka without one (a raw aiokafka producer or consumer) calls the
helpers below instead: ``kafka_headers()`` for ``producer.send(..., headers=...)``, ``context_from_headers()`` for
a consumed record, ``trace_ids()`` to store the ids next to a record's rows.

A run's events are often published away from the message that caused them (the planner's flush loop), where no
span is current. The planner therefore records each run's trace context in ``RUN_TRACES``; a publisher that has
no current span sends a run's events in that run's context (``run_context``).
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

TRACEPARENT = "traceparent"
_PROPAGATOR = TraceContextTextMapPropagator()


def trace_headers(context: Context | None = None) -> dict[str, str]:
    """The W3C trace headers of ``context`` (default: the current one); empty when no span is recording."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=context)
    return carrier


def kafka_headers(context: Context | None = None) -> list[tuple[str, bytes]]:
    """The same as aiokafka wants them: ``producer.send(topic, value, headers=kafka_headers())``."""
    return [(name, value.encode()) for name, value in trace_headers(context).items()]


def context_from_headers(headers: Iterable[tuple[str, bytes]] | Mapping[str, str] | None) -> Context:
    """The trace context a record carries (an empty context when it carries none)."""
    if headers is None:
        return Context()
    if isinstance(headers, Mapping):
        return _PROPAGATOR.extract(dict(headers))
    return _PROPAGATOR.extract({name: value.decode("latin-1") for name, value in headers if value is not None})


def traceparent_of(headers: Iterable[tuple[str, bytes]] | None) -> bytes | None:
    """The raw ``traceparent`` header of a consumed record, if it has one (cheap: no parsing)."""
    for name, value in headers or ():
        if name == TRACEPARENT:
            return value
    return None


def trace_ids(traceparent: bytes | str | None) -> tuple[str | None, str | None]:
    """(trace id, span id) in hex from a ``traceparent`` value ``00-<32 hex>-<16 hex>-<flags>``; Nones when absent
    or malformed (a bad header is not worth failing a record for)."""
    if not traceparent:
        return None, None
    text = traceparent.decode("ascii", errors="replace") if isinstance(traceparent, bytes) else traceparent
    parts = text.split("-")
    if len(parts) < 4 or len(parts[1]) != 32 or len(parts[2]) != 16:
        return None, None
    return parts[1], parts[2]


class RunTraces:
    """The trace context of each run this process drives, oldest forgotten first beyond ``capacity``."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._contexts: OrderedDict[str, Context] = OrderedDict()
        self._capacity = capacity

    def remember(self, run_id: str, context: Context) -> None:
        self._contexts[run_id] = context
        self._contexts.move_to_end(run_id)
        while len(self._contexts) > self._capacity:
            self._contexts.popitem(last=False)

    def get(self, run_id: str) -> Context | None:
        return self._contexts.get(run_id)

    def forget(self, run_id: str) -> None:
        self._contexts.pop(run_id, None)

    def __contains__(self, run_id: object) -> bool:
        return run_id in self._contexts

    def __len__(self) -> int:
        return len(self._contexts)


RUN_TRACES = RunTraces()


@contextlib.contextmanager
def run_context(run_id: str | None) -> Iterator[None]:
    """Make the run's trace current while its event is sent, unless a span is current already (then the event
    belongs to that span: an executor's tool call, a handler's processing)."""
    context = RUN_TRACES.get(run_id) if run_id else None
    if context is None or trace.get_current_span().get_span_context().is_valid:
        yield
        return
    token = otel_context.attach(context)
    try:
        yield
    finally:
        otel_context.detach(token)

"""A ``chat {model}`` span (OpenTelemetry GenAI conventions) around every model call, with its token usage."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from services.runtime.telemetry import ERROR_TYPE, INPUT_TOKENS, OPERATION, OUTPUT_TOKENS, REQUEST_MODEL


class _Usage(Protocol):
    input_tokens: int
    output_tokens: int
    model: str


CompleteT = TypeVar("CompleteT", bound=Callable[..., Awaitable[Any]])
_tracer = trace.get_tracer("genesis.llm")


def traced_chat(complete: CompleteT) -> CompleteT:
    """Decorates ``ChatClient.complete``: the call is a client span named after the requested model."""

    @functools.wraps(complete)
    async def traced(self: Any, *args: Any, **kwargs: Any) -> Any:
        model = str(getattr(self, "model", "unknown"))
        with _tracer.start_as_current_span(
            f"chat {model}",
            kind=trace.SpanKind.CLIENT,
            attributes={OPERATION: "chat", REQUEST_MODEL: model, "gen_ai.provider.name": "openai"},
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                completion: _Usage = await complete(self, *args, **kwargs)
            except Exception as error:
                span.set_attribute(ERROR_TYPE, type(error).__name__)
                span.set_status(Status(StatusCode.ERROR, str(error)[:200]))
                raise
            span.set_attribute("gen_ai.response.model", completion.model)
            span.set_attribute(INPUT_TOKENS, completion.input_tokens)
            span.set_attribute(OUTPUT_TOKENS, completion.output_tokens)
            return completion

    return traced  # type: ignore[return-value]

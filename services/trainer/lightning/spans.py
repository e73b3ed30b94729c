"""A RunTrace as Agent Lightning spans: the run, its turns, and the reward as a multi-dimensional reward span."""

from __future__ import annotations

import agentlightning as agl

from services.trainer.core.traces import RunTrace, TraceSpan

# The reward dimension find_final_reward reads; the components follow it.
TOTAL = "total"


def span_fields(trace: RunTrace) -> list[agl.SpanCoreFields]:
    spans = [core_span(span) for span in trace.spans]
    reward = agl.emit_reward({TOTAL: trace.reward.total, **trace.reward.components}, primary_key=TOTAL, propagate=False)
    # Stamped when the run ended, so the reward sits at the end of the run's timeline.
    ended = max((span.end_s for span in trace.spans), default=None)
    if ended is not None:
        reward = reward.model_copy(update={"start_time": ended, "end_time": ended})
    return [*spans, reward]


def core_span(span: TraceSpan) -> agl.SpanCoreFields:
    return agl.SpanCoreFields(
        name=span.name,
        attributes=dict(span.attributes),
        start_time=span.start_s,
        end_time=span.end_s,
        status=agl.TraceStatus(status_code="ERROR", description=span.error)
        if span.error is not None
        else agl.TraceStatus(status_code="OK"),
    )

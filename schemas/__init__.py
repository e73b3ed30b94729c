"""Genesis GAP event schemas: import this alone to produce or consume Genesis events."""

from schemas.codec import UndecodableEvent, UnknownEvent, decode_event, encode_event, event_type_name
from schemas.events import (
    EVENT_TYPES,
    AnyEvent,
    Event,
    PolicyUpdated,
    RewardAssigned,
    RunFinished,
    RunMetrics,
    RunPlanned,
    RunRejected,
    RunRequested,
    RunStatus,
    TaskFinished,
    TaskReady,
    TaskSkipped,
    TurnRecorded,
    new_event_id,
    utc_now,
)
from schemas.plan import Plan, Task
from schemas.policy import Policy

__all__ = [
    "EVENT_TYPES",
    "AnyEvent",
    "Event",
    "Plan",
    "Policy",
    "PolicyUpdated",
    "RewardAssigned",
    "RunFinished",
    "RunMetrics",
    "RunPlanned",
    "RunRejected",
    "RunRequested",
    "RunStatus",
    "Task",
    "TaskFinished",
    "TaskReady",
    "TaskSkipped",
    "TurnRecorded",
    "UndecodableEvent",
    "UnknownEvent",
    "decode_event",
    "encode_event",
    "event_type_name",
    "new_event_id",
    "utc_now",
]

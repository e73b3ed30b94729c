"""Facts the planner records for itself, so that replaying a run's journal rebuilds exactly the same state.

These are not (yet) in schemas/: they travel only on the planner's own journal (changelog) topic. Each is an Event
of the same tagged union style, so one decoder reads the whole journal: the public events the planner emitted and
consumed (RunPlanned, TaskReady, TaskFinished, TaskSkipped, RunFinished) and these.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from schemas.events import AnyEvent, Event
from schemas.policy import Policy
from services.planner.core.scheduling import SchedulingConfig


class RunConfigured(Event, kw_only=True, tag="RunConfigured.v1"):
    """The settings a run keeps for its whole life, fixed when it was planned (a later PolicyUpdated does not
    change a run in flight), and what RunFinished copies from the request."""

    policy: Policy
    config: SchedulingConfig
    expected_answer: str | None = None
    labels: dict[str, str] = {}


class TaskRetryScheduled(Event, kw_only=True, tag="TaskRetryScheduled.v1"):
    """A failed attempt will be followed by ``attempt`` at ``due_at``: the jittered backoff, stored so a replay
    does not draw it again."""

    task_id: str
    attempt: int
    due_at: datetime
    reason: str


class TaskLeaseExpired(Event, kw_only=True, tag="TaskLeaseExpired.v1"):
    """No result for ``attempt`` within its timeout plus grace: it counts as a failed attempt (re-dispatched at once
    while attempts are left, otherwise the task fails with ``reason``)."""

    task_id: str
    attempt: int
    reason: str


JournalEvent = RunConfigured | TaskRetryScheduled | TaskLeaseExpired
JournalEntry = AnyEvent | JournalEvent

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(JournalEntry)


def encode_journal_entry(event: Event) -> bytes:
    return _encoder.encode(event)


def decode_journal_entry(data: bytes) -> Event:
    """One journal record; msgspec.ValidationError/DecodeError for bytes that are not one."""
    return _decoder.decode(data)

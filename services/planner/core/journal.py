"""Facts the planner records for itself, so that replaying a run's journal rebuilds exactly the same state.

These are not (yet) in schemas/: they travel only on the planner's own journal (changelog) topic. Each is an Event
of the same tagged union style, so one decoder reads the whole journal: the public events the planner emitted and
consumed (RunPlanned, TaskReady, TaskFinished, TaskSkipped, RunFinished) and these.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
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
    # The request's allowed_tools, which a sub-plan (re-planning) must keep to as well.
    allowed_tools: list[str] | None = None
    # The tokens of the model calls that drafted the plan (a query's): the run's token total starts from them.
    planning_tokens: int = 0


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


class AnswerRequested(Event, kw_only=True, tag="AnswerRequested.v1"):
    """Every task settled and the run's answer is to be written by the LLM (answer synthesis, a stage of its own):
    the run finishes when the answer comes back, or at ``due_at`` with its tasks' results."""

    due_at: datetime


class ReplanRequested(Event, kw_only=True, tag="ReplanRequested.v1"):
    """Task ``task_id`` failed for good and the LLM is asked for a sub-plan in its place (re-planning, a stage of
    its own): the tasks that need it wait until the sub-plan comes back, or until ``due_at``, when they are skipped
    as without re-planning. ``replan`` counts the run's re-plans, this one included (the new tasks' id prefix)."""

    task_id: str
    replan: int
    error: str
    due_at: datetime


class ReplanFailed(Event, kw_only=True, tag="ReplanFailed.v1"):
    """No usable sub-plan for ``task_id`` (the model failed, its plan was bad, or it came too late): the run goes
    on as without re-planning, and ``reason`` joins the failure's reason."""

    task_id: str
    reason: str
    # The tokens of the model calls that wrote no usable sub-plan (its turns): the run counts them all the same.
    tokens: int = 0


JournalEvent = RunConfigured | TaskRetryScheduled | TaskLeaseExpired | AnswerRequested | ReplanRequested | ReplanFailed
JournalEntry = AnyEvent | JournalEvent

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(JournalEntry)
_list_decoder = msgspec.json.Decoder(list[JournalEntry])


def encode_journal_entry(event: Event) -> bytes:
    return _encoder.encode(event)


def decode_journal_entry(data: bytes) -> Event:
    """One journal record; msgspec.ValidationError/DecodeError for bytes that are not one."""
    return _decoder.decode(data)


# -- the journal topic's records ----------------------------------------------------------------------------------
# A run's journal is a series of records keyed ``run_id/seq``: each holds the entries appended since the previous
# one, and ``seq`` is the position of its first entry, so the records of a run sort into its history. Each change
# writes only what it added (the journal grows with the changes, not with their square); a finished run gets a
# tombstone on each of its keys, and compaction forgets it. A run whose journal holds many records gets a snapshot
# (services/planner/runbook.py): its whole history again, in as few records as the size limit allows, at the
# positions of their first entries, with tombstones on its other keys, so a take-over reads few records per run.
# Records keyed by a bare run id (the whole history in one value, as written before) still read as one record at
# position 0.


def encode_journal(entries: Iterable[Event]) -> bytes:
    return _encoder.encode(list(entries))


def encode_journal_records(entries: Sequence[Event], *, first: int, max_bytes: int) -> list[tuple[int, bytes]]:
    """``entries`` (positions ``first``, ``first + 1``, ...) as consecutive records of at most ``max_bytes`` each:
    (seq, value) pairs, seq being the position of the record's first entry. Entries that do not fit one record
    are encoded one by one and the records joined from those bytes (the same bytes ``encode_journal`` writes).
    An entry larger than ``max_bytes`` on its own travels alone: the producer refuses it and names its size."""
    if not entries:
        return []
    whole = _encoder.encode(entries)
    if len(whole) <= max_bytes or len(entries) == 1:  # the usual case: one record, one encoding
        return [(first, whole)]
    records: list[tuple[int, bytes]] = []
    chunk: list[bytes] = []
    size, seq = 2, first  # the list's brackets
    for position, entry in enumerate(entries, start=first):
        encoded = _encoder.encode(entry)
        if chunk and size + len(encoded) + 1 > max_bytes:
            records.append((seq, b"[" + b",".join(chunk) + b"]"))
            chunk, size, seq = [], 2, position
        chunk.append(encoded)
        size += len(encoded) + (1 if len(chunk) > 1 else 0)
    if chunk:
        records.append((seq, b"[" + b",".join(chunk) + b"]"))
    return records


def decode_journal(data: bytes) -> list[Event]:
    """One record's entries; msgspec.ValidationError/DecodeError for bytes that are not a journal record."""
    return _list_decoder.decode(data)


def journal_key(run_id: str, seq: int) -> bytes:
    return f"{run_id}/{seq}".encode()


def split_journal_key(key: bytes) -> tuple[str, int]:
    """(run id, position of the record's first entry); a key without a position is a whole history at 0."""
    text = key.decode("utf-8", "surrogateescape")
    run_id, slash, seq = text.rpartition("/")
    if slash and seq.isdigit() and seq.isascii():
        return run_id, int(seq)
    return text, 0


def group_journal(values: Mapping[bytes, bytes]) -> dict[str, list[tuple[int, bytes, bytes]]]:
    """A partition's latest values grouped by run: (seq, key, value) in journal order."""
    runs: dict[str, list[tuple[int, bytes, bytes]]] = {}
    for key, value in values.items():
        run_id, seq = split_journal_key(key)
        runs.setdefault(run_id, []).append((seq, key, value))
    for records in runs.values():
        records.sort(key=lambda record: record[0])
    return runs

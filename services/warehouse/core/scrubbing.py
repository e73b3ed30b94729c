"""Personal data out before storage: the text fields of each event pass through the curator's PII scrubber.

Only the fields that carry user or tool text are scrubbed (arguments, results, prompts, answers, errors); ids,
timestamps and figures are left alone, so a scrubbed event still joins and aggregates like the original.
Every string inside a structured field (a task's arguments, a result) is scrubbed on its own, never the
serialised JSON, so placeholders cannot break the JSON and quotes cannot hide a value from the detector.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import msgspec

from schemas import (
    Plan,
    RunFinished,
    RunPlanned,
    RunRejected,
    RunReplanned,
    RunRequested,
    TaskFinished,
    TaskReady,
    TaskSkipped,
    TurnRecorded,
    UnknownEvent,
)
from services.curator.core.spans import Span

Scrub = Callable[[str], tuple[str, list[Span]]]

# Per event type, the fields that may hold personal data. Policy and reward events carry only figures and
# trainer-written templates, so they have none.
TEXT_FIELDS: dict[type, tuple[str, ...]] = {
    RunRequested: ("plan", "plan_text", "query", "expected_answer"),
    RunRejected: ("reason",),
    RunPlanned: ("plan",),
    RunReplanned: ("plan", "reason"),
    TaskReady: ("args", "description"),
    TaskFinished: ("result", "error"),
    TaskSkipped: ("reason",),
    TurnRecorded: ("arguments", "output", "error"),
    RunFinished: ("answer", "observations", "reason", "expected_answer", "skipped"),
}
# An event type this warehouse does not know keeps its envelope; everything else in it counts as text.
ENVELOPE_KEYS = frozenset({"type", "event_id", "run_id", "occurred_at", "source"})
# A bare integer of at most 12 digits holds nothing the detector finds: cards have 13 or more digits, and bare
# digits count as a phone number or SSN only with a context word, which such a string has no room for. Numeric
# results are common; skipping them saves the detector's slowest path (test_scrubbing checks the claim).
BARE_SHORT_INTEGER = re.compile(r"-?\d{1,12}")
# Tool arguments and results recur across runs (the same query, the same dependency result): scanning each
# distinct string once is what keeps scrubbing off the ingest rate's critical path.
CACHED_STRINGS = 65_536


class TextScrubber:
    def __init__(self, scrub: Scrub) -> None:
        self._scrub = scrub
        # Personal data values replaced so far, counted once per distinct string (a cached repeat is not rescanned).
        self.replaced = 0
        self._text = lru_cache(maxsize=CACHED_STRINGS)(self._scrub_text)

    def event(self, event: Any) -> Any:
        """The event with its text fields scrubbed; the same object when nothing in it changed."""
        if isinstance(event, UnknownEvent):
            envelope = {key: value for key, value in event.raw.items() if key in ENVELOPE_KEYS}
            rest = {key: value for key, value in event.raw.items() if key not in ENVELOPE_KEYS}
            scrubbed = self.value(rest)
            return event if scrubbed is rest else UnknownEvent(type=event.type, raw={**envelope, **scrubbed})
        changes = {}
        for name in TEXT_FIELDS.get(type(event), ()):
            original = getattr(event, name)
            if original is None:
                continue
            scrubbed = self.value(original)
            if scrubbed is not original:
                changes[name] = scrubbed
        return msgspec.structs.replace(event, **changes) if changes else event

    def value(self, value: Any) -> Any:
        """A JSON-like value with every string in it scrubbed (keys, numbers and booleans unchanged); the same
        object when nothing in it changed, so unchanged events are stored as they came.

        Exact type checks and copying only on the first change keep this cheap: it runs on every text field of
        every event.
        """
        kind = type(value)
        if kind is str:
            if BARE_SHORT_INTEGER.fullmatch(value):
                return value
            clean = self._text(value)
            return value if clean is None else clean
        if kind is dict:
            copy = None
            for key, item in value.items():
                scrubbed = self.value(item)
                if scrubbed is not item:
                    if copy is None:
                        copy = dict(value)
                    copy[key] = scrubbed
            return value if copy is None else copy
        if kind is list or kind is tuple:
            items = None
            for index, item in enumerate(value):
                scrubbed = self.value(item)
                if scrubbed is not item:
                    if items is None:
                        items = list(value)
                    items[index] = scrubbed
            return value if items is None else items
        if kind is Plan:
            return self._plan(value)
        return value

    def _plan(self, plan: Plan) -> Plan:
        # Ids and dependencies stay as written: they are structure, and the tables join on them.
        tasks = []
        for task in plan.tasks:
            description, args = self.value(task.description), self.value(task.args)
            changed = description is not task.description or args is not task.args
            tasks.append(msgspec.structs.replace(task, description=description, args=args) if changed else task)
        if all(new is old for new, old in zip(tasks, plan.tasks, strict=True)):
            return plan
        return msgspec.structs.replace(plan, tasks=tuple(tasks))

    def _scrub_text(self, text: str) -> str | None:
        """The scrubbed text, or None when there was nothing to replace (cached either way)."""
        clean, spans = self._scrub(text)
        self.replaced += len(spans)
        return clean if spans else None


class KeepText:
    """The scrubber's stand-in when `warehouse.scrub_pii` is off: text is stored as it came."""

    replaced = 0

    def event(self, event: Any) -> Any:
        return event

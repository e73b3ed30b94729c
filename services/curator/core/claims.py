"""The character ranges already taken by higher-priority findings while one string is scanned."""

from __future__ import annotations

from bisect import bisect_right, insort
from typing import Final

from services.curator.core.spans import PiiType, Span

UNBOUNDED: Final = 1 << 62


def new_span(start: int, end: int, kind: PiiType) -> Span:
    """`Span(start, end, kind)`, the same object built in C: the named tuple's own constructor is interpreted
    Python, and run for every finding it costs more than claiming the span."""
    return tuple.__new__(Span, (start, end, kind))


class Claims:
    """Sorted, non-overlapping ranges; finders ask where they may start and how far they may reach.

    Besides PII, a finder may reserve the range of a structured identifier that turned out not to be PII
    (an IBAN with wrong check digits), so later finders do not report its digit groups as a phone number.
    """

    def __init__(self) -> None:
        # The taken ranges in (start, end) order, as two lists: a look-up bisects the starts with a plain int,
        # not a tuple built for it (tests/unit/curator/test_fast_paths.py compares it with ordered pairs).
        self._starts: list[int] = []
        self._ends: list[int] = []
        self.spans: list[Span] = []

    def add(self, span: Span) -> None:
        self._take(span.start, span.end)
        insort(self.spans, span)

    def reserve(self, start: int, end: int) -> None:
        self._take(start, end)

    def room_at(self, start: int) -> int | None:
        """The end limit for a new span starting at `start`, or None when `start` is already taken."""
        starts = self._starts
        if not starts:  # the common case: nothing found yet in this string
            return UNBOUNDED
        index = bisect_right(starts, start)
        if index and self._ends[index - 1] > start:
            return None
        return starts[index] if index < len(starts) else UNBOUNDED

    def free_since(self, position: int) -> int:
        """Where the unclaimed stretch that reaches `position` begins (0 when nothing before it is taken)."""
        index = bisect_right(self._starts, position)
        return self._ends[index - 1] if index else 0

    def is_free(self, start: int, end: int) -> bool:
        room = self.room_at(start)
        return room is not None and end <= room

    def _take(self, start: int, end: int) -> None:
        # Where (start, end) goes among the (start, end) pairs: after every pair that sorts before or equal.
        starts, ends = self._starts, self._ends
        index = bisect_right(starts, start)
        while index and starts[index - 1] == start and ends[index - 1] > end:
            index -= 1
        starts.insert(index, start)
        ends.insert(index, end)

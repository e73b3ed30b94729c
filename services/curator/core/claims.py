"""The character ranges already taken by higher-priority findings while one string is scanned."""

from __future__ import annotations

from bisect import bisect_right, insort

from services.curator.core.spans import Span

UNBOUNDED = 1 << 62


class Claims:
    """Sorted, non-overlapping ranges; finders ask where they may start and how far they may reach.

    Besides PII, a finder may reserve the range of a structured identifier that turned out not to be PII
    (an IBAN with wrong check digits), so later finders do not report its digit groups as a phone number.
    """

    def __init__(self) -> None:
        self._taken: list[tuple[int, int]] = []
        self.spans: list[Span] = []

    def add(self, span: Span) -> None:
        insort(self._taken, (span.start, span.end))
        insort(self.spans, span)

    def reserve(self, start: int, end: int) -> None:
        insort(self._taken, (start, end))

    def room_at(self, start: int) -> int | None:
        """The end limit for a new span starting at `start`, or None when `start` is already taken."""
        if not self._taken:  # the common case: nothing found yet in this string
            return UNBOUNDED
        index = bisect_right(self._taken, (start, UNBOUNDED))
        if index and self._taken[index - 1][1] > start:
            return None
        return self._taken[index][0] if index < len(self._taken) else UNBOUNDED

    def free_since(self, position: int) -> int:
        """Where the unclaimed stretch that reaches `position` begins (0 when nothing before it is taken)."""
        index = bisect_right(self._taken, (position, UNBOUNDED))
        return self._taken[index - 1][1] if index else 0

    def is_free(self, start: int, end: int) -> bool:
        room = self.room_at(start)
        return room is not None and end <= room

"""Who is watching: each open page has a subscription that collects the ids of the runs changed since it last sent.

A slow page never holds up the feed or other pages: it gets the runs' newest state when it is ready, however many
events changed them in between (a run's page is re-sent whole, so nothing is lost by skipping states).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Iterator


class Subscription:
    def __init__(self) -> None:
        self._dirty: set[str] = set()
        self._changed = asyncio.Event()

    def mark(self, run_ids: Iterable[str]) -> None:
        self._dirty.update(run_ids)
        if self._dirty:
            self._changed.set()

    async def changes(self, timeout_s: float) -> set[str]:
        """The runs changed since the last call; empty after ``timeout_s`` without a change (time for a keep-alive)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout_s)
        self._changed.clear()
        changed, self._dirty = self._dirty, set()
        return changed


class Hub:
    def __init__(self) -> None:
        self._subscriptions: set[Subscription] = set()

    def notify(self, run_ids: Iterable[str]) -> None:
        run_ids = set(run_ids)
        for subscription in self._subscriptions:
            subscription.mark(run_ids)

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[Subscription]:
        subscription = Subscription()
        self._subscriptions.add(subscription)
        try:
            yield subscription
        finally:
            self._subscriptions.discard(subscription)

    @property
    def watchers(self) -> int:
        return len(self._subscriptions)

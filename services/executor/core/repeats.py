"""The attempts an executor has taken, so that the same call dispatched twice runs its tool once.

A planner that dispatches at least once (ADR 0009) and dies before its journal commits leaves the next owner to
dispatch those attempts again, with the same attempt numbers. A dispatch's key (``run_id/task_id/attempt``) puts
the second copy on the first one's partition, behind it, so the executor that took the first copy takes the second
too, unless the partition moved in between. That executor answers the repeat with what the first copy has said so
far, its TaskStarted and, once the tool is done, its TaskFinished, instead of calling the tool again; the planner
applies them to the attempt it dispatched again, or drops them as redeliveries when it has them already.

Only the same call is a repeat: same run, task and attempt, and the same tool, arguments and timeout. A new owner
whose state moved on differently (a lease it expired at the take-over, say) may dispatch the same attempt number
with other arguments, and that one runs. Memory is bounded by bytes: the oldest attempts are forgotten first, and a
repeat of a forgotten attempt runs its tool again, as any at-least-once redelivery does.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import msgspec

from schemas import TaskFinished, TaskReady, TaskStarted

AttemptKey = tuple[str, str, int]
# What an entry costs besides the encoded call and result: its key, its events as objects, the dictionary's slot
# (tracemalloc: about 1.1 KB in all per entry with a small call and result).
ENTRY_BYTES = 700
_encoder = msgspec.json.Encoder()


def attempt_key(task: TaskReady | TaskStarted | TaskFinished) -> AttemptKey:
    return task.run_id, task.task_id, task.attempt


def call_of(task: TaskReady) -> bytes:
    """What makes two dispatches of one attempt the same call."""
    return _encoder.encode((task.tool, task.args, task.timeout_s))


@dataclass
class Taken:
    call: bytes
    started: TaskStarted
    size: int  # what the entry counts against the bound: ENTRY_BYTES, the call and, once there, the result
    finished: TaskFinished | None = None


@dataclass(frozen=True)
class Repeat:
    """What the first copy of a repeated dispatch has said so far: send these again instead of calling the tool."""

    started: TaskStarted
    finished: TaskFinished | None


class TakenAttempts:
    def __init__(self, max_bytes: int) -> None:
        if max_bytes < ENTRY_BYTES:
            raise ValueError(f"max_bytes must be at least {ENTRY_BYTES}, got {max_bytes}")
        self._max_bytes = max_bytes
        self._bytes = 0
        self._taken: OrderedDict[AttemptKey, Taken] = OrderedDict()

    def repeat_of(self, task: TaskReady) -> Repeat | None:
        """The first copy's events when ``task`` repeats a call taken here; None when it must run."""
        taken = self._taken.get(attempt_key(task))
        if taken is None or taken.call != call_of(task):
            return None
        return Repeat(taken.started, taken.finished)

    def started(self, task: TaskReady, started: TaskStarted) -> None:
        """``task`` runs here now, announced by ``started`` (a different call under the same key replaces it)."""
        call = call_of(task)
        self._put(attempt_key(task), Taken(call, started, ENTRY_BYTES + len(call)))

    def finished(self, finished: TaskFinished) -> None:
        """The attempt ended with ``finished`` (nothing to do when it was forgotten meanwhile)."""
        taken = self._taken.get(attempt_key(finished))
        if taken is None or taken.finished is not None:
            return
        self._bytes -= taken.size
        taken.finished, taken.size = finished, taken.size + len(_encoder.encode(finished))
        self._bytes += taken.size
        self._trim()

    def __len__(self) -> int:
        return len(self._taken)

    @property
    def bytes(self) -> int:
        return self._bytes

    def _put(self, key: AttemptKey, taken: Taken) -> None:
        if (old := self._taken.pop(key, None)) is not None:
            self._bytes -= old.size
        self._taken[key] = taken
        self._bytes += taken.size
        self._trim()

    def _trim(self) -> None:
        while self._bytes > self._max_bytes and self._taken:
            _, oldest = self._taken.popitem(last=False)
            self._bytes -= oldest.size

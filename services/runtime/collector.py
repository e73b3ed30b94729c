"""The cyclic garbage collector, tuned for a service on the dispatch path (the planner, the executors).

By default Python's collector runs a young collection every 700 allocations and, now and then, a full one that
walks every tracked object: the modules, clients and tables start-up made as well as the service's own state. In
the planner a full collection took 57-143 ms under load (measured with gc.callbacks during `genesis bench load`'s
busy hop), and every hop in flight waited for it: that was the hop's p99. In the executors the young collections,
run every 700 allocations, took about a fifth of the CPU under load (py-spy --native: gc_collect_main), while each
attempt's few dozen short-lived objects are freed by reference counting anyway. What start-up made lives until the
process exits, so it is moved out of the collector's sight for good; young collections run less often, since
each task's short-lived objects are freed by reference counting, not by the collector.
"""

from __future__ import annotations

import gc
import time

from prometheus_client import Histogram

# Young collections this far apart (the default is 700).
FIRST_GENERATION_THRESHOLD = 50_000

PAUSE_SECONDS = Histogram(
    "genesis_gc_pause_seconds",
    "How long the process stood still in a garbage collection, by generation.",
    ["generation"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25),
)


def freeze_startup_objects(first_generation_threshold: int = FIRST_GENERATION_THRESHOLD) -> None:
    """Call once start-up is done: collect what start-up left behind, freeze the rest, space young collections."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(first_generation_threshold, *gc.get_threshold()[1:])


class PauseClock:
    """Times every collection into ``genesis_gc_pause_seconds`` (a callback on ``gc.callbacks``)."""

    def __init__(self) -> None:
        self._began = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            PAUSE_SECONDS.labels(str(info["generation"])).observe(time.perf_counter() - self._began)


def watch_pauses() -> None:
    """Observe collection pauses from now on (once per process)."""
    if not any(isinstance(callback, PauseClock) for callback in gc.callbacks):
        gc.callbacks.append(PauseClock())


async def tune_for_dispatch() -> None:
    """For a service's after-startup hooks: freeze what start-up made, space young collections, time pauses."""
    freeze_startup_objects()
    watch_pauses()

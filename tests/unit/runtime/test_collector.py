"""The dispatch path's garbage-collector settings: start-up objects frozen, young collections spaced, pauses timed."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY

from services.runtime.collector import PauseClock, freeze_startup_objects, watch_pauses


@pytest.fixture
def collector_restored() -> Iterator[None]:
    threshold, callbacks = gc.get_threshold(), list(gc.callbacks)
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)
    gc.callbacks[:] = callbacks


def pauses(generation: int) -> float:
    return REGISTRY.get_sample_value("genesis_gc_pause_seconds_count", {"generation": str(generation)}) or 0.0


@pytest.mark.usefixtures("collector_restored")
def test_startup_objects_leave_the_collectors_sight_when_frozen() -> None:
    gc.unfreeze()
    freeze_startup_objects(first_generation_threshold=12_345)
    assert gc.get_freeze_count() > 1000  # the modules and objects imported so far
    assert gc.get_threshold()[0] == 12_345


@pytest.mark.usefixtures("collector_restored")
def test_every_collection_is_timed_when_pauses_are_watched() -> None:
    watch_pauses()
    watch_pauses()  # twice: still one clock
    assert sum(isinstance(callback, PauseClock) for callback in gc.callbacks) == 1
    before = pauses(2)
    gc.collect(2)
    assert pauses(2) == before + 1

"""The warehouse's metrics, read from the service's own counts at scrape time: events stored (their rate is the
ingest rate), repeats, dead letters, snapshot files, personal data replaced, and the lag behind each topic."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

COUNTS = {
    "events": ("genesis_warehouse_events", "Events stored (each event id once); its rate is the ingest rate"),
    "repeated": ("genesis_warehouse_events_repeated", "Events received again whose id was already stored"),
    "dead_letters": ("genesis_warehouse_dead_letters", "Records that were no event, sent to the dead-letter topic"),
    "snapshot_files": ("genesis_warehouse_snapshot_files", "Parquet snapshot files written"),
    "pii_replaced": ("genesis_warehouse_pii_replaced", "Personal data values the scrubber replaced"),
}


class _Warehouse(Protocol):
    def figures(self) -> dict[str, object]: ...

    def lag(self) -> dict[str, int]: ...


class WarehouseCollector(Collector):
    def __init__(self, warehouse: _Warehouse) -> None:
        self._warehouse = warehouse

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        figures = self._warehouse.figures()
        for key, (name, help_text) in COUNTS.items():
            value = figures.get(key)
            if isinstance(value, int | float):
                yield CounterMetricFamily(name, help_text, value=value)
        lag = GaugeMetricFamily(
            "genesis_warehouse_lag_events", "Events in Kafka not yet stored, per topic", labels=["topic"]
        )
        for topic, behind in sorted(_safely(self._warehouse.lag).items()):
            lag.add_metric([topic], behind)
        yield lag


def _safely(read: Callable[[], dict[str, int]]) -> dict[str, int]:
    # Scrapes run on the metrics thread; a rebalance on the event loop can change the assignment meanwhile.
    try:
        return read()
    except RuntimeError:
        return {}


def watch(warehouse: _Warehouse) -> None:
    REGISTRY.register(WarehouseCollector(warehouse))

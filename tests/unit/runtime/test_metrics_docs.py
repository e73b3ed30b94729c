"""docs/OBSERVABILITY.md lists exactly the genesis_* metrics the services expose."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry

import services.executor.metrics
import services.planner.metrics
import services.runtime.collector  # noqa: F401 - importing registers the metrics
from services.trainer.metrics import TrainerCollector
from services.warehouse.metrics import WarehouseCollector

DOC = Path(__file__).resolve().parents[3] / "docs" / "OBSERVABILITY.md"


class Warehouse:
    def figures(self) -> dict[str, object]:
        return {"events": 1, "repeated": 0, "dead_letters": 0, "snapshot_files": 0, "pii_replaced": 0}

    def lag(self) -> dict[str, int]:
        return {"genesis.turns": 3}


class Collector:
    rollouts = 2
    runs_dropped = 0


def exposed() -> set[str]:
    names = set()
    registry = CollectorRegistry()
    registry.register(WarehouseCollector(Warehouse()))
    registry.register(TrainerCollector(Collector()))
    for source in (REGISTRY, registry):
        for family in source.collect():
            if family.name.startswith("genesis_"):
                suffix = "_total" if family.type == "counter" else ""
                names.add(family.name + suffix)
    return names


def test_the_metrics_page_lists_every_genesis_metric_when_the_services_register_them() -> None:
    documented = set(re.findall(r"`(genesis_[a-z_]+)`", DOC.read_text()))
    assert exposed() == documented

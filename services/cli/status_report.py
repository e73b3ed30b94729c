"""What `genesis status` shows of each service beyond its process: its /healthz answer and a few key metrics."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
from prometheus_client.parser import text_string_to_metric_families

SCRAPE_TIMEOUT_S = 2.0
NOTHING_RUNNING = "nothing running; start it with `genesis up`"

# Per kind of service: the samples shown (summed over their labels), under a short name.
KEY_METRICS: dict[str, dict[str, str]] = {
    "planner": {
        "runs in flight": "genesis_planner_runs_in_flight",
        "runs finished": "genesis_planner_runs_finished_total",
        "tasks ready": "genesis_planner_tasks_ready",
        "tasks in flight": "genesis_planner_tasks_in_flight",
    },
    "executor": {
        "tasks in flight": "genesis_executor_tasks_in_flight",
        "tasks done": "genesis_executor_tasks_total",
    },
    "warehouse": {
        "events stored": "genesis_warehouse_events_total",
        "lag (events)": "genesis_warehouse_lag_events",
        "dead letters": "genesis_warehouse_dead_letters_total",
    },
    "trainer": {
        "rollouts": "genesis_trainer_rollouts_total",
        "rewards": "genesis_trainer_reward_count",
        "reward sum": "genesis_trainer_reward_sum",
    },
}


def kind_of(name: str) -> str:
    """`executor-2` -> executor: services started by `genesis up` are named after their kind."""
    return name.rsplit("-", 1)[0] if name.rsplit("-", 1)[-1].isdigit() else name


def scrape(metrics_url: str) -> dict[str, float]:
    """Every sample of the endpoint, summed over labels per sample name; empty when it cannot be read."""
    try:
        text = httpx.get(metrics_url, timeout=SCRAPE_TIMEOUT_S).text
    except httpx.HTTPError:
        return {}
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
    return totals


def probe_health(metrics_url: str) -> str:
    """The service's own verdict: "healthy", or "unhealthy: <reasons>", or "unreachable"."""
    url = metrics_url.rsplit("/metrics", 1)[0] + "/healthz"
    try:
        response = httpx.get(url, timeout=SCRAPE_TIMEOUT_S)
        reasons = response.json().get("reasons") or []
    except (httpx.HTTPError, ValueError):
        return "unreachable"
    return "healthy" if response.status_code == 200 else "unhealthy: " + "; ".join(reasons)


def key_metrics(kind: str, samples: dict[str, float]) -> dict[str, float]:
    shown = KEY_METRICS.get(kind, {})
    return {label: _number(samples[name]) for label, name in shown.items() if name in samples}


def observe_services(services: list[dict]) -> None:
    """Add ``health_check`` and ``metrics`` to each service dict that has a ``metrics_url`` (in parallel)."""

    def observe(service: dict) -> None:
        url = service.get("metrics_url")
        if not url or not service.get("alive"):
            service["health_check"], service["metrics"] = None, {}
            return
        service["health_check"] = probe_health(url)
        service["metrics"] = key_metrics(kind_of(service["name"]), scrape(url))

    with ThreadPoolExecutor(max_workers=max(1, min(8, len(services)))) as pool:
        list(pool.map(observe, services))


def _number(value: float) -> float:
    return int(value) if float(value).is_integer() else round(value, 3)

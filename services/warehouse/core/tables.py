"""The Arrow shape of every table a batch writes, in the column order of sql/schema.sql.

The writer hands DuckDB one Arrow table per warehouse table and batch; DuckDB inserts them by column name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

TIME = pa.timestamp("us", tz="UTC")
TEXT = pa.string()
JSON = pa.string()  # DuckDB casts it to its JSON type on insert
INT = pa.int32()
BIG = pa.int64()
REAL = pa.float64()
FLAG = pa.bool_()
DAY = pa.date32()


@dataclass(frozen=True)
class TableSpec:
    name: str
    schema: pa.Schema

    @property
    def columns(self) -> list[str]:
        return self.schema.names

    def from_tuples(self, rows: list[tuple[Any, ...]]) -> pa.Table:
        """Rows as tuples in column order (the fast path, for append-only tables)."""
        columns = list(zip(*rows, strict=True)) if rows else [()] * len(self.schema)
        return pa.Table.from_arrays(
            [pa.array(values, type=column.type) for values, column in zip(columns, self.schema, strict=True)],
            schema=self.schema,
        )

    def from_dicts(self, rows: Iterable[Mapping[str, Any]]) -> pa.Table:
        """Rows as partial dicts (merged rows of upserted tables); missing columns are null."""
        return pa.Table.from_pylist(list(rows), schema=self.schema)


def spec(name: str, *columns: tuple[str, pa.DataType]) -> TableSpec:
    return TableSpec(name, pa.schema(list(columns)))


EVENTS = spec(
    "events",
    ("event_id", TEXT),
    ("type", TEXT),
    ("known", FLAG),
    ("run_id", TEXT),
    ("occurred_at", TIME),
    ("source", TEXT),
    ("kafka_topic", TEXT),
    ("kafka_partition", INT),
    ("kafka_offset", BIG),
    ("payload", JSON),
    ("day", DAY),
    # The W3C trace context the event was published in (hex): the run's trace, the span that published it.
    ("trace_id", TEXT),
    ("span_id", TEXT),
)
RUNS = spec(
    "runs",
    ("run_id", TEXT),
    ("status", TEXT),
    ("strategy", TEXT),
    ("requested_at", TIME),
    ("planned_at", TIME),
    ("finished_at", TIME),
    ("deadline_at", TIME),
    ("policy_version", INT),
    ("plan_format", TEXT),
    ("tasks", INT),
    ("attempts", INT),
    ("makespan_s", REAL),
    ("sequential_s", REAL),
    ("critical_path_s", REAL),
    ("speedup", REAL),
    ("turns", INT),
    ("tool_errors", INT),
    ("tokens", BIG),
    ("critical_path", pa.list_(TEXT)),
    ("query", TEXT),
    ("answer", JSON),
    ("expected_answer", TEXT),
    ("reason", TEXT),
    ("labels", JSON),
    ("day", DAY),
)
# A task attempt's dispatch (TaskReady) and its end (TaskFinished) arrive on different topics, usually in
# different batches: each is appended to a table of its own, and the task_attempts view joins them (views.sql).
TASK_DISPATCHES = spec(
    "task_dispatches",
    ("run_id", TEXT),
    ("task_id", TEXT),
    ("attempt", INT),
    ("tool", TEXT),
    ("dispatched_at", TIME),
    ("timeout_s", REAL),
    ("day", DAY),
)
TASK_ENDS = spec(
    "task_ends",
    ("run_id", TEXT),
    ("task_id", TEXT),
    ("attempt", INT),
    ("status", TEXT),
    ("error", TEXT),
    ("retryable", FLAG),
    ("started_at", TIME),
    ("finished_at", TIME),
    ("latency_s", REAL),
    ("executor", TEXT),
    ("input_tokens", INT),
    ("output_tokens", INT),
    ("result", JSON),
    ("day", DAY),
)
TURNS = spec(
    "turns",
    ("event_id", TEXT),
    ("run_id", TEXT),
    ("task_id", TEXT),
    ("attempt", INT),
    ("operation_name", TEXT),
    ("tool_name", TEXT),
    ("request_model", TEXT),
    ("input_tokens", INT),
    ("output_tokens", INT),
    ("arguments", TEXT),
    ("output", TEXT),
    ("arguments_bytes", INT),
    ("output_bytes", INT),
    ("started_at", TIME),
    ("latency_s", REAL),
    ("status", TEXT),
    ("error", TEXT),
    ("executor", TEXT),
    ("day", DAY),
    ("trace_id", TEXT),
    ("span_id", TEXT),
)
TASKS = spec(
    "tasks",
    ("run_id", TEXT),
    ("task_id", TEXT),
    ("position", INT),
    ("tool", TEXT),
    ("description", TEXT),
    ("level", INT),
    ("on_critical_path", FLAG),
    ("day", DAY),
)
TASK_DEPENDENCIES = spec("task_dependencies", ("run_id", TEXT), ("task_id", TEXT), ("depends_on", TEXT), ("day", DAY))
TASK_SKIPS = spec(
    "task_skips", ("run_id", TEXT), ("task_id", TEXT), ("reason", TEXT), ("skipped_at", TIME), ("day", DAY)
)
REWARDS = spec(
    "rewards",
    ("event_id", TEXT),
    ("run_id", TEXT),
    ("reward", REAL),
    ("components", JSON),
    ("rollout_id", TEXT),
    ("assigned_at", TIME),
    ("source", TEXT),
    ("day", DAY),
)
POLICIES = spec(
    "policies",
    ("event_id", TEXT),
    ("version", INT),
    ("max_parallelism", INT),
    ("gap_threshold", INT),
    ("max_attempts", INT),
    ("prompt_template", TEXT),
    ("reason", TEXT),
    ("mean_reward", REAL),
    ("updated_at", TIME),
    ("source", TEXT),
    ("day", DAY),
)
KAFKA_OFFSETS = spec("kafka_offsets", ("topic", TEXT), ("partition", INT), ("next_offset", BIG))

# Tables written from events, in the order a batch writes them (events first: it decides what is new).
EVENT_TABLES = (
    EVENTS,
    RUNS,
    TASK_DISPATCHES,
    TASK_ENDS,
    TURNS,
    TASKS,
    TASK_DEPENDENCIES,
    TASK_SKIPS,
    REWARDS,
    POLICIES,
)
# Tables whose rows change after they are written (several events fill one row).
UPSERTED = frozenset({RUNS.name})

-- What analysts ask most, as views over the tables (docs/WAREHOUSE.md). Created in the DuckDB file by the writer,
-- and over the Parquet snapshots by `genesis warehouse sql`, so the same names work in both places.

-- One row per task attempt: its dispatch and its end, either of which may not have arrived yet.
CREATE OR REPLACE VIEW task_attempts AS
SELECT
    run_id,
    task_id,
    attempt,
    d.tool,
    coalesce(e.status, 'dispatched') AS status,  -- dispatched until the attempt ends, then ok | error
    e.error,
    e.retryable,
    d.dispatched_at,
    e.started_at,
    e.finished_at,
    e.latency_s,
    e.executor,
    d.timeout_s,
    e.input_tokens,
    e.output_tokens,
    e.result,
    coalesce(d.day, e.day) AS day
FROM task_dispatches AS d
FULL JOIN task_ends AS e USING (run_id, task_id, attempt);

-- When each attempt started on an executor (TaskStarted) and how long it waited in Kafka after its dispatch.
-- Read from the events table: an executor that restarts may announce an attempt twice, and both starts are shown.
CREATE OR REPLACE VIEW task_starts AS
SELECT
    run_id,
    payload->>'task_id' AS task_id,
    CAST(payload->>'attempt' AS INTEGER) AS attempt,
    payload->>'executor' AS executor,
    CAST(payload->>'dispatched_at' AS TIMESTAMPTZ) AS dispatched_at,
    occurred_at AS started_at,
    epoch(occurred_at - CAST(payload->>'dispatched_at' AS TIMESTAMPTZ)) AS queue_s,
    day
FROM events
WHERE type = 'TaskStarted.v1';

-- Latency of finished attempts per tool, as the executors measured it.
CREATE OR REPLACE VIEW tool_latency AS
SELECT
    tool,
    count(*) AS attempts,
    quantile_cont(latency_s, 0.5) AS p50_s,
    quantile_cont(latency_s, 0.95) AS p95_s,
    max(latency_s) AS max_s,
    sum(latency_s) AS busy_s
FROM task_attempts
WHERE latency_s IS NOT NULL
GROUP BY tool;

-- Per finished run: how much parallelism bought, and how close the run came to its critical path (1.0 = no overhead).
CREATE OR REPLACE VIEW run_speedup AS
SELECT
    run_id,
    status,
    strategy,
    tasks,
    attempts,
    makespan_s,
    sequential_s,
    critical_path_s,
    speedup,
    makespan_s / nullif(critical_path_s, 0) AS makespan_over_critical_path,
    finished_at,
    day
FROM runs
WHERE finished_at IS NOT NULL AND status <> 'rejected';

-- Share of finished attempts that failed, per tool.
CREATE OR REPLACE VIEW tool_error_rates AS
SELECT
    tool,
    count(*) AS attempts,
    count(*) FILTER (WHERE status = 'error') AS errors,
    count(*) FILTER (WHERE status = 'error') / count(*) AS error_rate
FROM task_attempts
WHERE status <> 'dispatched'
GROUP BY tool;

-- Tokens per operation, tool and model (OpenTelemetry GenAI names).
CREATE OR REPLACE VIEW token_use AS
SELECT
    operation_name,
    tool_name,
    request_model,
    count(*) AS calls,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(input_tokens + output_tokens) AS total_tokens
FROM turns
GROUP BY operation_name, tool_name, request_model;

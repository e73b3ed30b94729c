-- The analyst queries documented in docs/WAREHOUSE.md; the benchmark times each of them at a million attempts.
-- Run one with: genesis warehouse sql "<the query>"

-- name: slowest_tools
-- Tools by 95th-percentile latency of their attempts.
SELECT tool, attempts, round(p50_s, 3) AS p50_s, round(p95_s, 3) AS p95_s, round(max_s, 3) AS max_s
FROM tool_latency
ORDER BY p95_s DESC
LIMIT 10;

-- name: overall_speedup
-- Time-weighted speedup of all finished runs: their tasks one after another, over the runs' makespans.
SELECT
    count(*) AS runs,
    round(sum(sequential_s) / nullif(sum(makespan_s), 0), 2) AS speedup,
    round(avg(makespan_over_critical_path), 2) AS mean_makespan_over_critical_path
FROM run_speedup;

-- name: least_parallel_runs
-- Runs that took longest compared with their critical path: where scheduling left time on the table.
SELECT run_id, tasks, round(makespan_s, 3) AS makespan_s, round(critical_path_s, 3) AS critical_path_s,
       round(makespan_over_critical_path, 2) AS ratio
FROM run_speedup
WHERE critical_path_s > 0
ORDER BY makespan_over_critical_path DESC
LIMIT 10;

-- name: error_rates
-- Share of finished attempts that failed, per tool, and the most common error of each.
SELECT e.tool, e.attempts, e.errors, round(e.error_rate, 4) AS error_rate,
       (SELECT mode(error) FROM task_attempts a WHERE a.tool = e.tool AND a.status = 'error') AS most_common_error
FROM tool_error_rates e
ORDER BY error_rate DESC;

-- name: token_use
-- Tokens per operation, tool and model.
SELECT operation_name, tool_name, request_model, calls, input_tokens, output_tokens, total_tokens
FROM token_use
ORDER BY total_tokens DESC;

-- name: executor_load
-- How busy each executor was, and how long attempts waited for one.
SELECT executor, count(*) AS attempts, round(sum(latency_s), 1) AS busy_s,
       round(quantile_cont(epoch(started_at) - epoch(dispatched_at), 0.95), 3) AS p95_wait_s
FROM task_attempts
WHERE executor IS NOT NULL
GROUP BY executor
ORDER BY busy_s DESC;

-- name: runs_per_day
-- Runs and their outcomes, day by day.
SELECT day, status, count(*) AS runs, round(avg(makespan_s), 2) AS mean_makespan_s
FROM runs
GROUP BY day, status
ORDER BY day, status;

-- name: retried_tasks
-- Tasks that needed more than one attempt, latest first.
SELECT run_id, task_id, any_value(tool) AS tool, count(*) AS attempts, max(finished_at) AS last_finished_at
FROM task_attempts
GROUP BY run_id, task_id
HAVING count(*) > 1
ORDER BY last_finished_at DESC
LIMIT 20;

-- name: events_by_type
-- Every event type the warehouse has seen, including types it does not know (kept raw).
SELECT type, known, count(*) AS events
FROM events
GROUP BY type, known
ORDER BY events DESC;

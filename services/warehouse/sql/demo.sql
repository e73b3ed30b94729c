-- What `genesis demo` asks the warehouse about the runs it just made. Parameter: the list of their run ids.

-- name: finished
SELECT count(*) AS finished FROM runs WHERE finished_at IS NOT NULL AND list_contains(?, run_id);

-- name: slowest_tools
SELECT tool, count(*) AS attempts, quantile_cont(latency_s, 0.95) AS p95_s
FROM task_attempts
WHERE latency_s IS NOT NULL AND list_contains(?, run_id)
GROUP BY tool
ORDER BY p95_s DESC
LIMIT 3;

-- name: overall_speedup
SELECT sum(sequential_s) / nullif(sum(makespan_s), 0) AS speedup, sum(sequential_s) AS sequential_s,
       sum(makespan_s) AS makespan_s
FROM runs
WHERE finished_at IS NOT NULL AND status <> 'rejected' AND list_contains(?, run_id);

-- name: showcase_run
-- The run that gained most from parallelism: its timeline is the one worth a look.
SELECT run_id, json_extract_string(labels, '$.job') AS job
FROM runs
WHERE status = 'succeeded' AND list_contains(?, run_id)
ORDER BY speedup DESC NULLS LAST, tasks DESC
LIMIT 1;

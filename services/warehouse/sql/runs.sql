-- The queries behind `genesis runs list` and `genesis runs show`. Each takes its parameters as `?`.

-- name: runs_list
-- The latest runs first.
SELECT
    run_id,
    status,
    coalesce(requested_at, planned_at, finished_at) AS requested_at,
    tasks,
    attempts,
    round(makespan_s, 2) AS makespan_s,
    round(critical_path_s, 2) AS critical_path_s,
    round(speedup, 2) AS speedup,
    json_extract_string(labels, '$.job') AS job
FROM runs
ORDER BY coalesce(requested_at, planned_at, finished_at) DESC NULLS LAST, run_id
LIMIT ?;

-- name: run_ids_starting_with
SELECT run_id FROM runs WHERE starts_with(run_id, ?) ORDER BY run_id LIMIT 10;

-- name: run
SELECT run_id, status, planned_at, requested_at, finished_at, makespan_s, sequential_s, critical_path_s, speedup,
       critical_path, reason
FROM runs WHERE run_id = ?;

-- name: run_tasks
SELECT task_id, tool, description FROM tasks WHERE run_id = ? ORDER BY position;

-- name: run_dependencies
SELECT task_id, depends_on FROM task_dependencies WHERE run_id = ? ORDER BY task_id, depends_on;

-- name: run_attempts
SELECT task_id, attempt, tool, status, error, executor, dispatched_at, started_at, finished_at, latency_s
FROM task_attempts WHERE run_id = ? ORDER BY task_id, attempt;

-- name: run_skips
SELECT task_id, reason FROM task_skips WHERE run_id = ?;

-- name: run_replans
-- The run's re-plans (a task that failed for good replaced by a sub-plan), oldest first.
SELECT payload FROM events WHERE run_id = ? AND type = 'RunReplanned.v1' ORDER BY occurred_at, kafka_offset;

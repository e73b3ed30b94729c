-- From a warehouse where task_attempts was a table filled by upserts to the append-only task_dispatches and
-- task_ends that the task_attempts view now joins (store.py runs this once, when it finds the old table).
BEGIN TRANSACTION;
INSERT INTO task_dispatches BY NAME
SELECT run_id, task_id, attempt, tool, dispatched_at, timeout_s, day
FROM task_attempts WHERE dispatched_at IS NOT NULL
ON CONFLICT DO NOTHING;
INSERT INTO task_ends BY NAME
SELECT run_id, task_id, attempt, status, error, retryable, started_at, finished_at, latency_s, executor,
       input_tokens, output_tokens, result, day
FROM task_attempts WHERE status <> 'dispatched'
ON CONFLICT DO NOTHING;
DROP TABLE task_attempts;
COMMIT;

-- The writer's statements, run in one transaction per batch with the batch's tables registered as
-- batch_<table>. Derived rows are built only from the events the first statement actually inserted.

-- name: events
-- The common case: no event of the batch is stored yet. A stored id makes it fail (events.event_id is the
-- primary key); the writer then rolls back and writes the batch with the statement below.
INSERT INTO events BY NAME SELECT * FROM batch_events;

-- name: events_not_stored
-- A repeated event id is stored once; RETURNING tells the writer which events are new. Checking each row for a
-- conflict costs about three times the plain insert, so it runs only for a batch that repeats a stored event.
INSERT INTO events BY NAME SELECT * FROM batch_events ON CONFLICT DO NOTHING RETURNING event_id;

-- name: runs
-- Events of one run arrive on several topics in any order. The status only moves forward (requested < planned <
-- a final status); the first end (RunFinished or RunRejected) decides the end's columns; any other column keeps
-- the first value it gets. The same rules merge the rows of one batch (core/derived.py).
INSERT INTO runs BY NAME SELECT * FROM batch_runs
ON CONFLICT (run_id) DO UPDATE SET
    status = CASE
        WHEN runs.status NOT IN ('requested', 'planned') THEN runs.status
        WHEN excluded.status = 'requested' THEN runs.status
        ELSE excluded.status
    END,
    strategy = coalesce(runs.strategy, excluded.strategy),
    requested_at = coalesce(runs.requested_at, excluded.requested_at),
    planned_at = coalesce(runs.planned_at, excluded.planned_at),
    deadline_at = coalesce(runs.deadline_at, excluded.deadline_at),
    policy_version = coalesce(runs.policy_version, excluded.policy_version),
    plan_format = coalesce(runs.plan_format, excluded.plan_format),
    tasks = coalesce(runs.tasks, excluded.tasks),
    critical_path = coalesce(runs.critical_path, excluded.critical_path),
    query = coalesce(runs.query, excluded.query),
    expected_answer = coalesce(runs.expected_answer, excluded.expected_answer),
    labels = coalesce(runs.labels, excluded.labels),
    finished_at = CASE WHEN runs.finished_at IS NULL THEN excluded.finished_at ELSE runs.finished_at END,
    attempts = CASE WHEN runs.finished_at IS NULL THEN excluded.attempts ELSE runs.attempts END,
    makespan_s = CASE WHEN runs.finished_at IS NULL THEN excluded.makespan_s ELSE runs.makespan_s END,
    sequential_s = CASE WHEN runs.finished_at IS NULL THEN excluded.sequential_s ELSE runs.sequential_s END,
    critical_path_s = CASE WHEN runs.finished_at IS NULL THEN excluded.critical_path_s ELSE runs.critical_path_s END,
    speedup = CASE WHEN runs.finished_at IS NULL THEN excluded.speedup ELSE runs.speedup END,
    turns = CASE WHEN runs.finished_at IS NULL THEN excluded.turns ELSE runs.turns END,
    tool_errors = CASE WHEN runs.finished_at IS NULL THEN excluded.tool_errors ELSE runs.tool_errors END,
    tokens = CASE WHEN runs.finished_at IS NULL THEN excluded.tokens ELSE runs.tokens END,
    answer = CASE WHEN runs.finished_at IS NULL THEN excluded.answer ELSE runs.answer END,
    reason = CASE WHEN runs.finished_at IS NULL THEN excluded.reason ELSE runs.reason END
RETURNING day;

-- name: task_attempts
-- The dispatch (TaskReady) and the end (TaskFinished) of an attempt meet here in either order. The first end
-- decides the end's columns (a second report of the same attempt's end is not applied); dispatch columns keep
-- their first value.
INSERT INTO task_attempts BY NAME SELECT * FROM batch_task_attempts
ON CONFLICT (run_id, task_id, attempt) DO UPDATE SET
    tool = coalesce(task_attempts.tool, excluded.tool),
    dispatched_at = coalesce(task_attempts.dispatched_at, excluded.dispatched_at),
    timeout_s = coalesce(task_attempts.timeout_s, excluded.timeout_s),
    status = CASE WHEN task_attempts.status = 'dispatched' THEN excluded.status ELSE task_attempts.status END,
    error = CASE WHEN task_attempts.status = 'dispatched' THEN excluded.error ELSE task_attempts.error END,
    retryable = CASE WHEN task_attempts.status = 'dispatched' THEN excluded.retryable ELSE task_attempts.retryable END,
    started_at = CASE WHEN task_attempts.status = 'dispatched' THEN excluded.started_at ELSE task_attempts.started_at END,
    finished_at = CASE WHEN task_attempts.status = 'dispatched' THEN excluded.finished_at ELSE task_attempts.finished_at END,
    latency_s = CASE WHEN task_attempts.status = 'dispatched' THEN excluded.latency_s ELSE task_attempts.latency_s END,
    executor = CASE WHEN task_attempts.status = 'dispatched' THEN excluded.executor ELSE task_attempts.executor END,
    input_tokens = CASE WHEN task_attempts.status = 'dispatched' THEN excluded.input_tokens ELSE task_attempts.input_tokens END,
    output_tokens = CASE WHEN task_attempts.status = 'dispatched' THEN excluded.output_tokens ELSE task_attempts.output_tokens END,
    result = CASE WHEN task_attempts.status = 'dispatched' THEN excluded.result ELSE task_attempts.result END
RETURNING day;

-- name: kafka_offsets
INSERT INTO kafka_offsets BY NAME SELECT * FROM batch_kafka_offsets
ON CONFLICT (topic, partition) DO UPDATE SET next_offset = excluded.next_offset;

-- name: turns
INSERT INTO turns BY NAME SELECT * FROM batch_turns;

-- name: tasks
INSERT INTO tasks BY NAME SELECT * FROM batch_tasks;

-- name: task_dependencies
INSERT INTO task_dependencies BY NAME SELECT * FROM batch_task_dependencies;

-- name: task_skips
INSERT INTO task_skips BY NAME SELECT * FROM batch_task_skips;

-- name: rewards
INSERT INTO rewards BY NAME SELECT * FROM batch_rewards;

-- name: policies
INSERT INTO policies BY NAME SELECT * FROM batch_policies;

-- The writer's statements, run in one transaction per batch with the batch's tables registered as
-- batch_<table>. Derived rows are built only from the events the first statement actually inserted.
-- Plain inserts first: when one fails on a stored key (a repeat), the writer rolls the batch back and writes it
-- again with the <name>_not_stored statements, which skip what is stored.

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

-- name: task_dispatches
-- The first report of an attempt's dispatch; a stored one makes this fail, and the writer then uses the next.
INSERT INTO task_dispatches BY NAME SELECT * FROM batch_task_dispatches;

-- name: task_dispatches_not_stored
INSERT INTO task_dispatches BY NAME SELECT * FROM batch_task_dispatches ON CONFLICT DO NOTHING;

-- name: task_ends
-- The first report of an attempt's end decides it; a stored one makes this fail, and the writer then uses the next.
INSERT INTO task_ends BY NAME SELECT * FROM batch_task_ends;

-- name: task_ends_not_stored
INSERT INTO task_ends BY NAME SELECT * FROM batch_task_ends ON CONFLICT DO NOTHING;

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

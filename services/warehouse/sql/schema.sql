-- The warehouse's tables (docs/WAREHOUSE.md). One writer fills them: the warehouse service.
-- Every table but kafka_offsets has `day` (the UTC date of the row's first event): snapshots are partitioned by it.
-- Keys: events.event_id is unique, so each event is applied once, and every derived row comes from one new event.
-- Only runs (updated in place) and the attempt tables (first report wins) carry keys of their own; an index
-- costs ingest time on every insert and at every checkpoint, and the other append-only tables need none.
-- Text that may hold personal data is scrubbed before it is stored (warehouse.scrub_pii).

CREATE TABLE IF NOT EXISTS events (
    event_id        VARCHAR PRIMARY KEY,   -- a repeated event is stored once
    type            VARCHAR NOT NULL,      -- the event's tag, e.g. TaskFinished.v1; unknown types too
    known           BOOLEAN NOT NULL,      -- false: a type this warehouse does not know, kept raw
    run_id          VARCHAR,
    occurred_at     TIMESTAMPTZ,
    source          VARCHAR,
    kafka_topic     VARCHAR NOT NULL,
    kafka_partition INTEGER NOT NULL,
    kafka_offset    BIGINT NOT NULL,
    payload         JSON NOT NULL,         -- the whole event as JSON, text fields scrubbed
    day             DATE NOT NULL,
    trace_id        VARCHAR,               -- the W3C trace the event was published in: one per run
    span_id         VARCHAR                -- the span that published it (hex); both null when none was sent
);

CREATE TABLE IF NOT EXISTS runs (
    run_id          VARCHAR PRIMARY KEY,
    status          VARCHAR NOT NULL,      -- requested, planned, then succeeded | failed | partial | rejected | timed_out
    strategy        VARCHAR,               -- parallel | sequential, as the planner chose
    requested_at    TIMESTAMPTZ,
    planned_at      TIMESTAMPTZ,
    finished_at     TIMESTAMPTZ,
    deadline_at     TIMESTAMPTZ,
    policy_version  INTEGER,
    plan_format     VARCHAR,
    tasks           INTEGER,
    attempts        INTEGER,
    makespan_s      DOUBLE,                -- planned to finished
    sequential_s    DOUBLE,                -- the settling attempts' durations added up
    critical_path_s DOUBLE,                -- the heaviest dependency chain of those durations
    speedup         DOUBLE,                -- sequential_s / makespan_s
    turns           INTEGER,
    tool_errors     INTEGER,
    tokens          BIGINT,
    critical_path   VARCHAR[],             -- task ids of the longest chain, as planned
    query           VARCHAR,
    answer          JSON,
    expected_answer VARCHAR,
    reason          VARCHAR,               -- why the run failed or was rejected
    labels          JSON,
    day             DATE NOT NULL
);

-- A task attempt's dispatch and its end, each the first report of it (a second one is not stored). They arrive
-- on different topics, usually in different batches: appending each to its own table keeps every write an insert,
-- where filling one row from both made every end an update (eleven times the cost per event). The task_attempts
-- view (views.sql) joins them.
CREATE TABLE IF NOT EXISTS task_dispatches (
    run_id          VARCHAR NOT NULL,
    task_id         VARCHAR NOT NULL,
    attempt         INTEGER NOT NULL,
    tool            VARCHAR,
    dispatched_at   TIMESTAMPTZ,
    timeout_s       DOUBLE,
    day             DATE NOT NULL,
    PRIMARY KEY (run_id, task_id, attempt)
);

CREATE TABLE IF NOT EXISTS task_ends (
    run_id          VARCHAR NOT NULL,
    task_id         VARCHAR NOT NULL,
    attempt         INTEGER NOT NULL,
    status          VARCHAR NOT NULL,      -- ok | error
    error           VARCHAR,
    retryable       BOOLEAN,
    started_at      TIMESTAMPTZ,
    finished_at     TIMESTAMPTZ,
    latency_s       DOUBLE,                -- finished_at - started_at, as the executor measured it
    executor        VARCHAR,
    input_tokens    INTEGER,
    output_tokens   INTEGER,
    result          JSON,
    day             DATE NOT NULL,
    PRIMARY KEY (run_id, task_id, attempt)
);

-- Column names follow the OpenTelemetry GenAI semantic conventions (gen_ai.operation.name -> operation_name, ...).
CREATE TABLE IF NOT EXISTS turns (
    event_id        VARCHAR NOT NULL,
    run_id          VARCHAR NOT NULL,
    task_id         VARCHAR NOT NULL,
    attempt         INTEGER NOT NULL,
    operation_name  VARCHAR NOT NULL,      -- execute_tool | chat
    tool_name       VARCHAR,
    request_model   VARCHAR,
    input_tokens    INTEGER,
    output_tokens   INTEGER,
    arguments       VARCHAR,
    output          VARCHAR,
    arguments_bytes INTEGER,
    output_bytes    INTEGER,
    started_at      TIMESTAMPTZ,
    latency_s       DOUBLE,
    status          VARCHAR NOT NULL,      -- ok | error
    error           VARCHAR,
    executor        VARCHAR,
    day             DATE NOT NULL,
    trace_id        VARCHAR,               -- as in events: the run's trace, and the span that published the turn
    span_id         VARCHAR
);

CREATE TABLE IF NOT EXISTS tasks (
    run_id           VARCHAR NOT NULL,
    task_id          VARCHAR NOT NULL,
    position         INTEGER NOT NULL,     -- order in the plan
    tool             VARCHAR,              -- null: a description-only task for the llm tool
    description      VARCHAR,
    level            INTEGER,              -- 0 for tasks without dependencies, then one more per step
    on_critical_path BOOLEAN NOT NULL,
    day              DATE NOT NULL
);

CREATE TABLE IF NOT EXISTS task_dependencies (
    run_id          VARCHAR NOT NULL,
    task_id         VARCHAR NOT NULL,
    depends_on      VARCHAR NOT NULL,
    day             DATE NOT NULL
);

CREATE TABLE IF NOT EXISTS task_skips (
    run_id          VARCHAR NOT NULL,
    task_id         VARCHAR NOT NULL,
    reason          VARCHAR,
    skipped_at      TIMESTAMPTZ,
    day             DATE NOT NULL
);

CREATE TABLE IF NOT EXISTS rewards (
    event_id        VARCHAR NOT NULL,
    run_id          VARCHAR NOT NULL,
    reward          DOUBLE NOT NULL,
    components      JSON,
    rollout_id      VARCHAR,
    assigned_at     TIMESTAMPTZ,
    source          VARCHAR,
    day             DATE NOT NULL
);

CREATE TABLE IF NOT EXISTS policies (
    event_id        VARCHAR NOT NULL,
    version         INTEGER NOT NULL,
    max_parallelism INTEGER,
    gap_threshold   INTEGER,
    max_attempts    INTEGER,
    prompt_template VARCHAR,
    reason          VARCHAR,
    mean_reward     DOUBLE,
    updated_at      TIMESTAMPTZ,
    source          VARCHAR,
    day             DATE NOT NULL
);

-- Where each partition's events end: written in the same transaction as their rows, read on assignment.
CREATE TABLE IF NOT EXISTS kafka_offsets (
    topic           VARCHAR NOT NULL,
    partition       INTEGER NOT NULL,
    next_offset     BIGINT NOT NULL,
    PRIMARY KEY (topic, partition)
);

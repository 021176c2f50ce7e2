-- The schema as sluice created it before numbered migrations: every statement is
-- idempotent, so a database created by that sluice takes this migration as a no-op.
CREATE TABLE IF NOT EXISTS state_machines (
    arn TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    definition TEXT NOT NULL,
    role_arn TEXT NOT NULL,
    kind TEXT NOT NULL,
    created REAL NOT NULL,
    revision INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS executions (
    arn TEXT PRIMARY KEY,
    state_machine_arn TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    input TEXT NOT NULL,
    output TEXT,
    error TEXT,
    cause TEXT,
    start REAL NOT NULL,
    stop REAL,
    definition TEXT NOT NULL,
    role_arn TEXT NOT NULL,
    kind TEXT NOT NULL,
    redrive_count INTEGER NOT NULL DEFAULT 0,
    cursor_state INTEGER,
    cursor_input TEXT,
    cursor_vars TEXT,
    version INTEGER NOT NULL DEFAULT 0,
    next_event_id INTEGER NOT NULL DEFAULT 1,
    step_events INTEGER NOT NULL DEFAULT 0,
    owner TEXT,
    lease_until REAL,
    UNIQUE (state_machine_arn, name)
);
CREATE INDEX IF NOT EXISTS executions_by_machine ON executions (state_machine_arn, start DESC, arn);
CREATE INDEX IF NOT EXISTS executions_by_status ON executions (status);
CREATE TABLE IF NOT EXISTS events (
    execution_arn TEXT NOT NULL,
    id INTEGER NOT NULL,
    previous_id INTEGER NOT NULL,
    timestamp REAL NOT NULL,
    kind TEXT NOT NULL,
    details_key TEXT,
    details TEXT,
    PRIMARY KEY (execution_arn, id)
);
CREATE TABLE IF NOT EXISTS activities (
    arn TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS tasks (
    token TEXT PRIMARY KEY,
    activity_arn TEXT,
    execution_arn TEXT NOT NULL,
    state_name TEXT NOT NULL,
    input TEXT NOT NULL,
    status TEXT NOT NULL,
    worker TEXT,
    lease_until REAL,
    heartbeat_seconds INTEGER,
    last_heartbeat REAL,
    output TEXT,
    error TEXT,
    cause TEXT,
    created REAL NOT NULL
);
-- Claims read these two partial indexes in order, so finished tasks (the bulk of the table)
-- and live claims cost nothing; an earlier schema's index over every task is dropped.
DROP INDEX IF EXISTS tasks_by_activity;
CREATE INDEX IF NOT EXISTS pending_tasks_by_activity ON tasks (activity_arn, created, token)
    WHERE status = 'PENDING';
CREATE INDEX IF NOT EXISTS claimed_tasks_by_lease ON tasks (activity_arn, lease_until)
    WHERE status = 'CLAIMED';
CREATE INDEX IF NOT EXISTS open_tasks_by_execution ON tasks (execution_arn) WHERE status IN ('PENDING', 'CLAIMED');
CREATE TABLE IF NOT EXISTS timers (
    execution_arn TEXT NOT NULL,
    key TEXT NOT NULL,
    fire_at REAL NOT NULL,
    PRIMARY KEY (execution_arn, key)
);

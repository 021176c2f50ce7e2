-- The schema as sluice created it before numbered migrations: every statement is
-- idempotent, so a database created by that sluice takes this migration as a no-op.
CREATE TABLE IF NOT EXISTS state_machines (
    arn TEXT COLLATE "C" PRIMARY KEY,
    name TEXT COLLATE "C" NOT NULL UNIQUE,
    definition TEXT NOT NULL,
    role_arn TEXT NOT NULL,
    kind TEXT NOT NULL,
    created DOUBLE PRECISION NOT NULL,
    revision BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS executions (
    arn TEXT COLLATE "C" PRIMARY KEY,
    state_machine_arn TEXT COLLATE "C" NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    status TEXT NOT NULL,
    input TEXT NOT NULL,
    output TEXT,
    error TEXT,
    cause TEXT,
    start DOUBLE PRECISION NOT NULL,
    stop DOUBLE PRECISION,
    definition TEXT NOT NULL,
    role_arn TEXT NOT NULL,
    kind TEXT NOT NULL,
    redrive_count BIGINT NOT NULL DEFAULT 0,
    cursor_state BIGINT,
    cursor_input TEXT,
    cursor_vars TEXT,
    version BIGINT NOT NULL DEFAULT 0,
    next_event_id BIGINT NOT NULL DEFAULT 1,
    step_events BIGINT NOT NULL DEFAULT 0,
    owner TEXT,
    lease_until DOUBLE PRECISION,
    UNIQUE (state_machine_arn, name)
);
-- Columns added after the first schema, for databases created by an earlier sluice.
ALTER TABLE executions ADD COLUMN IF NOT EXISTS step_events BIGINT NOT NULL DEFAULT 0;
ALTER TABLE executions ADD COLUMN IF NOT EXISTS owner TEXT;
ALTER TABLE executions ADD COLUMN IF NOT EXISTS lease_until DOUBLE PRECISION;
CREATE INDEX IF NOT EXISTS executions_by_machine ON executions (state_machine_arn, start DESC, arn);
CREATE INDEX IF NOT EXISTS executions_by_start ON executions (start DESC, arn);
CREATE INDEX IF NOT EXISTS executions_by_status ON executions (status);
CREATE TABLE IF NOT EXISTS events (
    execution_arn TEXT COLLATE "C" NOT NULL,
    id BIGINT NOT NULL,
    previous_id BIGINT NOT NULL,
    "timestamp" DOUBLE PRECISION NOT NULL,
    kind TEXT NOT NULL,
    details_key TEXT,
    details TEXT,
    PRIMARY KEY (execution_arn, id)
);
CREATE TABLE IF NOT EXISTS activities (
    arn TEXT COLLATE "C" PRIMARY KEY,
    name TEXT COLLATE "C" NOT NULL UNIQUE,
    created DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS tasks (
    token TEXT COLLATE "C" PRIMARY KEY,
    activity_arn TEXT COLLATE "C",
    execution_arn TEXT COLLATE "C" NOT NULL,
    state_name TEXT NOT NULL,
    input TEXT NOT NULL,
    status TEXT NOT NULL,
    worker TEXT,
    lease_until DOUBLE PRECISION,
    heartbeat_seconds BIGINT,
    last_heartbeat DOUBLE PRECISION,
    output TEXT,
    error TEXT,
    cause TEXT,
    created DOUBLE PRECISION NOT NULL
);
-- Claims read these two partial indexes in order, so neither finished tasks nor live claims
-- are scanned; an earlier schema's index over all open tasks is dropped.
DROP INDEX IF EXISTS tasks_open_by_activity;
CREATE INDEX IF NOT EXISTS pending_tasks_by_activity ON tasks (activity_arn, created, token)
    WHERE status = 'PENDING';
CREATE INDEX IF NOT EXISTS claimed_tasks_by_lease ON tasks (activity_arn, lease_until)
    WHERE status = 'CLAIMED';
CREATE INDEX IF NOT EXISTS tasks_open_by_execution ON tasks (execution_arn)
    WHERE status IN ('PENDING', 'CLAIMED');
CREATE TABLE IF NOT EXISTS timers (
    execution_arn TEXT COLLATE "C" NOT NULL,
    key TEXT NOT NULL,
    fire_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (execution_arn, key)
);

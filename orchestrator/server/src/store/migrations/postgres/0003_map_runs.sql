-- Map Runs of Distributed Maps: one row per run, updated as its children finish (at most
-- about once a second) and when it ends; DescribeMapRun and ListMapRuns read it. Counts of
-- children (total, running, succeeded, failed) and of items (a child may be a batch).
CREATE TABLE map_runs (
    arn TEXT PRIMARY KEY,
    execution_arn TEXT NOT NULL,
    state_machine_arn TEXT NOT NULL,
    status TEXT NOT NULL,
    start DOUBLE PRECISION NOT NULL,
    stop DOUBLE PRECISION,
    max_concurrency BIGINT NOT NULL,
    tolerated_failure_percentage DOUBLE PRECISION NOT NULL,
    tolerated_failure_count BIGINT NOT NULL,
    total BIGINT,
    running BIGINT NOT NULL,
    succeeded BIGINT NOT NULL,
    failed BIGINT NOT NULL,
    items_total BIGINT,
    items_succeeded BIGINT NOT NULL,
    items_failed BIGINT NOT NULL
);
CREATE INDEX map_runs_by_execution ON map_runs (execution_arn, start);

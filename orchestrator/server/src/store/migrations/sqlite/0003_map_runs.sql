-- Map Runs of Distributed Maps: one row per run, updated as its children finish (at most
-- about once a second) and when it ends; DescribeMapRun and ListMapRuns read it. Counts of
-- children (total, running, succeeded, failed) and of items (a child may be a batch).
CREATE TABLE map_runs (
    arn TEXT PRIMARY KEY,
    execution_arn TEXT NOT NULL,
    state_machine_arn TEXT NOT NULL,
    status TEXT NOT NULL,
    start REAL NOT NULL,
    stop REAL,
    max_concurrency INTEGER NOT NULL,
    tolerated_failure_percentage REAL NOT NULL,
    tolerated_failure_count INTEGER NOT NULL,
    total INTEGER,
    running INTEGER NOT NULL,
    succeeded INTEGER NOT NULL,
    failed INTEGER NOT NULL,
    items_total INTEGER,
    items_succeeded INTEGER NOT NULL,
    items_failed INTEGER NOT NULL
);
CREATE INDEX map_runs_by_execution ON map_runs (execution_arn, start);

-- Schedules (the EventBridge Scheduler API) and object triggers.
--
-- A schedule's next fire time is durable: a replica fires a due schedule in one transaction
-- that moves `next_fire` on (guarded by `version`, so two replicas never fire the same tick)
-- and creates the tick's execution under a name derived from the schedule and the tick.
CREATE TABLE schedules (
    group_name TEXT NOT NULL,
    name TEXT NOT NULL,
    arn TEXT NOT NULL,
    expression TEXT NOT NULL,
    timezone TEXT NOT NULL,
    start_date REAL,
    end_date REAL,
    -- ENABLED or DISABLED.
    state TEXT NOT NULL,
    description TEXT,
    target_arn TEXT NOT NULL,
    role_arn TEXT NOT NULL,
    -- The target's input template, as submitted.
    input TEXT,
    -- The rest of the API's Target, FlexibleTimeWindow and other fields (JSON), echoed back.
    extra TEXT NOT NULL,
    -- ALL (every missed tick, up to catch_up_limit) or LATEST.
    catch_up TEXT NOT NULL,
    catch_up_limit INTEGER NOT NULL,
    -- NONE or DELETE (after the last tick).
    after_completion TEXT NOT NULL,
    created REAL NOT NULL,
    modified REAL NOT NULL,
    -- When the schedule fires next; NULL once it has no tick left.
    next_fire REAL,
    version INTEGER NOT NULL,
    PRIMARY KEY (group_name, name)
);
CREATE INDEX schedules_due ON schedules (state, next_fire);

-- Schedule groups other than `default` (which always exists and is not stored).
CREATE TABLE schedule_groups (
    name TEXT PRIMARY KEY,
    arn TEXT NOT NULL,
    created REAL NOT NULL,
    modified REAL NOT NULL
);

CREATE TABLE triggers (
    name TEXT PRIMARY KEY,
    arn TEXT NOT NULL,
    bucket TEXT NOT NULL,
    prefix TEXT NOT NULL,
    suffix TEXT NOT NULL,
    target_arn TEXT NOT NULL,
    -- Seconds between listings of the prefix.
    interval_seconds REAL NOT NULL,
    state TEXT NOT NULL,
    -- Objects older than the trigger start executions too (otherwise only newer ones do).
    include_existing INTEGER NOT NULL,
    created REAL NOT NULL,
    modified REAL NOT NULL,
    -- When a replica last took the listing round (replicas take turns).
    last_listed REAL
);

-- Every object version a trigger has started an execution for: the seen-set that makes a
-- listing and a pushed notification of the same object start one execution.
CREATE TABLE trigger_objects (
    trigger_name TEXT NOT NULL,
    object_key TEXT NOT NULL,
    etag TEXT NOT NULL,
    execution_arn TEXT NOT NULL,
    seen REAL NOT NULL,
    PRIMARY KEY (trigger_name, object_key, etag)
);

-- Map Run children waiting for a replica with room. The replica driving a Map Run queues a
-- child here when its own child slots are full; any replica (the driving one too) leases
-- queued children, runs them and records them, which removes them from the queue in the same
-- transaction. A replica that stops renewing its leases leaves its children to others.
CREATE TABLE child_queue (
    child_arn TEXT PRIMARY KEY,
    map_run_arn TEXT NOT NULL,
    -- The execution whose definition holds the ItemProcessor, found by the Map's label.
    root_arn TEXT NOT NULL,
    label TEXT NOT NULL,
    name TEXT NOT NULL,
    state_machine_arn TEXT NOT NULL,
    role_arn TEXT NOT NULL,
    child_index BIGINT NOT NULL,
    input TEXT NOT NULL,
    vars TEXT NOT NULL,
    -- The child's random seed (a u64 kept as its signed bits).
    seed BIGINT NOT NULL,
    redrive_count BIGINT NOT NULL,
    rerun BIGINT NOT NULL,
    queued DOUBLE PRECISION NOT NULL,
    owner TEXT,
    lease_until DOUBLE PRECISION
);
CREATE INDEX child_queue_by_map_run ON child_queue (map_run_arn);
CREATE INDEX child_queue_by_lease ON child_queue (lease_until, queued);

-- Indexes the console reads through: executions of every machine newest first, executions of
-- one status newest first (replacing the index on status alone, which left the newest of a
-- common status to a sort), and the tasks still waiting on a person or a worker (the
-- approvals page), oldest first.
CREATE INDEX IF NOT EXISTS executions_by_start ON executions (start DESC, arn);
CREATE INDEX executions_by_status_start ON executions (status, start DESC, arn);
DROP INDEX IF EXISTS executions_by_status;
CREATE INDEX open_tasks_by_created ON tasks (created, token) WHERE status IN ('PENDING', 'CLAIMED');

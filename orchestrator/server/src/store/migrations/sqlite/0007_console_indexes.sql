-- Indexes the console reads through: executions of every machine newest first, and the tasks
-- still waiting on a person or a worker (the approvals page), oldest first.
CREATE INDEX IF NOT EXISTS executions_by_start ON executions (start DESC, arn);
CREATE INDEX open_tasks_by_created ON tasks (created, token) WHERE status IN ('PENDING', 'CLAIMED');

-- The tasks still waiting on a person or a worker (the console's approvals page), oldest
-- first. (executions_by_start, the other index the console reads through, is in the baseline.)
CREATE INDEX open_tasks_by_created ON tasks (created, token) WHERE status IN ('PENDING', 'CLAIMED');

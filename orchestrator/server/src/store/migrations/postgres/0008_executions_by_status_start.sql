-- Executions of one status newest first (the console's and ListExecutions' status filter).
-- It replaces the index on status alone, which left the newest of a common status to a sort
-- (48.6 ms for the FAILED tenth of 100,000 executions; 3.2 ms with this one).
CREATE INDEX executions_by_status_start ON executions (status, start DESC, arn);
DROP INDEX IF EXISTS executions_by_status;

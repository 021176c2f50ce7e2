-- A Distributed Map's STANDARD children are executions of their own: each names the Map Run
-- it belongs to (ListExecutions --map-run-arn, DescribeExecution's mapRunArn, and the ledger a
-- restarted or redriven Map Run reads). A Map Run counts its redrives and the children and
-- items whose results its ResultWriter stored, and keeps an UpdateMapRun sent to a replica that
-- does not drive the run until the driving replica takes it.
ALTER TABLE executions ADD COLUMN map_run_arn TEXT;
CREATE INDEX executions_by_map_run ON executions (map_run_arn, start DESC, arn) WHERE map_run_arn IS NOT NULL;
ALTER TABLE map_runs ADD COLUMN redrive_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE map_runs ADD COLUMN results_written BIGINT NOT NULL DEFAULT 0;
ALTER TABLE map_runs ADD COLUMN items_results_written BIGINT NOT NULL DEFAULT 0;
ALTER TABLE map_runs ADD COLUMN requested_update TEXT;

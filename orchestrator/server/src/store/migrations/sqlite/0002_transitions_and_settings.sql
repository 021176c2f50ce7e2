-- The transitions an execution has made, kept with its cursor so `--max-transitions` holds
-- across checkpoints; and deployment-wide settings (the task-token secret).
ALTER TABLE executions ADD COLUMN cursor_transitions INTEGER NOT NULL DEFAULT 0;
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- The transitions an execution has made, kept with its cursor so `--max-transitions` holds
-- across checkpoints; and deployment-wide settings (the task-token secret).
ALTER TABLE executions ADD COLUMN cursor_transitions BIGINT NOT NULL DEFAULT 0;
CREATE TABLE settings (
    key TEXT COLLATE "C" PRIMARY KEY,
    value TEXT NOT NULL
);

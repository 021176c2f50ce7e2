//! Numbered schema migrations of both backends, applied on start by sqlx's migrator (its
//! `_sqlx_migrations` table records what ran, with a checksum of each script).
//!
//! Rules: a migration that has shipped is never edited (the checksum would refuse the
//! database); a change is a new number in both backends' lists, and the store suite checks
//! that the two schemas still have the same tables and columns.

use std::borrow::Cow;

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

/// `(version, description, sql)` of one script.
type Script = (i64, &'static str, &'static str);

const SQLITE: &[Script] = &[
    (
        1,
        "baseline",
        include_str!("migrations/sqlite/0001_baseline.sql"),
    ),
    (
        2,
        "transitions and settings",
        include_str!("migrations/sqlite/0002_transitions_and_settings.sql"),
    ),
    (
        3,
        "map runs",
        include_str!("migrations/sqlite/0003_map_runs.sql"),
    ),
    (
        4,
        "map run children",
        include_str!("migrations/sqlite/0004_map_run_children.sql"),
    ),
    (
        5,
        "child queue",
        include_str!("migrations/sqlite/0005_child_queue.sql"),
    ),
    (
        6,
        "schedules and triggers",
        include_str!("migrations/sqlite/0006_schedules_and_triggers.sql"),
    ),
    (
        7,
        "console indexes",
        include_str!("migrations/sqlite/0007_console_indexes.sql"),
    ),
    (
        8,
        "executions by status and start",
        include_str!("migrations/sqlite/0008_executions_by_status_start.sql"),
    ),
];

const POSTGRES: &[Script] = &[
    (
        1,
        "baseline",
        include_str!("migrations/postgres/0001_baseline.sql"),
    ),
    (
        2,
        "transitions and settings",
        include_str!("migrations/postgres/0002_transitions_and_settings.sql"),
    ),
    (
        3,
        "map runs",
        include_str!("migrations/postgres/0003_map_runs.sql"),
    ),
    (
        4,
        "map run children",
        include_str!("migrations/postgres/0004_map_run_children.sql"),
    ),
    (
        5,
        "child queue",
        include_str!("migrations/postgres/0005_child_queue.sql"),
    ),
    (
        6,
        "schedules and triggers",
        include_str!("migrations/postgres/0006_schedules_and_triggers.sql"),
    ),
    (
        7,
        "console indexes",
        include_str!("migrations/postgres/0007_console_indexes.sql"),
    ),
    (
        8,
        "executions by status and start",
        include_str!("migrations/postgres/0008_executions_by_status_start.sql"),
    ),
];

fn migrator(scripts: &[Script]) -> Migrator {
    let migrations = scripts
        .iter()
        .map(|&(version, description, sql)| {
            Migration::new(
                version,
                Cow::Borrowed(description),
                MigrationType::Simple,
                sql.into_sql_str(),
                false,
            )
        })
        .collect();
    // With PostgreSQL the migrator holds an advisory lock while it runs, so replicas that
    // start together apply each migration once.
    Migrator::with_migrations(migrations)
}

/// The SQLite migrations.
pub(super) fn sqlite() -> Migrator {
    migrator(SQLITE)
}

/// The PostgreSQL migrations.
pub(super) fn postgres() -> Migrator {
    migrator(POSTGRES)
}

//! The sluice orchestrator: the Amazon States Language layer (`lang`, pure: no I/O, no clock)
//! and the in-memory execution engine (`engine`) that `sluice run` and Express executions use.

pub mod engine;
pub mod lang;

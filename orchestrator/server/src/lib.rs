//! `sluice serve`: durable Standard executions, Express executions and activities behind the
//! AWS Step Functions JSON protocol, over an embedded (SQLite) or PostgreSQL store.

pub mod api;
pub mod client;
pub mod console;
pub mod lifecycle;
pub mod metrics;
pub mod serve;
pub mod service;
pub mod store;
pub mod time;

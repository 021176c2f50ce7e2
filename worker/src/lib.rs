//! sluice workers: the code that does a task's work outside the orchestrator. They meet the
//! orchestrator at the wire protocol (the Step Functions activity API) and never depend on
//! its crate: the hand-off to AWS Lambda (`lambda`) and AWS Batch (`batch`), DataFusion SQL
//! (`sql`), S3 calls (`s3`)
//! over the buckets `objects` resolves, and the activity polling loop (`activity`).

pub mod activity;
pub mod aws;
pub mod batch;
pub mod lambda;
pub mod objects;
pub mod s3;
pub mod sql;

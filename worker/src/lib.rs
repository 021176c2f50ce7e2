//! sluice workers: the code that does a task's work outside the orchestrator. They meet the
//! orchestrator at the wire protocol (the Step Functions activity API) and never depend on
//! its crate. So far: the hand-off to AWS Lambda (`lambda`).

pub mod activity;
pub mod lambda;
pub mod sql;

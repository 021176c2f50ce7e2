//! `sluice worker`: the activity polling loop. It meets the orchestrator at the wire protocol
//! (the Step Functions activity API, so it serves AWS too) and runs each task through the
//! same dispatcher `sluice run` and `sluice serve` build (`sluice_integrations`).

pub mod activity;
pub mod metrics;

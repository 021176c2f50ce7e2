//! Cross-process tests: the `sluice` binary, `sluice serve` driven by real AWS clients
//! (aws-sdk-sfn and the AWS CLI), and crash recovery. One test binary keeps link time down.

mod api;
mod awscli;
mod batch;
mod cli;
mod console;
mod crash;
mod graph;
mod http;
#[cfg(feature = "inference")]
mod inference;
mod lambda;
mod map_runs;
mod nested;
mod observability;
mod s3;
mod schedules;
mod services;
mod support;
mod worker;

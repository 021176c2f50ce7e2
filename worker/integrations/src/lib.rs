//! The external services sluice's tasks call, one module each, holding the service's client,
//! the `Resource` forms it serves and its adapter to the task contract (`sluice-task`):
//! AWS Lambda (`lambda`), AWS Batch (`batch`), S3 (`s3`, over the buckets `objects`
//! resolves), DataFusion SQL (`sql`), ONNX inference over images and tables (`infer`), the built-in
//! activities (`builtin`), SNS (`sns`), SQS (`sqs`), EventBridge (`eventbridge`), DynamoDB
//! (`dynamodb`), HTTPS APIs (`http`), Athena, Glue and ECS jobs (`jobs`) and `aws-sdk:` calls (`aws_sdk`), the last four over the AWS JSON protocol
//! (`awsjson`). `aws` configures the AWS SDK clients. [`Integrations::dispatcher`] is the one place that assembles them:
//! `sluice run`, `sluice serve` and `sluice worker` all build their dispatcher through it.
//!
//! This crate never depends on the orchestrator: they meet at the task contract.

pub mod aws;
pub mod aws_sdk;
pub mod awsjson;
pub mod batch;
pub mod builtin;
mod dispatch;
pub mod dynamodb;
pub mod eventbridge;
pub mod http;
pub mod infer;
pub mod jobs;
pub mod lambda;
pub mod objects;
pub mod s3;
pub mod sns;
pub mod sql;
pub mod sqs;

pub use dispatch::{Builtins, DispatchOptions, Integrations};

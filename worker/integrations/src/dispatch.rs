//! Assembling the integrations into a task dispatcher, the same way for every command.

use std::sync::Arc;
use std::time::Duration;

use sluice_task::{CallbackStarter, Dispatcher, JobLedger, TaskHandler};
use tokio_util::task::TaskTracker;

use crate::aws::ServiceConfig;
use crate::aws_sdk::AwsSdkTasks;
use crate::awsjson::{AwsJson, AwsJsonConfig};
use crate::batch::BatchTasks;
use crate::builtin::BuiltinActivities;
use crate::dynamodb::DynamoDbTasks;
use crate::eventbridge::EventBridgeTasks;
use crate::http::{Connections, HttpTasks};
use crate::jobs::JobTasks;
use crate::lambda::{LambdaConfig, LambdaTasks};
use crate::objects::Buckets;
use crate::s3::S3Tasks;
use crate::sns::SnsTasks;
use crate::sqs::SqsTasks;

/// The integrations of one process, as configured.
#[derive(Debug, Clone, Default)]
pub struct Integrations {
    /// Lambda, when an endpoint or credentials are configured.
    pub lambda: Option<LambdaConfig>,
    /// Batch, when an endpoint or credentials are configured, and how often `.sync` jobs
    /// are polled.
    pub batch: Option<(ServiceConfig, Duration)>,
    /// Where `s3://` buckets are.
    pub buckets: Buckets,
    /// SNS, when an endpoint or credentials are configured.
    pub sns: Option<ServiceConfig>,
    /// The AWS JSON protocol services (DynamoDB, SQS, EventBridge and `aws-sdk:` calls),
    /// when an endpoint or credentials are configured.
    pub aws_json: Option<AwsJsonConfig>,
    /// The EventBridge connections HTTP Tasks authenticate through, with their secrets.
    pub connections: Connections,
    /// How long an HTTP Task's request may take (`None`: AWS's 60 seconds).
    pub http_timeout: Option<Duration>,
    /// How often `.sync` Athena, Glue and ECS jobs are polled (`None`: 5 seconds).
    pub job_poll: Option<Duration>,
}

/// Whether and how the built-in activities (`sluice-sql`, …) run in this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Builtins {
    /// Not here: workers poll them (`sluice serve`).
    Remote,
    /// Here, each task reported as started by this worker name (`sluice run`).
    InProcess { worker: String },
    /// Here, for tasks this process took through GetActivityTask, which reported the start
    /// already (`sluice worker`).
    Polled,
}

/// What a command adds to the integrations when it builds its dispatcher.
pub struct DispatchOptions {
    /// Handlers that come before every integration (a mock file, the orchestrator's parked
    /// activity and callback tasks), in order.
    pub first: Vec<Arc<dyn TaskHandler>>,
    /// Where `.sync` jobs are recorded so they outlive a restart (`sluice serve`).
    pub jobs: Option<Arc<dyn JobLedger>>,
    pub builtins: Builtins,
    /// Owns work that outlives a task (TerminateJob for an abandoned Batch job); the command
    /// waits for it before it exits.
    pub cleanup: TaskTracker,
}

impl Integrations {
    /// The dispatcher of a command: `options.first`, then the built-in activities, Lambda,
    /// Batch and S3. A Task whose resource none serves fails with `Sluice.NoTaskHandler`.
    pub fn dispatcher(&self, options: DispatchOptions) -> Dispatcher {
        let mut dispatcher = Dispatcher::new();
        for handler in options.first {
            dispatcher.register(handler);
        }
        match options.builtins {
            Builtins::Remote => {}
            Builtins::InProcess { worker } => {
                dispatcher.register(Arc::new(
                    BuiltinActivities::new(self.lambda.as_ref(), self.buckets.clone())
                        .reporting_start_as(worker),
                ));
            }
            Builtins::Polled => {
                dispatcher.register(Arc::new(BuiltinActivities::new(
                    self.lambda.as_ref(),
                    self.buckets.clone(),
                )));
            }
        }
        if let Some(lambda) = &self.lambda {
            dispatcher.register(Arc::new(LambdaTasks::new(lambda)));
        }
        if let Some((config, poll)) = &self.batch {
            let batch = BatchTasks::new(config, *poll, options.cleanup.clone());
            dispatcher.register(Arc::new(match options.jobs.clone() {
                Some(ledger) => batch.recorded_in(ledger),
                None => batch,
            }));
        }
        dispatcher.register(Arc::new(S3Tasks::new(self.buckets.clone())));
        dispatcher.register(Arc::new(HttpTasks::new(
            self.connections.clone(),
            self.http_timeout.unwrap_or(crate::http::TIMEOUT),
        )));
        if let Some(sns) = &self.sns {
            dispatcher.register(Arc::new(SnsTasks::new(sns)));
        }
        if let Some(config) = &self.aws_json {
            let aws = AwsJson::new(config.clone());
            dispatcher.register(Arc::new(DynamoDbTasks::new(aws.clone())));
            dispatcher.register(Arc::new(SqsTasks::new(aws.clone())));
            dispatcher.register(Arc::new(EventBridgeTasks::new(aws.clone())));
            dispatcher.register(Arc::new(
                JobTasks::new(aws.clone(), self.job_poll()).recorded_in(options.jobs.clone()),
            ));
            dispatcher.register(Arc::new(AwsSdkTasks::new(aws)));
        }
        dispatcher
    }

    fn job_poll(&self) -> Duration {
        self.job_poll.unwrap_or(Duration::from_secs(5))
    }

    /// The integrations that start `.waitForTaskToken` calls (the orchestrator waits for the
    /// callback itself).
    pub fn callback_starters(&self) -> Vec<Arc<dyn CallbackStarter>> {
        let mut starters: Vec<Arc<dyn CallbackStarter>> = Vec::new();
        if let Some(lambda) = &self.lambda {
            starters.push(Arc::new(LambdaTasks::new(lambda)));
        }
        if let Some(sns) = &self.sns {
            starters.push(Arc::new(SnsTasks::new(sns)));
        }
        if let Some(config) = &self.aws_json {
            let aws = AwsJson::new(config.clone());
            starters.push(Arc::new(SqsTasks::new(aws.clone())));
            starters.push(Arc::new(EventBridgeTasks::new(aws.clone())));
            starters.push(Arc::new(JobTasks::new(aws.clone(), self.job_poll())));
            starters.push(Arc::new(AwsSdkTasks::new(aws)));
        }
        starters
    }
}

//! Task, ItemReader and ResultWriter resources on Amazon S3 (`arn:aws:states:::s3:…` and
//! `arn:aws:states:::aws-sdk:s3:…`), served by this module's S3 calls.

use futures::future::BoxFuture;
use serde_json::Value;
use sluice_task::{NO_HANDLER, Resource, TaskFailure, TaskHandler, TaskRequest};

use super::Action;
use crate::objects::Buckets;

/// Serves S3 resources over the buckets configured in the environment (`SLUICE_S3_DIR` for a
/// local directory, else S3 with the usual AWS variables).
pub struct S3Tasks {
    buckets: Buckets,
}

impl S3Tasks {
    /// A handler over `buckets`.
    pub fn new(buckets: Buckets) -> Self {
        S3Tasks { buckets }
    }
}

impl TaskHandler for S3Tasks {
    fn handles(&self, resource: &Resource) -> bool {
        Action::of(resource).is_some()
    }

    fn invoke(&self, request: TaskRequest) -> BoxFuture<'_, Result<Value, TaskFailure>> {
        Box::pin(async move {
            let Some(action) = Action::of(&request.resource) else {
                return Err(TaskFailure::new(
                    NO_HANDLER,
                    format!("{} is not an S3 resource", request.resource),
                ));
            };
            action
                .run(&self.buckets, &request.input)
                .await
                .map_err(|f| TaskFailure::new(f.error, f.cause))
        })
    }
}

//! ASL error names and the matching rules of `ErrorEquals`, in one place.

/// Matches every error except `States.Runtime` and `States.DataLimitExceeded`.
pub const ALL: &str = "States.ALL";
/// A task failed; as a matcher, every error except `States.Timeout`.
pub const TASK_FAILED: &str = "States.TaskFailed";
/// A Task ran longer than `TimeoutSeconds` (or an execution its `TimeoutSeconds`).
pub const TIMEOUT: &str = "States.Timeout";
/// A Task sent no heartbeat within `HeartbeatSeconds`.
pub const HEARTBEAT_TIMEOUT: &str = "States.HeartbeatTimeout";
/// Unrecoverable runtime problem: bad path, intrinsic failure, no Choice matched, ...
pub const RUNTIME: &str = "States.Runtime";
/// A payload exceeded the size limit.
pub const DATA_LIMIT_EXCEEDED: &str = "States.DataLimitExceeded";
/// A JSONata expression failed or produced a value of the wrong type.
pub const QUERY_EVALUATION_ERROR: &str = "States.QueryEvaluationError";
/// A Map run exceeded its tolerated failure threshold.
pub const EXCEED_TOLERATED_FAILURE_THRESHOLD: &str = "States.ExceedToleratedFailureThreshold";
/// The task's credentials were insufficient.
pub const PERMISSIONS: &str = "States.Permissions";
/// A branch of a Parallel state failed (spec name; AWS reports the branch's own error).
pub const BRANCH_FAILED: &str = "States.BranchFailed";
/// A Distributed Map could not read its items through its ItemReader.
pub const ITEM_READER_FAILED: &str = "States.ItemReaderFailed";
/// A Distributed Map could not export its results through its ResultWriter.
pub const RESULT_WRITER_FAILED: &str = "States.ResultWriterFailed";
/// No Task handler is registered for a `Resource` (sluice's own name; catchable).
pub const NO_HANDLER: &str = sluice_task::NO_HANDLER;

/// Does one `ErrorEquals` entry match `error`?
///
/// `States.Runtime` is terminal: no Retry or Catch handles it, not even one naming it (AWS's
/// recorded behaviour). `States.DataLimitExceeded` from a task's result is caught by
/// `States.ALL` in AWS's recordings, so it is matched like any other error here.
pub fn matches(pattern: &str, error: &str) -> bool {
    if error == RUNTIME {
        return false;
    }
    match pattern {
        ALL => true,
        // AWS: "matches any known error name except for States.Timeout"; like States.ALL it
        // leaves the unrecoverable two alone.
        TASK_FAILED => error != TIMEOUT && error != DATA_LIMIT_EXCEEDED,
        _ => pattern == error,
    }
}

/// Does any entry of an `ErrorEquals` list match `error`?
pub fn any_matches(patterns: &[String], error: &str) -> bool {
    patterns.iter().any(|p| matches(p, error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_errors_are_never_handled() {
        assert!(matches(ALL, "Custom"));
        assert!(matches(ALL, TIMEOUT));
        assert!(matches(ALL, DATA_LIMIT_EXCEEDED));
        assert!(!matches(ALL, RUNTIME));
        assert!(!matches(RUNTIME, RUNTIME));
    }

    #[test]
    fn task_failed_excludes_timeout() {
        assert!(matches(TASK_FAILED, "Lambda.Unknown"));
        assert!(matches(TASK_FAILED, TASK_FAILED));
        assert!(matches(TASK_FAILED, HEARTBEAT_TIMEOUT));
        assert!(!matches(TASK_FAILED, TIMEOUT));
        assert!(!matches(TASK_FAILED, RUNTIME));
        assert!(!matches("Other", "Custom"));
        assert!(matches("Custom", "Custom"));
    }
}

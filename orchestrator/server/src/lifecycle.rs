//! The lifecycles of executions and tasks: their statuses, and which status may follow which,
//! in one place. The store keeps a status as its name (`RUNNING`, `PENDING`, …), the names
//! AWS uses in the API.

use std::fmt;
use std::str::FromStr;

/// A status name the store holds that no lifecycle knows (a damaged or newer database).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} status {name:?}")]
pub struct UnknownStatus {
    what: &'static str,
    name: String,
}

/// Where an execution is.
///
/// ```text
/// RUNNING ──▶ SUCCEEDED
///    │  ╲──▶ FAILED ────╮
///    │   ╲─▶ TIMED_OUT ─┼─▶ RUNNING (redrive, Standard only)
///    ╰─────▶ ABORTED ───╯
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExecutionStatus {
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
}

impl ExecutionStatus {
    /// The name AWS and the store use.
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Running => "RUNNING",
            ExecutionStatus::Succeeded => "SUCCEEDED",
            ExecutionStatus::Failed => "FAILED",
            ExecutionStatus::TimedOut => "TIMED_OUT",
            ExecutionStatus::Aborted => "ABORTED",
        }
    }

    /// Whether the execution has ended.
    pub fn is_terminal(self) -> bool {
        self != ExecutionStatus::Running
    }

    /// Whether RedriveExecution may restart an execution that ended so.
    pub fn is_redrivable(self) -> bool {
        matches!(
            self,
            ExecutionStatus::Failed | ExecutionStatus::TimedOut | ExecutionStatus::Aborted
        )
    }

    /// Whether an execution in this status may move to `next`: a running one ends in any
    /// way, an ended one only goes back to running by a redrive.
    pub fn can_become(self, next: ExecutionStatus) -> bool {
        match self {
            ExecutionStatus::Running => next.is_terminal(),
            ended => next == ExecutionStatus::Running && ended.is_redrivable(),
        }
    }
}

/// Where an activity task or a `.waitForTaskToken` callback is.
///
/// ```text
/// PENDING ──▶ CLAIMED ──▶ SUCCEEDED | FAILED | TIMED_OUT
///    ▲           │  (lease expired: claimed again, or back to PENDING)
///    ╰───────────╯
/// PENDING ──▶ SUCCEEDED | FAILED | TIMED_OUT   (callbacks, and ends of the execution)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskStatus {
    /// Waiting for a worker (activities) or for a callback.
    Pending,
    /// Handed to a worker; claimable again when its lease expires.
    Claimed,
    Succeeded,
    Failed,
    TimedOut,
}

impl TaskStatus {
    /// The name the store uses.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Pending => "PENDING",
            TaskStatus::Claimed => "CLAIMED",
            TaskStatus::Succeeded => "SUCCEEDED",
            TaskStatus::Failed => "FAILED",
            TaskStatus::TimedOut => "TIMED_OUT",
        }
    }

    /// Whether the task still takes a claim, a heartbeat or an answer.
    pub fn is_open(self) -> bool {
        matches!(self, TaskStatus::Pending | TaskStatus::Claimed)
    }

    /// Whether a task in this status may move to `next`: an open task is claimed (again)
    /// or ends; an ended task never changes.
    pub fn can_become(self, next: TaskStatus) -> bool {
        self.is_open() && next != TaskStatus::Pending
            || self == TaskStatus::Claimed && next == TaskStatus::Pending
    }
}

/// A state machine's type, which its executions keep: Standard executions are durable and
/// redrivable, Express ones run in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MachineType {
    Standard,
    Express,
}

impl MachineType {
    /// The name AWS and the store use.
    pub fn as_str(self) -> &'static str {
        match self {
            MachineType::Standard => "STANDARD",
            MachineType::Express => "EXPRESS",
        }
    }
}

macro_rules! named {
    ($ty:ident, $what:literal, [$($variant:ident),+]) => {
        impl FromStr for $ty {
            type Err = UnknownStatus;

            fn from_str(name: &str) -> Result<Self, Self::Err> {
                [$($ty::$variant),+]
                    .into_iter()
                    .find(|s| s.as_str() == name)
                    .ok_or_else(|| UnknownStatus {
                        what: $what,
                        name: name.to_string(),
                    })
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// Statuses are stored as their names, in a text column of either backend.
macro_rules! stored_as_text {
    ($ty:ident) => {
        impl<DB: sqlx::Database> sqlx::Type<DB> for $ty
        where
            String: sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <String as sqlx::Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <String as sqlx::Type<DB>>::compatible(ty)
            }
        }

        impl<'q, DB: sqlx::Database> sqlx::Encode<'q, DB> for $ty
        where
            &'static str: sqlx::Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as sqlx::Database>::ArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&'static str as sqlx::Encode<'q, DB>>::encode(self.as_str(), buf)
            }
        }

        impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for $ty
        where
            &'r str: sqlx::Decode<'r, DB>,
        {
            fn decode(
                value: <DB as sqlx::Database>::ValueRef<'r>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                Ok(<&'r str as sqlx::Decode<'r, DB>>::decode(value)?.parse()?)
            }
        }
    };
}

stored_as_text!(ExecutionStatus);
stored_as_text!(MachineType);
stored_as_text!(TaskStatus);

named!(
    ExecutionStatus,
    "execution",
    [Running, Succeeded, Failed, TimedOut, Aborted]
);
named!(
    TaskStatus,
    "task",
    [Pending, Claimed, Succeeded, Failed, TimedOut]
);
named!(MachineType, "state machine type", [Standard, Express]);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in [
            ExecutionStatus::Running,
            ExecutionStatus::Succeeded,
            ExecutionStatus::Failed,
            ExecutionStatus::TimedOut,
            ExecutionStatus::Aborted,
        ] {
            assert_eq!(s.as_str().parse::<ExecutionStatus>(), Ok(s));
        }
        for s in [
            TaskStatus::Pending,
            TaskStatus::Claimed,
            TaskStatus::Succeeded,
            TaskStatus::Failed,
            TaskStatus::TimedOut,
        ] {
            assert_eq!(s.as_str().parse::<TaskStatus>(), Ok(s));
        }
        assert!("running".parse::<ExecutionStatus>().is_err());
    }

    #[test]
    fn execution_transitions() {
        use ExecutionStatus::*;
        assert!(Running.can_become(Succeeded) && Running.can_become(Aborted));
        assert!(!Running.can_become(Running));
        assert!(
            Failed.can_become(Running)
                && TimedOut.can_become(Running)
                && Aborted.can_become(Running)
        );
        assert!(
            !Succeeded.can_become(Running),
            "a success is never redriven"
        );
        assert!(!Failed.can_become(Succeeded));
    }

    #[test]
    fn task_transitions() {
        use TaskStatus::*;
        assert!(Pending.can_become(Claimed) && Claimed.can_become(Claimed));
        assert!(Claimed.can_become(Pending) && Pending.can_become(TimedOut));
        assert!(!Succeeded.can_become(Failed) && !TimedOut.can_become(Claimed));
        assert!(!Pending.can_become(Pending));
    }
}

//! What both backends share about batches of task writes: when a batch may be applied one
//! phase (put, claim, complete) at a time, in a few statements whatever its size, and how
//! the phases' rows become one outcome per write.

use std::collections::HashMap;

use super::{Result, StoreError, TaskOutcome, TaskRecord, TaskWrite};

/// The outcome of one write.
pub(super) type Outcome = Result<Option<TaskRecord>>;
/// Tasks by token.
pub(super) type ByToken = HashMap<String, TaskRecord>;

pub(super) fn token_of(write: &TaskWrite) -> &str {
    match write {
        TaskWrite::Put(t) => &t.token,
        TaskWrite::Claim { token, .. } | TaskWrite::Complete { token, .. } => token,
    }
}

/// Puts, then claims, then completes: the order a task lives through.
fn phase(write: &TaskWrite) -> u8 {
    match write {
        TaskWrite::Put(_) => 0,
        TaskWrite::Claim { .. } => 1,
        TaskWrite::Complete { .. } => 2,
    }
}

/// Whether every task's writes come in phase order, at most one per phase. Writes to
/// different tasks never see each other, so such a batch gives the same outcomes applied
/// one phase at a time as write by write.
pub(super) fn in_phase_order(batch: &[TaskWrite]) -> bool {
    let mut last: HashMap<&str, u8> = HashMap::with_capacity(batch.len());
    batch.iter().all(|w| {
        let p = phase(w);
        last.insert(token_of(w), p).is_none_or(|before| before < p)
    })
}

/// A claim of one phase.
pub(super) struct Claim<'a> {
    pub token: &'a str,
    pub worker: &'a str,
    pub now: f64,
    pub lease_until: f64,
}

/// A batch split by phase.
#[derive(Default)]
pub(super) struct Phases<'a> {
    pub puts: Vec<&'a TaskRecord>,
    pub claims: Vec<Claim<'a>>,
    pub completes: Vec<(&'a str, &'a TaskOutcome)>,
}

impl<'a> Phases<'a> {
    pub fn of(batch: &'a [TaskWrite]) -> Phases<'a> {
        let mut phases = Phases::default();
        for write in batch {
            match write {
                TaskWrite::Put(t) => phases.puts.push(t),
                TaskWrite::Claim {
                    token,
                    worker,
                    now,
                    lease_seconds,
                } => phases.claims.push(Claim {
                    token,
                    worker,
                    now: *now,
                    lease_until: now + lease_seconds,
                }),
                TaskWrite::Complete { token, outcome } => phases.completes.push((token, outcome)),
            }
        }
        phases
    }
}

/// Rows a phased batch produced.
#[derive(Default)]
pub(super) struct Applied {
    /// Rows the puts inserted.
    pub inserted: ByToken,
    /// Rows of put tokens that existed, read before the claims.
    pub existed: ByToken,
    pub claimed: ByToken,
    pub ended: ByToken,
    /// Rows of completed tokens that no complete matched (known but already ended).
    pub known: ByToken,
}

impl Applied {
    /// Tokens of puts that inserted nothing: the caller reads them before the claims.
    pub fn existing<'a>(&self, phases: &Phases<'a>) -> Vec<&'a str> {
        phases
            .puts
            .iter()
            .map(|t| t.token.as_str())
            .filter(|t| !self.inserted.contains_key(*t))
            .collect()
    }

    /// Tokens of completes that ended nothing: the caller reads them to tell ended from unknown.
    pub fn unmatched<'a>(&self, phases: &Phases<'a>) -> Vec<&'a str> {
        phases
            .completes
            .iter()
            .map(|(t, _)| *t)
            .filter(|t| !self.ended.contains_key(*t))
            .collect()
    }

    /// One outcome per write of `batch`, in order.
    pub fn outcomes(mut self, batch: &[TaskWrite]) -> Vec<Outcome> {
        batch
            .iter()
            .map(|w| {
                let token = token_of(w);
                match w {
                    TaskWrite::Put(_) => self
                        .inserted
                        .remove(token)
                        .or_else(|| self.existed.remove(token))
                        .map(Some)
                        .ok_or(StoreError::InvalidToken),
                    TaskWrite::Claim { .. } => Ok(self.claimed.remove(token)),
                    TaskWrite::Complete { .. } => match self.ended.remove(token) {
                        Some(t) => Ok(Some(t)),
                        None if self.known.contains_key(token) => Err(StoreError::TaskEnded),
                        None => Err(StoreError::InvalidToken),
                    },
                }
            })
            .collect()
    }
}

/// Status, output, error and cause of an ended task.
pub(super) fn ending(
    outcome: &TaskOutcome,
) -> (&'static str, Option<&str>, Option<&str>, Option<&str>) {
    match outcome {
        TaskOutcome::Succeeded(o) => ("SUCCEEDED", Some(o.as_str()), None, None),
        TaskOutcome::Failed { error, cause } => {
            ("FAILED", None, error.as_deref(), cause.as_deref())
        }
        TaskOutcome::TimedOut => ("TIMED_OUT", None, None, None),
    }
}

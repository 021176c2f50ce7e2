//! Group commit: transitions from many executions queue up and are written in one database
//! transaction, so throughput is not bounded by one commit per transition.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::batches::BatchWriter;
use crate::store::{ExecutionRecord, NewEvent, QueuedChild, Result, Store, StoreError, Transition};

type Reply = oneshot::Sender<Result<()>>;

/// What the writer writes.
enum Work {
    Transition(Transition),
    /// An execution that already ended (Express), with its events.
    Finished(ExecutionRecord, Vec<NewEvent>),
    /// A Map Run's child that ended, with its events; replaces an earlier run of it.
    Child(ExecutionRecord, Vec<NewEvent>),
    /// A Map Run's child queued for whichever replica has room.
    Queued(QueuedChild),
}

/// Hands transitions to the writer task and waits for their outcome.
#[derive(Clone)]
pub struct Committer {
    queue: mpsc::Sender<(Work, Reply)>,
    writer: BatchWriter,
}

/// Largest batch written in one transaction.
const MAX_BATCH: usize = 512;

/// A child's rows in queue order, the last of each execution kept: a child that starts and
/// ends within one batch is written once, as it ended (one statement cannot write a row
/// twice).
fn latest_per_execution(
    children: Vec<(ExecutionRecord, Vec<NewEvent>)>,
) -> Vec<(ExecutionRecord, Vec<NewEvent>)> {
    let mut seen = std::collections::HashSet::new();
    let mut kept: Vec<_> = children
        .into_iter()
        .rev()
        .filter(|(e, _)| seen.insert(e.arn.clone()))
        .collect();
    kept.reverse();
    kept
}

impl Committer {
    /// Start the writer; it ends after [`Committer::close`], or when every `Committer`
    /// clone is dropped.
    pub fn start(store: Arc<dyn Store>, metrics: Arc<crate::metrics::Metrics>) -> Committer {
        let (tx, rx) = mpsc::channel::<(Work, Reply)>(4 * MAX_BATCH);
        let writer = BatchWriter::spawn(rx, MAX_BATCH, move |batch: Vec<(Work, Reply)>| {
            let store = store.clone();
            let metrics = metrics.clone();
            async move {
                let mut transitions = Vec::new();
                let mut t_replies = Vec::new();
                let mut finished = Vec::new();
                let mut f_replies = Vec::new();
                let mut children = Vec::new();
                let mut c_replies = Vec::new();
                let mut queued = Vec::new();
                let mut q_replies = Vec::new();
                for (work, reply) in batch {
                    match work {
                        Work::Transition(t) => {
                            transitions.push(t);
                            t_replies.push(reply);
                        }
                        Work::Finished(e, events) => {
                            finished.push((e, events));
                            f_replies.push(reply);
                        }
                        Work::Child(e, events) => {
                            children.push((e, events));
                            c_replies.push(reply);
                        }
                        Work::Queued(child) => {
                            queued.push(child);
                            q_replies.push(reply);
                        }
                    }
                }
                if !queued.is_empty() {
                    let outcome = store
                        .queue_children(&queued)
                        .await
                        .map_err(|e| e.to_string());
                    for reply in q_replies {
                        let _ = reply.send(outcome.clone().map_err(backend));
                    }
                }
                if !children.is_empty() {
                    let children = latest_per_execution(children);
                    let outcome = store
                        .record_children(&children)
                        .await
                        .map_err(|e| e.to_string());
                    for reply in c_replies {
                        let _ = reply.send(outcome.clone().map_err(backend));
                    }
                }
                if !finished.is_empty() {
                    let outcome = store
                        .record_finished(&finished)
                        .await
                        .map_err(|e| e.to_string());
                    for reply in f_replies {
                        let _ = reply.send(outcome.clone().map_err(backend));
                    }
                }
                if transitions.is_empty() {
                    return;
                }
                let started = std::time::Instant::now();
                let committed = store.commit(&transitions).await;
                metrics
                    .commit_duration
                    .observe(started.elapsed().as_secs_f64());
                metrics.commit_batch.observe(transitions.len() as f64);
                match committed {
                    Ok(results) => {
                        metrics
                            .transitions
                            .inc_by(results.iter().filter(|r| r.is_ok()).count() as u64);
                        for (reply, result) in t_replies.into_iter().zip(results) {
                            let _ = reply.send(result);
                        }
                    }
                    Err(e) => {
                        let message = e.to_string();
                        for reply in t_replies {
                            let _ = reply.send(Err(backend(message.clone())));
                        }
                    }
                }
            }
        });
        Committer { queue: tx, writer }
    }

    /// Stop taking transitions, write every one already queued, and return once they are
    /// durable (a shutdown's flush).
    pub async fn close(&self) {
        self.writer.close().await;
    }

    /// Queue a transition without waiting for it; gives its events back when the queue is
    /// full.
    pub fn enqueue(&self, transition: Transition) -> std::result::Result<(), Vec<NewEvent>> {
        let (reply, _) = oneshot::channel();
        self.queue
            .try_send((Work::Transition(transition), reply))
            .map_err(|e| match e.into_inner().0 {
                Work::Transition(t) => t.events,
                Work::Finished(_, events) | Work::Child(_, events) => events,
                Work::Queued(_) => Vec::new(),
            })
    }

    /// Record an execution that already ended, batched with other writes.
    pub async fn record_finished(
        &self,
        execution: ExecutionRecord,
        events: Vec<NewEvent>,
    ) -> Result<()> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send((Work::Finished(execution, events), reply))
            .await
            .map_err(|_| StoreError::Backend(sqlx::Error::PoolClosed))?;
        answer
            .await
            .map_err(|_| StoreError::Backend(sqlx::Error::PoolClosed))?
    }

    /// Record a Map Run's child that ended, batched with other writes.
    pub async fn record_child(&self, child: ExecutionRecord, events: Vec<NewEvent>) -> Result<()> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send((Work::Child(child, events), reply))
            .await
            .map_err(|_| StoreError::Backend(sqlx::Error::PoolClosed))?;
        answer
            .await
            .map_err(|_| StoreError::Backend(sqlx::Error::PoolClosed))?
    }

    /// Queue a Map Run's child for whichever replica has room, batched with other writes.
    pub async fn queue_child(&self, child: QueuedChild) -> Result<()> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send((Work::Queued(child), reply))
            .await
            .map_err(|_| StoreError::Backend(sqlx::Error::PoolClosed))?;
        answer
            .await
            .map_err(|_| StoreError::Backend(sqlx::Error::PoolClosed))?
    }

    /// Queue a Map Run's child without waiting (from a `Drop`); false when the queue is full.
    pub fn try_record_child(&self, child: ExecutionRecord, events: Vec<NewEvent>) -> bool {
        let (reply, _) = oneshot::channel();
        self.queue
            .try_send((Work::Child(child, events), reply))
            .is_ok()
    }

    /// Apply one transition durably.
    pub async fn commit(&self, transition: Transition) -> Result<()> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send((Work::Transition(transition), reply))
            .await
            .map_err(|_| StoreError::Backend(sqlx::Error::PoolClosed))?;
        answer
            .await
            .map_err(|_| StoreError::Backend(sqlx::Error::PoolClosed))?
    }
}

/// A backend failure reported to every writer of a failed batch.
fn backend(message: String) -> StoreError {
    StoreError::Backend(sqlx::Error::Protocol(message))
}

//! Group commit: transitions from many executions queue up and are written in one database
//! transaction, so throughput is not bounded by one commit per transition.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::store::{NewEvent, Result, Store, StoreError, Transition};

type Reply = oneshot::Sender<Result<()>>;

/// Hands transitions to the writer task and waits for their outcome.
#[derive(Clone)]
pub struct Committer {
    queue: mpsc::Sender<(Transition, Reply)>,
}

/// Largest batch written in one transaction.
const MAX_BATCH: usize = 512;

impl Committer {
    /// Start the writer; it ends when every `Committer` clone is dropped.
    pub fn start(store: Arc<dyn Store>) -> (Committer, tokio::task::JoinHandle<()>) {
        let (tx, mut rx) = mpsc::channel::<(Transition, Reply)>(4 * MAX_BATCH);
        let writer = tokio::spawn(async move {
            let mut batch = Vec::with_capacity(MAX_BATCH);
            while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
                let (transitions, replies): (Vec<_>, Vec<_>) = batch.drain(..).unzip();
                match store.commit(&transitions).await {
                    Ok(results) => {
                        for (reply, result) in replies.into_iter().zip(results) {
                            let _ = reply.send(result);
                        }
                    }
                    Err(e) => {
                        let message = e.to_string();
                        for reply in replies {
                            let _ = reply.send(Err(StoreError::Backend(sqlx::Error::Protocol(
                                message.clone(),
                            ))));
                        }
                    }
                }
            }
        });
        (Committer { queue: tx }, writer)
    }

    /// Queue a transition without waiting for it; gives its events back when the queue is
    /// full.
    pub fn enqueue(&self, transition: Transition) -> std::result::Result<(), Vec<NewEvent>> {
        let (reply, _) = oneshot::channel();
        self.queue
            .try_send((transition, reply))
            .map_err(|e| e.into_inner().0.events)
    }

    /// Apply one transition durably.
    pub async fn commit(&self, transition: Transition) -> Result<()> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send((transition, reply))
            .await
            .map_err(|_| StoreError::Backend(sqlx::Error::PoolClosed))?;
        answer
            .await
            .map_err(|_| StoreError::Backend(sqlx::Error::PoolClosed))?
    }
}

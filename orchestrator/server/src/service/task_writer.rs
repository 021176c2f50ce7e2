//! Group commit for task writes: tasks put by Task states, claimed by pollers and ended by
//! answers queue up and reach the store in one transaction, so dispatch is not bounded by one
//! commit per write.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::batches::BatchWriter;
use crate::store::{Result, Store, StoreError, TaskRecord, TaskWrite};

type Outcome = Result<Option<TaskRecord>>;

/// A queued write and where its outcome goes.
type Pending = (TaskWrite, oneshot::Sender<Outcome>);

/// Largest batch written in one transaction.
const MAX_BATCH: usize = 512;

/// Hands task writes to the writer task and waits for their outcome.
#[derive(Clone)]
pub struct TaskWriter {
    queue: mpsc::Sender<Pending>,
    writer: BatchWriter,
}

impl TaskWriter {
    /// Start the writer; it ends after [`TaskWriter::close`], or when every `TaskWriter`
    /// clone is dropped.
    pub fn start(store: Arc<dyn Store>) -> TaskWriter {
        let (tx, rx) = mpsc::channel::<Pending>(4 * MAX_BATCH);
        let writer = BatchWriter::spawn(rx, MAX_BATCH, move |batch: Vec<Pending>| {
            let store = store.clone();
            async move {
                let (writes, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
                match store.write_tasks(&writes).await {
                    Ok(results) => {
                        for (reply, result) in replies.into_iter().zip(results) {
                            let _ = reply.send(result);
                        }
                    }
                    Err(e) => {
                        // StoreError is not Clone: every writer of the batch gets the message.
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
        TaskWriter { queue: tx, writer }
    }

    /// Stop taking writes, apply every one already queued, and return once they are durable.
    pub async fn close(&self) {
        self.writer.close().await;
    }

    /// Apply one write durably, batched with whatever else is waiting.
    pub async fn write(&self, write: TaskWrite) -> Outcome {
        self.submit(write).await?.await
    }

    /// Queue one write; the returned future gives its outcome once committed. Writes are
    /// applied in the order they are queued, so a write queued after this one sees it.
    pub async fn submit(
        &self,
        write: TaskWrite,
    ) -> Result<impl std::future::Future<Output = Outcome> + use<>> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send((write, reply))
            .await
            .map_err(|_| closed())?;
        Ok(async move { answer.await.map_err(|_| closed())? })
    }
}

fn closed() -> StoreError {
    StoreError::Backend(sqlx::Error::PoolClosed)
}

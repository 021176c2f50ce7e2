//! The loop both group commits share: take what is queued, up to a batch, and write it in one
//! go; on close, refuse new work and write what is already queued before ending.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The owner's handle on a batch writer task.
#[derive(Clone)]
pub(crate) struct BatchWriter {
    closing: CancellationToken,
    task: Arc<tokio::sync::Mutex<Option<JoinHandle<()>>>>,
}

impl BatchWriter {
    /// Spawn the writer: `write` gets each batch of at most `max` items, in queue order. It
    /// ends after [`BatchWriter::close`] or when every sender is dropped.
    pub(crate) fn spawn<T, F, Fut>(mut queue: mpsc::Receiver<T>, max: usize, mut write: F) -> Self
    where
        T: Send + 'static,
        F: FnMut(Vec<T>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        let closing = CancellationToken::new();
        let close = closing.clone();
        let task = tokio::spawn(async move {
            let mut batch = Vec::with_capacity(max);
            loop {
                let n = tokio::select! {
                    n = queue.recv_many(&mut batch, max) => n,
                    // Refuse new work; what is queued is still written below.
                    _ = close.cancelled(), if !queue.is_closed() => {
                        queue.close();
                        continue;
                    }
                };
                if n == 0 {
                    break;
                }
                write(std::mem::replace(&mut batch, Vec::with_capacity(max))).await;
            }
        });
        BatchWriter {
            closing,
            task: Arc::new(tokio::sync::Mutex::new(Some(task))),
        }
    }

    /// Stop taking work, write everything already queued, and return once it is written.
    pub(crate) async fn close(&self) {
        self.closing.cancel();
        if let Some(task) = self.task.lock().await.take() {
            let _ = task.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[tokio::test]
    async fn close_writes_what_was_queued_and_refuses_the_rest() {
        let (tx, rx) = mpsc::channel(64);
        let written = Arc::new(Mutex::new(Vec::new()));
        let sink = written.clone();
        let writer = BatchWriter::spawn(rx, 8, move |batch: Vec<u32>| {
            let sink = sink.clone();
            async move {
                sink.lock().expect("not poisoned").extend(batch);
            }
        });
        for i in 0..20 {
            tx.send(i).await.expect("queued");
        }
        writer.close().await;
        assert_eq!(
            *written.lock().expect("not poisoned"),
            (0..20).collect::<Vec<_>>()
        );
        assert!(tx.send(99).await.is_err(), "a closed writer takes no more");
    }
}

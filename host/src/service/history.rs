//! Execution history written in the background.
//!
//! A durable commit costs an fsync; doing one per execution would cap
//! throughput at the disk's sync rate. Records are queued and written in
//! batches, one transaction per batch. History is therefore not part of the
//! acknowledged-write guarantee (definitions and config are); a crash can
//! lose the last few milliseconds of history. Shutdown drains the queue.

use tokio::sync::{mpsc, oneshot};

use crate::store::{ExecutionRecord, Store};

/// Batches at most this many records per transaction.
const MAX_BATCH: usize = 512;

enum Message {
    Record(String, Box<ExecutionRecord>),
    Flush(oneshot::Sender<()>),
}

/// The handle executions send their records to.
#[derive(Clone)]
pub struct HistoryWriter {
    sender: mpsc::UnboundedSender<Message>,
}

impl HistoryWriter {
    /// Start the writer task, keeping `keep` records per connector.
    pub fn start(store: Store, keep: usize) -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        tokio::spawn(write_loop(store, keep, receiver));
        Self { sender }
    }

    /// Queue a record.
    pub fn record(&self, connector_id: String, record: ExecutionRecord) {
        let _ = self
            .sender
            .send(Message::Record(connector_id, Box::new(record)));
    }

    /// Wait until everything queued so far is written.
    pub async fn flush(&self) {
        let (done, waiting) = oneshot::channel();
        if self.sender.send(Message::Flush(done)).is_ok() {
            let _ = waiting.await;
        }
    }
}

async fn write_loop(store: Store, keep: usize, mut receiver: mpsc::UnboundedReceiver<Message>) {
    let mut batch = Vec::new();
    while let Some(first) = receiver.recv().await {
        let mut waiters = Vec::new();
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Record(id, record) => batch.push((id, *record)),
                Message::Flush(done) => waiters.push(done),
            }
            if batch.len() < MAX_BATCH {
                next = receiver.try_recv().ok();
            }
        }
        if !batch.is_empty()
            && let Err(error) = store
                .append_executions(std::mem::take(&mut batch), keep)
                .await
        {
            tracing::error!(%error, "could not write execution history");
        }
        for done in waiters {
            let _ = done.send(());
        }
    }
}

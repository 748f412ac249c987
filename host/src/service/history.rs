//! Execution history written in the background.
//!
//! A durable commit costs an fsync, and each commit rewrites the connector's
//! activity summary; doing one per execution would cap throughput at the
//! disk's sync rate and spend more on history than on the execution itself.
//! Records are queued and written in batches, one transaction per batch: the
//! writer waits up to [`LINGER`] after the first record of a batch for more
//! to join it. History is therefore not part of the acknowledged-write
//! guarantee (definitions and config are); a crash can lose the last few
//! milliseconds of history. Reads of the history flush first (see
//! [`HistoryWriter::flush`]), so they see every execution answered before
//! them. Shutdown drains the queue.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, mpsc, oneshot};

use crate::store::{ExecutionRecord, Store};

/// Batches at most this many records per transaction.
const MAX_BATCH: usize = 512;

/// How long the first record of a batch waits for others. Under a steady
/// stream of executions (even one at a time) this turns a commit per
/// execution into a commit per couple of milliseconds, and the writer is
/// woken once per batch instead of once per record; a flush cuts it short.
const LINGER: Duration = Duration::from_millis(2);

enum Message {
    Record(String, Box<ExecutionRecord>),
    Flush(oneshot::Sender<()>),
}

/// The handle executions send their records to.
#[derive(Clone)]
pub struct HistoryWriter {
    sender: mpsc::UnboundedSender<Message>,
    /// Ends the writer's linger: a flush is waiting.
    hurry: Arc<Notify>,
}

impl HistoryWriter {
    /// Start the writer task, keeping `keep` records per connector.
    pub fn start(store: Store, keep: usize) -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        let hurry = Arc::new(Notify::new());
        tokio::spawn(write_loop(store, keep, receiver, hurry.clone()));
        Self { sender, hurry }
    }

    /// Queue a record.
    pub fn record(&self, connector_id: String, record: ExecutionRecord) {
        let _ = self
            .sender
            .send(Message::Record(connector_id, Box::new(record)));
    }

    /// Wait until everything queued so far is written (without waiting out
    /// the linger).
    pub async fn flush(&self) {
        let (done, waiting) = oneshot::channel();
        if self.sender.send(Message::Flush(done)).is_ok() {
            self.hurry.notify_one();
            let _ = waiting.await;
        }
    }
}

/// One batch: the records to write and the flushes that wait for them.
#[derive(Default)]
struct Batch {
    records: Vec<(String, ExecutionRecord)>,
    waiters: Vec<oneshot::Sender<()>>,
}

impl Batch {
    fn add(&mut self, message: Message) {
        match message {
            Message::Record(id, record) => self.records.push((id, *record)),
            Message::Flush(done) => self.waiters.push(done),
        }
    }

    /// Full, or somebody is waiting for it: write it now.
    fn is_due(&self) -> bool {
        self.records.len() >= MAX_BATCH || !self.waiters.is_empty()
    }
}

async fn write_loop(
    store: Store,
    keep: usize,
    mut receiver: mpsc::UnboundedReceiver<Message>,
    hurry: Arc<Notify>,
) {
    while let Some(first) = receiver.recv().await {
        let mut batch = Batch::default();
        batch.add(first);
        if !batch.is_due() {
            // Sleep rather than wait on the queue: a record sent meanwhile
            // wakes nobody.
            tokio::select! {
                () = tokio::time::sleep(LINGER) => {}
                () = hurry.notified() => {}
            }
        }
        while batch.records.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(message) => batch.add(message),
                Err(_) => break,
            }
        }
        if !batch.records.is_empty()
            && let Err(error) = store.append_executions(batch.records, keep).await
        {
            tracing::error!(%error, "could not write execution history");
        }
        for done in batch.waiters {
            let _ = done.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> ExecutionRecord {
        ExecutionRecord {
            id: id.into(),
            command: "ping".into(),
            status: "ok".into(),
            success: true,
            error: None,
            started_at_ms: 1,
            duration_ms: 0,
            logs: Vec::new(),
            http_calls: Vec::new(),
            agent: None,
        }
    }

    /// A writer over a fresh store, keeping `keep` records per connector
    /// (the directory lives as long as the returned guard).
    fn writer(keep: usize) -> (tempfile::TempDir, Store, HistoryWriter) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("floh.redb")).expect("store");
        let writer = HistoryWriter::start(store.clone(), keep);
        (dir, store, writer)
    }

    async fn written(store: &Store) -> Vec<String> {
        let records = store.executions("c1".into(), 10).await.expect("read");
        records.into_iter().map(|r| r.id).collect()
    }

    #[tokio::test]
    async fn a_flush_returns_once_every_record_queued_before_it_is_written() {
        let (_dir, store, writer) = writer(100);
        for n in 0..3 {
            writer.record("c1".into(), record(&format!("e{n}")));
        }
        writer.flush().await;
        assert_eq!(written(&store).await, ["e2", "e1", "e0"]);
    }

    #[tokio::test]
    async fn records_are_written_after_the_linger_without_a_flush() {
        let (_dir, store, writer) = writer(100);
        writer.record("c1".into(), record("e0"));
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while written(&store).await.is_empty() {
            assert!(std::time::Instant::now() < deadline, "never written");
            tokio::time::sleep(LINGER).await;
        }
        assert_eq!(written(&store).await, ["e0"]);
    }

    #[tokio::test]
    async fn more_records_than_a_batch_holds_are_all_written_by_one_flush() {
        let (_dir, store, writer) = writer(2 * MAX_BATCH);
        for n in 0..MAX_BATCH + 3 {
            writer.record("c1".into(), record(&format!("e{n}")));
        }
        writer.flush().await;
        let all = store
            .executions("c1".into(), 2 * MAX_BATCH)
            .await
            .expect("read");
        assert_eq!(all.len(), MAX_BATCH + 3);
    }
}

//! What pages need at a glance without reading whole histories: each
//! connector's last outcomes (for lists and sparklines) and the most recent
//! executions across connectors. Both are small summaries (no logs, no HTTP
//! calls) written in the same transaction as the history they summarize.

use std::collections::HashMap;

use redb::{
    ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition, WriteTransaction,
};
use serde::{Deserialize, Serialize};

use super::{ExecutionRecord, RedbStore, StoreError, decode, encode};
use crate::store::{ACTIVITY_PER_CONNECTOR, ExecutionSummary, RECENT_KEPT};

/// Each connector's latest execution summaries, by connector id.
pub(super) const ACTIVITY: TableDefinition<&str, &[u8]> = TableDefinition::new("activity");
/// Each connector's newest execution summary, by connector id: what a
/// listing shows without reading a whole window of activity.
pub(super) const LAST_EXECUTION: TableDefinition<&str, &[u8]> =
    TableDefinition::new("last_execution");
/// Recent executions across connectors by (start time, execution id).
pub(super) const RECENT: TableDefinition<(u64, &str), &[u8]> =
    TableDefinition::new("recent_executions");

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RecentEntry {
    connector_id: String,
    summary: ExecutionSummary,
}

/// Fill `LAST_EXECUTION` from the activity of a database written before it
/// existed, inside `txn`.
pub(super) fn backfill(txn: &WriteTransaction) -> Result<(), StoreError> {
    let activity = txn.open_table(ACTIVITY)?;
    let mut last = txn.open_table(LAST_EXECUTION)?;
    if last.is_empty()? && !activity.is_empty()? {
        for entry in activity.iter()? {
            let (id, value) = entry?;
            let summaries: Vec<ExecutionSummary> = decode(value.value())?;
            if let Some(newest) = summaries.last() {
                last.insert(id.value(), encode(newest).as_slice())?;
            }
        }
    }
    Ok(())
}

/// Update the summaries for a batch of new history records.
pub(super) fn record(
    txn: &WriteTransaction,
    batch: &[(String, ExecutionRecord)],
) -> Result<(), StoreError> {
    let mut activity = txn.open_table(ACTIVITY)?;
    let mut last = txn.open_table(LAST_EXECUTION)?;
    let mut by_connector: HashMap<&str, Vec<ExecutionSummary>> = HashMap::new();
    for (connector_id, record) in batch {
        by_connector
            .entry(connector_id.as_str())
            .or_default()
            .push(ExecutionSummary::of(record));
    }
    for (id, fresh) in by_connector {
        let mut kept: Vec<ExecutionSummary> = match activity.get(id)? {
            Some(bytes) => decode(bytes.value())?,
            None => Vec::new(),
        };
        kept.extend(fresh);
        let excess = kept.len().saturating_sub(ACTIVITY_PER_CONNECTOR);
        kept.drain(..excess);
        if let Some(newest) = kept.last() {
            last.insert(id, encode(newest).as_slice())?;
        }
        activity.insert(id, encode(&kept).as_slice())?;
    }
    let mut recent = txn.open_table(RECENT)?;
    for (connector_id, record) in batch {
        let entry = RecentEntry {
            connector_id: connector_id.clone(),
            summary: ExecutionSummary::of(record),
        };
        recent.insert(
            (record.started_at_ms, record.id.as_str()),
            encode(&entry).as_slice(),
        )?;
    }
    let excess = recent.len()?.saturating_sub(RECENT_KEPT as u64);
    if excess > 0 {
        let oldest: Vec<(u64, String)> = recent
            .iter()?
            .take(excess as usize)
            .map(|entry| entry.map(|(key, _)| (key.value().0, key.value().1.to_string())))
            .collect::<Result<_, _>>()?;
        for (at, id) in oldest {
            recent.remove((at, id.as_str()))?;
        }
    }
    Ok(())
}

/// Forget a deleted connector's summaries.
pub(super) fn forget(txn: &WriteTransaction, connector_id: &str) -> Result<(), StoreError> {
    txn.open_table(ACTIVITY)?.remove(connector_id)?;
    txn.open_table(LAST_EXECUTION)?.remove(connector_id)?;
    let mut recent = txn.open_table(RECENT)?;
    let theirs: Vec<(u64, String)> = recent
        .iter()?
        .filter_map(|entry| {
            let (key, value) = entry.ok()?;
            let entry: RecentEntry = decode(value.value()).ok()?;
            (entry.connector_id == connector_id).then(|| (key.value().0, key.value().1.to_string()))
        })
        .collect();
    for (at, id) in theirs {
        recent.remove((at, id.as_str()))?;
    }
    Ok(())
}

impl RedbStore {
    /// The latest execution summaries (oldest first) of the connectors with
    /// ids `ids` that have run, by id.
    pub async fn activity_of(
        &self,
        ids: Vec<String>,
    ) -> Result<HashMap<String, Vec<ExecutionSummary>>, StoreError> {
        self.blocking(move |db| {
            let txn = db.begin_read()?;
            let table = txn.open_table(ACTIVITY)?;
            let mut found = HashMap::with_capacity(ids.len());
            for id in ids {
                if let Some(value) = table.get(id.as_str())? {
                    let summaries = decode(value.value())?;
                    found.insert(id, summaries);
                }
            }
            Ok(found)
        })
        .await
    }

    /// Every connector's latest execution summaries (oldest first), by id.
    pub async fn activity(&self) -> Result<HashMap<String, Vec<ExecutionSummary>>, StoreError> {
        self.blocking(|db| {
            let txn = db.begin_read()?;
            let table = txn.open_table(ACTIVITY)?;
            table
                .iter()?
                .map(|entry| {
                    let (key, value) = entry?;
                    Ok((key.value().to_string(), decode(value.value())?))
                })
                .collect()
        })
        .await
    }

    /// The newest `limit` executions across connectors, newest first, as
    /// (connector id, summary).
    pub async fn recent_executions(
        &self,
        limit: usize,
    ) -> Result<Vec<(String, ExecutionSummary)>, StoreError> {
        self.blocking(move |db| {
            let txn = db.begin_read()?;
            let table = txn.open_table(RECENT)?;
            table
                .iter()?
                .rev()
                .take(limit)
                .map(|entry| {
                    let entry: RecentEntry = decode(entry?.1.value())?;
                    Ok((entry.connector_id, entry.summary))
                })
                .collect()
        })
        .await
    }
}

//! Execution history and the activity summaries written with it.
//!
//! Nodes append concurrently: sequence numbers come from one `bigserial`
//! (no read-then-write race), and each connector's activity row is locked
//! while it is merged, in connector-id order so two batches never deadlock.
//! Appending notifies no one: history is read where it is asked for.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::{PostgresStore, database, to_i64};
use crate::store::{
    ACTIVITY_PER_CONNECTOR, ExecutionRecord, ExecutionSummary, RECENT_KEPT, StoreError, decode,
    encode,
};

/// A recent execution across connectors.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RecentEntry {
    connector_id: String,
    summary: ExecutionSummary,
}

impl PostgresStore {
    pub(in crate::store) async fn append_executions(
        &self,
        batch: Vec<(String, ExecutionRecord)>,
        keep: usize,
    ) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut by_connector: BTreeMap<&str, Vec<&ExecutionRecord>> = BTreeMap::new();
        for (connector_id, record) in &batch {
            by_connector
                .entry(connector_id.as_str())
                .or_default()
                .push(record);
        }
        let mut client = self.client().await?;
        let txn = client.transaction().await.map_err(database)?;
        let insert = txn
            .prepare_cached("INSERT INTO executions (connector_id, record) VALUES ($1, $2)")
            .await
            .map_err(database)?;
        let oldest_kept = to_i64(keep.saturating_sub(1) as u64);
        for (id, records) in &by_connector {
            for record in records {
                txn.execute(&insert, &[id, &encode(record)])
                    .await
                    .map_err(database)?;
            }
            txn.execute(
                "DELETE FROM executions WHERE connector_id = $1 AND seq < (
                    SELECT seq FROM executions WHERE connector_id = $1
                    ORDER BY seq DESC OFFSET $2 LIMIT 1)",
                &[id, &oldest_kept],
            )
            .await
            .map_err(database)?;
            merge_activity(&txn, id, records).await?;
        }
        for (connector_id, record) in &batch {
            let entry = RecentEntry {
                connector_id: connector_id.clone(),
                summary: ExecutionSummary::of(record),
            };
            txn.execute(
                "INSERT INTO recent_executions (started_at_ms, execution_id, connector_id, entry)
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                &[
                    &to_i64(record.started_at_ms),
                    &record.id,
                    connector_id,
                    &encode(&entry),
                ],
            )
            .await
            .map_err(database)?;
        }
        txn.execute(
            "DELETE FROM recent_executions WHERE (started_at_ms, execution_id) IN (
                SELECT started_at_ms, execution_id FROM recent_executions
                ORDER BY started_at_ms DESC, execution_id DESC OFFSET $1)",
            &[&to_i64(RECENT_KEPT as u64)],
        )
        .await
        .map_err(database)?;
        txn.commit().await.map_err(database)?;
        Ok(())
    }

    pub(in crate::store) async fn executions(
        &self,
        connector_id: String,
        limit: usize,
    ) -> Result<Vec<ExecutionRecord>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT record FROM executions WHERE connector_id = $1
                 ORDER BY seq DESC LIMIT $2",
                &[&connector_id, &to_i64(limit as u64)],
            )
            .await
            .map_err(database)?;
        rows.iter()
            .map(|row| decode(row.get::<_, &[u8]>(0)))
            .collect()
    }

    pub(in crate::store) async fn activity_of(
        &self,
        ids: Vec<String>,
    ) -> Result<HashMap<String, Vec<ExecutionSummary>>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT connector_id, summaries FROM activity WHERE connector_id = ANY($1)",
                &[&ids],
            )
            .await
            .map_err(database)?;
        rows.iter()
            .map(|row| Ok((row.get(0), decode(row.get::<_, &[u8]>(1))?)))
            .collect()
    }

    pub(in crate::store) async fn activity(
        &self,
    ) -> Result<HashMap<String, Vec<ExecutionSummary>>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query("SELECT connector_id, summaries FROM activity", &[])
            .await
            .map_err(database)?;
        rows.iter()
            .map(|row| Ok((row.get(0), decode(row.get::<_, &[u8]>(1))?)))
            .collect()
    }

    pub(in crate::store) async fn recent_executions(
        &self,
        limit: usize,
    ) -> Result<Vec<(String, ExecutionSummary)>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT entry FROM recent_executions
                 ORDER BY started_at_ms DESC, execution_id DESC LIMIT $1",
                &[&to_i64(limit as u64)],
            )
            .await
            .map_err(database)?;
        rows.iter()
            .map(|row| {
                let entry: RecentEntry = decode(row.get::<_, &[u8]>(0))?;
                Ok((entry.connector_id, entry.summary))
            })
            .collect()
    }
}

/// Add `records` to connector `id`'s activity window (locked while merged).
async fn merge_activity(
    txn: &tokio_postgres::Transaction<'_>,
    id: &str,
    records: &[&ExecutionRecord],
) -> Result<(), StoreError> {
    txn.execute(
        "INSERT INTO activity (connector_id, summaries) VALUES ($1, '\\x5b5d')
         ON CONFLICT DO NOTHING",
        &[&id],
    )
    .await
    .map_err(database)?;
    let row = txn
        .query_one(
            "SELECT summaries FROM activity WHERE connector_id = $1 FOR UPDATE",
            &[&id],
        )
        .await
        .map_err(database)?;
    let mut kept: Vec<ExecutionSummary> = decode(row.get::<_, &[u8]>(0))?;
    kept.extend(records.iter().map(|record| ExecutionSummary::of(record)));
    let excess = kept.len().saturating_sub(ACTIVITY_PER_CONNECTOR);
    kept.drain(..excess);
    let newest = kept.last().map(encode);
    txn.execute(
        "UPDATE activity SET summaries = $2, newest = $3 WHERE connector_id = $1",
        &[&id, &encode(&kept), &newest],
    )
    .await
    .map_err(database)?;
    Ok(())
}

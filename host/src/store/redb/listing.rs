//! What listing connectors reads: a small summary of each connector, kept
//! beside its record and written in the same transaction, and each
//! connector's newest execution, kept beside the activity it summarizes.
//! A listing of thousands of connectors is then two range reads of small
//! values: no script, spec or sealed config is read, decoded or copied.

use redb::{
    ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition, WriteTransaction,
};

use super::activity::LAST_EXECUTION;
use super::{CONNECTORS, ConnectorRecord, RedbStore, StoreError, decode, encode};
use crate::store::{ConnectorListing, ExecutionSummary};

/// Connector summaries by connector id.
pub(super) const LISTING: TableDefinition<&str, &[u8]> = TableDefinition::new("connector_listing");

/// Keep `record`'s listing entry in step (insert and update).
pub(super) fn write(txn: &WriteTransaction, record: &ConnectorRecord) -> Result<(), StoreError> {
    txn.open_table(LISTING)?.insert(
        record.id.as_str(),
        encode(&ConnectorListing::of(record)).as_slice(),
    )?;
    Ok(())
}

/// Forget a deleted connector's entry.
pub(super) fn forget(txn: &WriteTransaction, id: &str) -> Result<(), StoreError> {
    txn.open_table(LISTING)?.remove(id)?;
    Ok(())
}

/// Fill the table from the records of a database written before it existed
/// (or left out of step), inside `txn`.
pub(super) fn backfill(txn: &WriteTransaction) -> Result<(), StoreError> {
    let connectors = txn.open_table(CONNECTORS)?;
    let mut listing = txn.open_table(LISTING)?;
    if listing.len()? != connectors.len()? {
        listing.retain(|_, _| false)?;
        for entry in connectors.iter()? {
            let (id, value) = entry?;
            let record: ConnectorRecord = decode(value.value())?;
            listing.insert(
                id.value(),
                encode(&ConnectorListing::of(&record)).as_slice(),
            )?;
        }
    }
    Ok(())
}

impl RedbStore {
    /// Every connector's listing entry with its newest execution, by id.
    pub async fn listing(
        &self,
    ) -> Result<Vec<(ConnectorListing, Option<ExecutionSummary>)>, StoreError> {
        self.blocking(|db| {
            let txn = db.begin_read()?;
            let listing = txn.open_table(LISTING)?;
            let last = txn.open_table(LAST_EXECUTION)?;
            listing
                .iter()?
                .map(|entry| {
                    let (id, value) = entry?;
                    let newest = last
                        .get(id.value())?
                        .map(|v| decode(v.value()))
                        .transpose()?;
                    Ok((decode(value.value())?, newest))
                })
                .collect()
        })
        .await
    }
}

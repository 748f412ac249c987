//! What listing connectors reads: a small summary of each connector, kept
//! beside its record and written in the same transaction, and each
//! connector's newest execution, kept beside the activity it summarizes.
//! A listing of thousands of connectors is then two range reads of small
//! values: no script, spec or sealed config is read, decoded or copied.

use redb::{
    ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition, WriteTransaction,
};
use serde::{Deserialize, Serialize};

use super::activity::{ExecutionSummary, LAST_EXECUTION};
use super::{CONNECTORS, ConnectorRecord, Store, StoreError, decode, encode};
use crate::model::ExecutionModel;

/// Connector summaries by connector id.
pub(super) const LISTING: TableDefinition<&str, &[u8]> = TableDefinition::new("connector_listing");

/// A connector as listed: the fields that tell connectors apart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorListing {
    /// Stable id.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// The type name.
    #[serde(default)]
    pub type_name: Option<String>,
    /// How it runs.
    pub execution_model: ExecutionModel,
    /// What it is for.
    #[serde(default)]
    pub description: Option<String>,
    /// Its version.
    #[serde(default)]
    pub version: Option<String>,
    /// Its category.
    #[serde(default)]
    pub category: Option<String>,
    /// Its tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The commands its own `configSchema` declares (a built-in instance
    /// declares none: its type's apply).
    #[serde(default)]
    pub commands: Vec<String>,
    /// An external connector's endpoint.
    #[serde(default)]
    pub endpoint_url: Option<String>,
    /// Whether a connection config is stored.
    #[serde(default)]
    pub configured: bool,
    /// Creation time, Unix milliseconds.
    pub created_at_ms: u64,
    /// Last update, Unix milliseconds.
    pub updated_at_ms: u64,
}

impl ConnectorListing {
    /// The listing entry of `record`.
    pub fn of(record: &ConnectorRecord) -> Self {
        let definition = &record.definition;
        Self {
            id: record.id.clone(),
            name: definition.name.clone(),
            type_name: definition.type_name.clone(),
            execution_model: definition.execution_model,
            description: definition.description.clone(),
            version: definition.version.clone(),
            category: definition.category.clone(),
            tags: definition.tags.clone(),
            commands: definition
                .config_schema
                .as_ref()
                .map(|schema| schema.commands.keys().cloned().collect())
                .unwrap_or_default(),
            endpoint_url: definition.endpoint_url.clone(),
            configured: record.sealed_config.is_some(),
            created_at_ms: record.created_at_ms,
            updated_at_ms: record.updated_at_ms,
        }
    }
}

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

impl Store {
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

//! The embedded store: everything in one redb file (`<data-dir>/floh.redb`).
//!
//! Each mutation is one ACID write transaction, committed durably before
//! the call returns. redb runs write transactions one at a time, which is
//! what keeps names unique and retirements exact here. redb is synchronous,
//! so every call runs on tokio's blocking pool, never on an async worker.

mod activity;
mod agent_tokens;
mod agents;
mod backup;
mod keys;
mod listing;
mod oauth;
mod retired;
mod specs;

use std::path::Path;
use std::sync::Arc;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::{
    ConnectorRecord, ExecutionRecord, SpecChange, StoreError, TokenRecord, decode, encode,
};
use crate::model::OpenApiSpec;

pub use backup::{BackupSummary, inspect_backup};

/// Connector records by id.
const CONNECTORS: TableDefinition<&str, &[u8]> = TableDefinition::new("connectors");
/// Connector ids by unique name.
const NAMES: TableDefinition<&str, &str> = TableDefinition::new("connector_names");
/// Compiled script bytecode by connector id.
const BYTECODE: TableDefinition<&str, &[u8]> = TableDefinition::new("script_bytecode");
/// Execution history by (connector id, sequence).
const EXECUTIONS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("executions");
/// Token records by SHA-256 (hex) of the token.
const TOKENS: TableDefinition<&str, &[u8]> = TableDefinition::new("tokens");
/// Store-wide values (the key checks, the retired key versions).
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

impl<E: Into<redb::Error>> From<E> for StoreError {
    fn from(error: E) -> Self {
        Self::Database(error.into().to_string())
    }
}

/// The redb database.
#[derive(Clone)]
pub struct RedbStore {
    db: Arc<Database>,
    /// The directory of the database file (backups are written there
    /// first: same file system, no tmpfs size limit).
    dir: Arc<std::path::PathBuf>,
}

impl RedbStore {
    /// Open (or create) the database file and its tables.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::create(path)?;
        let txn = db.begin_write()?;
        txn.open_table(CONNECTORS)?;
        txn.open_table(NAMES)?;
        txn.open_table(BYTECODE)?;
        txn.open_table(EXECUTIONS)?;
        txn.open_table(TOKENS)?;
        txn.open_table(META)?;
        txn.open_table(agent_tokens::AGENT_TOKENS)?;
        txn.open_table(agents::AGENTS)?;
        txn.open_table(activity::ACTIVITY)?;
        txn.open_table(activity::RECENT)?;
        txn.open_table(specs::SPECS)?;
        txn.open_table(specs::SPEC_REFS)?;
        txn.open_table(oauth::GRANTS)?;
        txn.open_table(oauth::PENDING)?;
        listing::backfill(&txn)?;
        activity::backfill(&txn)?;
        txn.commit()?;
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        Ok(Self {
            db: Arc::new(db),
            dir: Arc::new(dir),
        })
    }

    /// The directory of the database file.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    async fn blocking<R, F>(&self, work: F) -> Result<R, StoreError>
    where
        F: FnOnce(&Database) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || work(&db))
            .await
            .map_err(|e| StoreError::Database(format!("storage task failed: {e}")))?
    }

    /// Whether any token exists.
    pub async fn has_tokens(&self) -> Result<bool, StoreError> {
        self.blocking(|db| {
            let txn = db.begin_read()?;
            Ok(txn.open_table(TOKENS)?.first()?.is_some())
        })
        .await
    }

    /// Insert a new connector (and its bytecode and spec); refuses a taken
    /// name. Returns the record as stored (with its spec's digest).
    pub async fn insert_connector(
        &self,
        mut record: ConnectorRecord,
        bytecode: Option<Vec<u8>>,
        spec: Option<OpenApiSpec>,
    ) -> Result<ConnectorRecord, StoreError> {
        self.blocking(move |db| {
            let txn = db.begin_write()?;
            {
                let mut names = txn.open_table(NAMES)?;
                let name = record.definition.name.as_str();
                if names.get(name)?.is_some() {
                    return Err(StoreError::NameTaken(name.to_string()));
                }
                names.insert(name, record.id.as_str())?;
                if let Some(sealed) = &record.sealed_config {
                    retired::refuse_retired(&txn, sealed)?;
                }
                record.spec_digest = spec.as_ref().map(|s| specs::add_ref(&txn, s)).transpose()?;
                txn.open_table(CONNECTORS)?
                    .insert(record.id.as_str(), encode(&record).as_slice())?;
                listing::write(&txn, &record)?;
                if let Some(bytecode) = &bytecode {
                    txn.open_table(BYTECODE)?
                        .insert(record.id.as_str(), bytecode.as_slice())?;
                }
            }
            txn.commit()?;
            Ok(record)
        })
        .await
    }

    /// Replace a connector (renaming it if its name changed) and, when given,
    /// its bytecode (`Some(None)` removes it) and its spec. Returns the
    /// record as stored.
    pub async fn update_connector(
        &self,
        mut record: ConnectorRecord,
        previous_name: String,
        bytecode: Option<Option<Vec<u8>>>,
        spec: SpecChange,
    ) -> Result<ConnectorRecord, StoreError> {
        self.blocking(move |db| {
            let txn = db.begin_write()?;
            if let Some(sealed) = &record.sealed_config {
                retired::refuse_retired(&txn, sealed)?;
            }
            {
                let mut names = txn.open_table(NAMES)?;
                let name = record.definition.name.as_str();
                if name != previous_name {
                    if names.get(name)?.is_some() {
                        return Err(StoreError::NameTaken(name.to_string()));
                    }
                    names.remove(previous_name.as_str())?;
                    names.insert(name, record.id.as_str())?;
                }
                if let SpecChange::Set(spec) = &spec {
                    // Count the new one first: an unchanged spec is never
                    // dropped and written again.
                    let digest = spec.as_ref().map(|s| specs::add_ref(&txn, s)).transpose()?;
                    if let Some(old) = record.spec_digest.take() {
                        specs::drop_ref(&txn, &old)?;
                    }
                    record.spec_digest = digest;
                }
                txn.open_table(CONNECTORS)?
                    .insert(record.id.as_str(), encode(&record).as_slice())?;
                listing::write(&txn, &record)?;
                let mut table = txn.open_table(BYTECODE)?;
                match bytecode {
                    Some(Some(bytes)) => {
                        table.insert(record.id.as_str(), bytes.as_slice())?;
                    }
                    Some(None) => {
                        table.remove(record.id.as_str())?;
                    }
                    None => {}
                }
            }
            txn.commit()?;
            Ok(record)
        })
        .await
    }

    /// Delete a connector with its bytecode and history.
    pub async fn delete_connector(&self, id: String) -> Result<bool, StoreError> {
        self.blocking(move |db| {
            let txn = db.begin_write()?;
            let existed = {
                let mut connectors = txn.open_table(CONNECTORS)?;
                let Some(record) = connectors.remove(id.as_str())?.map(|v| v.value().to_vec())
                else {
                    return Ok(false);
                };
                let record: ConnectorRecord = decode(&record)?;
                txn.open_table(NAMES)?
                    .remove(record.definition.name.as_str())?;
                txn.open_table(BYTECODE)?.remove(id.as_str())?;
                if let Some(digest) = &record.spec_digest {
                    specs::drop_ref(&txn, digest)?;
                }
                let mut executions = txn.open_table(EXECUTIONS)?;
                executions
                    .extract_from_if((id.as_str(), 0)..=(id.as_str(), u64::MAX), |_, _| true)?
                    .for_each(drop);
                activity::forget(&txn, &id)?;
                listing::forget(&txn, &id)?;
                oauth::forget(&txn, &id)?;
                true
            };
            txn.commit()?;
            Ok(existed)
        })
        .await
    }

    /// A connector by id or by name.
    pub async fn find_connector(
        &self,
        id_or_name: String,
    ) -> Result<Option<ConnectorRecord>, StoreError> {
        self.blocking(move |db| {
            let txn = db.begin_read()?;
            let connectors = txn.open_table(CONNECTORS)?;
            let by_id = connectors
                .get(id_or_name.as_str())?
                .map(|v| v.value().to_vec());
            let bytes = match by_id {
                Some(bytes) => Some(bytes),
                None => match txn.open_table(NAMES)?.get(id_or_name.as_str())? {
                    Some(id) => connectors.get(id.value())?.map(|v| v.value().to_vec()),
                    None => None,
                },
            };
            bytes.map(|b| decode(&b)).transpose()
        })
        .await
    }

    /// Each connector's name by id (the name index alone: no record is
    /// read).
    pub async fn connector_names(
        &self,
    ) -> Result<std::collections::HashMap<String, String>, StoreError> {
        self.blocking(|db| {
            let txn = db.begin_read()?;
            let names = txn.open_table(NAMES)?;
            names
                .iter()?
                .map(|entry| {
                    let (name, id) = entry?;
                    Ok((id.value().to_string(), name.value().to_string()))
                })
                .collect()
        })
        .await
    }

    /// Whether a connector with this id or name exists (nothing decoded).
    pub async fn connector_exists(&self, id_or_name: String) -> Result<bool, StoreError> {
        self.blocking(move |db| {
            let txn = db.begin_read()?;
            let key = id_or_name.as_str();
            Ok(txn.open_table(CONNECTORS)?.get(key)?.is_some()
                || txn.open_table(NAMES)?.get(key)?.is_some())
        })
        .await
    }

    /// Every connector.
    pub async fn list_connectors(&self) -> Result<Vec<ConnectorRecord>, StoreError> {
        self.blocking(|db| {
            let txn = db.begin_read()?;
            let table = txn.open_table(CONNECTORS)?;
            table
                .iter()?
                .map(|entry| decode(entry?.1.value()))
                .collect()
        })
        .await
    }

    /// A script connector's bytecode.
    pub async fn bytecode(&self, id: String) -> Result<Option<Vec<u8>>, StoreError> {
        self.blocking(move |db| {
            let txn = db.begin_read()?;
            Ok(txn
                .open_table(BYTECODE)?
                .get(id.as_str())?
                .map(|v| v.value().to_vec()))
        })
        .await
    }

    /// Append records to connectors' histories in one transaction, keeping
    /// only the newest `keep` per connector.
    pub async fn append_executions(
        &self,
        batch: Vec<(String, ExecutionRecord)>,
        keep: usize,
    ) -> Result<(), StoreError> {
        self.blocking(move |db| {
            let txn = db.begin_write()?;
            {
                let mut table = txn.open_table(EXECUTIONS)?;
                // One sequence lookup and one trim per connector per batch.
                let mut by_connector: std::collections::BTreeMap<&str, Vec<&ExecutionRecord>> =
                    Default::default();
                for (connector_id, record) in &batch {
                    by_connector
                        .entry(connector_id.as_str())
                        .or_default()
                        .push(record);
                }
                for (id, records) in by_connector {
                    let mut next = match table.range((id, 0)..=(id, u64::MAX))?.next_back() {
                        Some(last) => last?.0.value().1 + 1,
                        None => 0,
                    };
                    for record in records {
                        table.insert((id, next), encode(record).as_slice())?;
                        next += 1;
                    }
                    let oldest_kept = next.saturating_sub(keep as u64);
                    if oldest_kept > 0 {
                        table
                            .extract_from_if((id, 0)..(id, oldest_kept), |_, _| true)?
                            .for_each(drop);
                    }
                }
            }
            activity::record(&txn, &batch)?;
            txn.commit()?;
            Ok(())
        })
        .await
    }

    /// A connector's history, newest first.
    pub async fn executions(
        &self,
        connector_id: String,
        limit: usize,
    ) -> Result<Vec<ExecutionRecord>, StoreError> {
        self.blocking(move |db| {
            let txn = db.begin_read()?;
            let table = txn.open_table(EXECUTIONS)?;
            let id = connector_id.as_str();
            table
                .range((id, 0)..=(id, u64::MAX))?
                .rev()
                .take(limit)
                .map(|entry| decode(entry?.1.value()))
                .collect()
        })
        .await
    }

    /// Store a token under the hash of its secret.
    pub async fn insert_token(
        &self,
        token_hash: String,
        record: TokenRecord,
    ) -> Result<(), StoreError> {
        self.blocking(move |db| {
            let txn = db.begin_write()?;
            txn.open_table(TOKENS)?
                .insert(token_hash.as_str(), encode(&record).as_slice())?;
            txn.commit()?;
            Ok(())
        })
        .await
    }

    /// Every API token (without secrets), with the hash it is stored under.
    pub async fn tokens(&self) -> Result<Vec<(String, TokenRecord)>, StoreError> {
        self.blocking(|db| {
            let txn = db.begin_read()?;
            let table = txn.open_table(TOKENS)?;
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

    /// Delete the API token stored under `token_hash`.
    pub async fn delete_token(&self, token_hash: String) -> Result<bool, StoreError> {
        self.blocking(move |db| {
            let txn = db.begin_write()?;
            let existed = txn
                .open_table(TOKENS)?
                .remove(token_hash.as_str())?
                .is_some();
            txn.commit()?;
            Ok(existed)
        })
        .await
    }

    /// The token whose secret hashes to `token_hash`.
    pub async fn token(&self, token_hash: String) -> Result<Option<TokenRecord>, StoreError> {
        self.blocking(move |db| {
            let txn = db.begin_read()?;
            let bytes = txn
                .open_table(TOKENS)?
                .get(token_hash.as_str())?
                .map(|v| v.value().to_vec());
            bytes.map(|b| decode(&b)).transpose()
        })
        .await
    }
}

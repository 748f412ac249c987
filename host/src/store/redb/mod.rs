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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ConnectorDefinition;

    pub(super) fn record(id: &str, name: &str) -> ConnectorRecord {
        let definition: ConnectorDefinition =
            serde_json::from_value(serde_json::json!({"name": name, "executionModel": "script"}))
                .expect("definition");
        ConnectorRecord {
            id: id.into(),
            definition,
            sealed_config: Some(vec![1, 2, 3]),
            engine_version: Some("qjs-x".into()),
            spec_digest: None,
            created_at_ms: 1,
            updated_at_ms: 1,
        }
    }

    fn execution(n: u64) -> ExecutionRecord {
        ExecutionRecord {
            id: format!("e{n}"),
            command: "c".into(),
            status: "ok".into(),
            success: true,
            error: None,
            started_at_ms: n,
            duration_ms: 1,
            logs: vec![],
            http_calls: vec![],
            agent: None,
        }
    }

    #[tokio::test]
    async fn connectors_round_trip_by_id_and_name_and_names_stay_unique() {
        let dir = tempfile::tempdir().expect("dir");
        let store = RedbStore::open(&dir.path().join("floh.redb")).expect("store");
        store
            .insert_connector(record("c1", "crm"), Some(vec![9]), None)
            .await
            .expect("insert");
        assert!(matches!(
            store
                .insert_connector(record("c2", "crm"), None, None)
                .await,
            Err(StoreError::NameTaken(_))
        ));
        assert_eq!(
            store
                .find_connector("crm".into())
                .await
                .expect("find")
                .expect("found")
                .id,
            "c1"
        );
        assert_eq!(
            store.find_connector("c1".into()).await.expect("find"),
            Some(record("c1", "crm"))
        );
        assert_eq!(
            store.bytecode("c1".into()).await.expect("bytecode"),
            Some(vec![9])
        );
        store
            .update_connector(record("c1", "crm2"), "crm".into(), None, SpecChange::Keep)
            .await
            .expect("rename");
        assert!(
            store
                .find_connector("crm".into())
                .await
                .expect("find")
                .is_none()
        );
        assert!(store.delete_connector("c1".into()).await.expect("delete"));
        assert!(
            store
                .find_connector("crm2".into())
                .await
                .expect("find")
                .is_none()
        );
        assert!(
            store
                .bytecode("c1".into())
                .await
                .expect("bytecode")
                .is_none()
        );
    }

    #[tokio::test]
    async fn history_is_bounded_and_newest_first() {
        let dir = tempfile::tempdir().expect("dir");
        let store = RedbStore::open(&dir.path().join("floh.redb")).expect("store");
        let batch: Vec<_> = (0..6).map(|n| ("c1".to_string(), execution(n))).collect();
        store.append_executions(batch, 3).await.expect("append");
        let batch = vec![
            ("c1".to_string(), execution(6)),
            ("c2".to_string(), execution(99)),
        ];
        store.append_executions(batch, 3).await.expect("append");
        let ids: Vec<_> = store
            .executions("c1".into(), 10)
            .await
            .expect("list")
            .into_iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(ids, ["e6", "e5", "e4"]);
    }

    #[tokio::test]
    async fn the_listing_follows_inserts_updates_runs_and_deletes() {
        let dir = tempfile::tempdir().expect("dir");
        let store = RedbStore::open(&dir.path().join("floh.redb")).expect("store");
        store
            .insert_connector(record("c1", "crm"), None, None)
            .await
            .expect("insert");
        store
            .insert_connector(record("c2", "hr"), None, None)
            .await
            .expect("insert");
        let mut renamed = record("c1", "sales");
        renamed.sealed_config = None;
        store
            .update_connector(renamed, "crm".into(), None, SpecChange::Keep)
            .await
            .expect("update");
        let batch: Vec<_> = (0..3).map(|n| ("c2".to_string(), execution(n))).collect();
        store.append_executions(batch, 10).await.expect("append");

        let listed = store.listing().await.expect("listing");
        let by_id: std::collections::HashMap<_, _> = listed
            .iter()
            .map(|(entry, last)| (entry.id.as_str(), (entry, last)))
            .collect();
        let (sales, never_ran) = by_id["c1"];
        assert_eq!(sales.name, "sales");
        assert!(!sales.configured, "the update dropped the config");
        assert!(never_ran.is_none());
        let (hr, last) = by_id["c2"];
        assert!(hr.configured);
        assert_eq!(last.as_ref().expect("ran").id, "e2", "the newest run");

        assert!(store.delete_connector("c2".into()).await.expect("delete"));
        let listed = store.listing().await.expect("listing");
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].0.id, "c1");
        // A connector created again under the old id starts without runs.
        store
            .insert_connector(record("c2", "hr"), None, None)
            .await
            .expect("insert");
        let listed = store.listing().await.expect("listing");
        assert!(listed.iter().all(|(_, last)| last.is_none()), "{listed:?}");
    }

    #[tokio::test]
    async fn data_survives_reopening() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("floh.redb");
        {
            let store = RedbStore::open(&path).expect("store");
            store
                .insert_connector(record("c1", "crm"), None, None)
                .await
                .expect("insert");
        }
        let store = RedbStore::open(&path).expect("reopen");
        assert_eq!(store.list_connectors().await.expect("list").len(), 1);
    }

    #[tokio::test]
    async fn a_spec_is_stored_once_and_removed_with_its_last_connector() {
        let dir = tempfile::tempdir().expect("dir");
        let store = RedbStore::open(&dir.path().join("floh.redb")).expect("store");
        let spec = OpenApiSpec::from_value(&serde_json::json!({"openapi": "3.0.0"}));
        let first = store
            .insert_connector(record("c1", "a"), None, Some(spec.clone()))
            .await
            .expect("insert");
        let digest = first.spec_digest.clone().expect("digest");
        assert!(first.definition.openapi_spec.is_none(), "not inline");
        let second = store
            .insert_connector(record("c2", "b"), None, Some(spec.clone()))
            .await
            .expect("insert");
        assert_eq!(second.spec_digest.as_deref(), Some(digest.as_str()));
        assert_eq!(store.spec_count().await.expect("count"), 1);
        assert_eq!(
            store.spec(digest.clone()).await.expect("spec"),
            Some(spec.clone())
        );
        // Re-sending the same spec keeps it; a new one replaces it.
        let same = store
            .update_connector(first, "a".into(), None, SpecChange::Set(Some(spec.clone())))
            .await
            .expect("update");
        assert_eq!(same.spec_digest.as_deref(), Some(digest.as_str()));
        let other = OpenApiSpec::from_value(&serde_json::json!({"openapi": "3.1.0"}));
        let replaced = store
            .update_connector(same, "a".into(), None, SpecChange::Set(Some(other)))
            .await
            .expect("update");
        assert_ne!(replaced.spec_digest.as_deref(), Some(digest.as_str()));
        assert_eq!(store.spec_count().await.expect("count"), 2);
        assert!(store.delete_connector("c2".into()).await.expect("delete"));
        assert_eq!(store.spec(digest).await.expect("spec"), None);
        assert!(store.delete_connector("c1".into()).await.expect("delete"));
        assert_eq!(store.spec_count().await.expect("count"), 0);
    }
}

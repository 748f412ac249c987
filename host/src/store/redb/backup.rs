//! Online backups: a consistent copy of every table into a new database
//! file, taken while the server keeps serving.
//!
//! One read transaction is a snapshot (redb is copy-on-write, and readers
//! never block the writer), so the copy holds exactly what was committed
//! when the backup began, and every write acknowledged before that. The
//! backup is itself a redb file with the same tables: restoring is checking
//! it and putting it in place. Sealed values stay sealed: the key is never
//! in a backup.

use std::path::Path;

use redb::{
    Database, ReadTransaction, ReadableDatabase, ReadableTable, ReadableTableMetadata,
    TableDefinition, TableHandle,
};

use super::{BYTECODE, CONNECTORS, EXECUTIONS, META, NAMES, TOKENS};
use super::{RedbStore, StoreError, activity, agent_tokens, agents, listing, oauth, specs};

/// The meta key recording when a backup was taken (Unix milliseconds).
const BACKUP_TAKEN_AT: &str = "backup-taken-at-ms";

/// What a backup holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSummary {
    /// Connectors.
    pub connectors: u64,
    /// When it was taken, Unix milliseconds.
    pub taken_at_ms: u64,
}

/// Copy one table from the snapshot into the backup; its name.
fn copy<K, V>(
    from: &ReadTransaction,
    to: &redb::WriteTransaction,
    definition: TableDefinition<K, V>,
) -> Result<String, StoreError>
where
    K: redb::Key + 'static,
    V: redb::Value + 'static,
{
    let source = from.open_table(definition)?;
    let mut target = to.open_table(definition)?;
    for entry in source.iter()? {
        let (key, value) = entry?;
        target.insert(key.value(), value.value())?;
    }
    Ok(definition.name().to_string())
}

/// Every table the store keeps, copied; the names of those copied.
fn copy_all(
    from: &ReadTransaction,
    to: &redb::WriteTransaction,
) -> Result<Vec<String>, StoreError> {
    Ok(vec![
        copy(from, to, CONNECTORS)?,
        copy(from, to, NAMES)?,
        copy(from, to, BYTECODE)?,
        copy(from, to, EXECUTIONS)?,
        copy(from, to, TOKENS)?,
        copy(from, to, META)?,
        copy(from, to, agent_tokens::AGENT_TOKENS)?,
        copy(from, to, agents::AGENTS)?,
        copy(from, to, activity::ACTIVITY)?,
        copy(from, to, activity::LAST_EXECUTION)?,
        copy(from, to, activity::RECENT)?,
        copy(from, to, specs::SPECS)?,
        copy(from, to, specs::SPEC_REFS)?,
        copy(from, to, oauth::GRANTS)?,
        copy(from, to, oauth::PENDING)?,
        copy(from, to, listing::LISTING)?,
    ])
}

impl RedbStore {
    /// Write a consistent copy of the whole database to `path` (a new file).
    pub async fn backup_to(
        &self,
        path: &Path,
        taken_at_ms: u64,
    ) -> Result<BackupSummary, StoreError> {
        let path = path.to_path_buf();
        self.blocking(move |db| {
            let snapshot = db.begin_read()?;
            // A table the copy does not know would be lost silently: refuse.
            let copied_names = {
                let target = Database::builder().create(&path)?;
                let txn = target.begin_write()?;
                let names = copy_all(&snapshot, &txn)?;
                txn.open_table(META)?
                    .insert(BACKUP_TAKEN_AT, taken_at_ms.to_be_bytes().as_slice())?;
                txn.commit()?;
                names
            };
            for table in snapshot.list_tables()? {
                if !copied_names.iter().any(|name| name == table.name()) {
                    return Err(StoreError::Database(format!(
                        "table `{}` is not part of the backup format",
                        table.name()
                    )));
                }
            }
            let connectors = snapshot.open_table(CONNECTORS)?.len()?;
            Ok(BackupSummary {
                connectors,
                taken_at_ms,
            })
        })
        .await
    }
}

/// Open a backup file and say what it holds; refuses files that are not
/// Floh backups (another database, a truncated or corrupt file).
pub fn inspect_backup(path: &Path) -> Result<BackupSummary, StoreError> {
    let db = Database::open(path).map_err(|error| {
        StoreError::Corrupt(format!(
            "{} is not a readable Floh backup: {error}",
            path.display()
        ))
    })?;
    let txn = db.begin_read()?;
    let meta = txn.open_table(META).map_err(|_| not_a_backup(path))?;
    let taken_at_ms = meta
        .get(BACKUP_TAKEN_AT)?
        .and_then(|value| value.value().try_into().ok().map(u64::from_be_bytes))
        .ok_or_else(|| not_a_backup(path))?;
    let connectors = txn.open_table(CONNECTORS)?.len()?;
    Ok(BackupSummary {
        connectors,
        taken_at_ms,
    })
}

fn not_a_backup(path: &Path) -> StoreError {
    StoreError::Corrupt(format!(
        "{} is not a Floh backup (it has no backup record; `floh backup` writes one)",
        path.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ConnectorRecord;

    #[tokio::test]
    async fn a_backup_copies_every_table_and_names_itself() {
        let dir = tempfile::tempdir().expect("dir");
        let store = RedbStore::open(&dir.path().join("floh.redb")).expect("open");
        store
            .set_key_check(1, b"check".to_vec())
            .await
            .expect("meta");
        let record: ConnectorRecord = serde_json::from_value(serde_json::json!({
            "id": "c1",
            "definition": {"name": "crm", "executionModel": "script", "scriptSource": "function a(){}"},
            "createdAtMs": 1, "updatedAtMs": 1
        }))
        .expect("record");
        store
            .insert_connector(record, None, None)
            .await
            .expect("insert");
        let backup = dir.path().join("backup.redb");
        let summary = store.backup_to(&backup, 42).await.expect("backup");
        assert_eq!(summary.connectors, 1);
        assert_eq!(inspect_backup(&backup).expect("inspect"), summary);

        let copy = RedbStore::open(&backup).expect("open the backup as a store");
        assert!(copy.connector_exists("crm".into()).await.expect("exists"));
        assert_eq!(copy.key_checks().await.expect("checks")[&1], b"check");
        // The live database is not a backup.
        drop(copy);
        drop(store);
        let live = inspect_backup(&dir.path().join("floh.redb"));
        assert!(matches!(live, Err(StoreError::Corrupt(m)) if m.contains("not a Floh backup")));
        std::fs::write(dir.path().join("junk"), b"not a database").expect("junk");
        assert!(matches!(
            inspect_backup(&dir.path().join("junk")),
            Err(StoreError::Corrupt(_))
        ));
    }
}

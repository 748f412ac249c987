//! Online backups for operators: a consistent snapshot of the database,
//! taken while the server serves (see `store::backup`).

use std::fs::File;

use super::{ConnectorService, ServiceError};
use crate::clock::now_ms;
use crate::ids::new_id;
use crate::store::{self, BackupSummary, NO_FILE_BACKUP, StoreError};

/// A backup ready to send: the file is open and already unlinked from the
/// data directory, so nothing is left behind whatever happens to the
/// transfer.
#[derive(Debug)]
pub struct Backup {
    /// The snapshot (a redb file), read from the start.
    pub file: File,
    /// Its size in bytes.
    pub size: u64,
    /// What it holds.
    pub summary: BackupSummary,
    /// The key versions the server holds: a restore needs the key file
    /// (or `FLOH_SECRET_KEY`) with these.
    pub key_versions: Vec<u32>,
}

impl ConnectorService {
    /// Take a consistent backup of everything the store keeps. Writes go on
    /// meanwhile; the backup holds every write acknowledged before it began.
    pub async fn backup(&self) -> Result<Backup, ServiceError> {
        let dir = self
            .store
            .dir()
            .ok_or(StoreError::Unsupported(NO_FILE_BACKUP))?;
        let path = dir.join(format!(".{}.backup.partial", new_id("bak")));
        let summary = match self.store.backup_to(&path, now_ms()).await {
            Ok(summary) => summary,
            Err(error) => {
                let _ = std::fs::remove_file(&path);
                return Err(error.into());
            }
        };
        let opened = File::open(&path).and_then(|file| {
            let size = file.metadata()?.len();
            Ok((file, size))
        });
        // Unlinked at once: the open handle keeps the data until it is sent.
        let _ = std::fs::remove_file(&path);
        let (file, size) = opened
            .map_err(|error| ServiceError::Internal(format!("reading the backup: {error}")))?;
        Ok(Backup {
            file,
            size,
            summary,
            key_versions: self.cipher.versions(),
        })
    }
}

/// What the backup file at `path` holds; refuses a file that is not a whole
/// Floh backup (a client checks what it downloaded with this).
pub fn inspect_backup(path: &std::path::Path) -> Result<BackupSummary, ServiceError> {
    Ok(store::inspect_backup(path)?)
}

//! `floh restore FILE --data-dir DIR`: put a backup in place as a new data
//! directory, after proving that the keys given open it.
//!
//! The backup holds sealed values only; the keys come from the key file
//! the operator kept (`--key-file`) or `FLOH_SECRET_KEY`. Every key version
//! the backup has a key check for, and still seals values with, must open
//! its check, or the restore stops before writing anything: a wrong key is
//! found now, not at the first execution.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use crate::secrets::{ConfigCipher, KEY_ENV, KEY_FILE, SecretsError};
use crate::store::{BackupSummary, Store, inspect_backup};

/// Where the keys of a restore come from.
#[derive(Debug, Clone)]
pub enum RestoreKeys {
    /// A key file (written into the new data directory).
    File(PathBuf),
    /// The `FLOH_SECRET_KEY` text (the server must be started with it too).
    Environment(String),
}

/// What a restore did.
#[derive(Debug, Clone)]
pub struct Restored {
    /// What the backup holds.
    pub summary: BackupSummary,
    /// The key versions checked.
    pub key_versions: Vec<u32>,
    /// Whether a key file was written into the data directory.
    pub wrote_key_file: bool,
}

/// Restore `backup` into `data_dir`, which must not exist or be empty.
pub async fn restore(
    backup: &Path,
    data_dir: &Path,
    keys: RestoreKeys,
) -> anyhow::Result<Restored> {
    let summary = inspect_backup(backup)?;
    if data_dir.exists()
        && std::fs::read_dir(data_dir)
            .with_context(|| format!("reading {}", data_dir.display()))?
            .next()
            .is_some()
    {
        bail!(
            "{} is not empty; restore into a new or empty directory",
            data_dir.display()
        );
    }
    let cipher = match &keys {
        RestoreKeys::File(path) => ConfigCipher::from_file(path)?,
        RestoreKeys::Environment(text) => ConfigCipher::load(data_dir, Some(text), false)?,
    };
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700))?;
    }
    // Work on a copy: the backup file itself is never modified.
    let partial = data_dir.join("floh.redb.partial");
    let outcome = check_and_place(backup, &partial, data_dir, &cipher, &keys).await;
    if outcome.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    let (key_versions, wrote_key_file) = outcome?;
    Ok(Restored {
        summary,
        key_versions,
        wrote_key_file,
    })
}

async fn check_and_place(
    backup: &Path,
    partial: &Path,
    data_dir: &Path,
    cipher: &ConfigCipher,
    keys: &RestoreKeys,
) -> anyhow::Result<(Vec<u32>, bool)> {
    std::fs::copy(backup, partial).with_context(|| format!("copying {}", backup.display()))?;
    let store = Store::open(partial).context("opening the copied backup")?;
    let checks = store.key_checks().await?;
    let counts = store.sealed_counts().await?;
    let held = cipher.versions();
    for (version, check) in &checks {
        if !held.contains(version) {
            let values = counts.get(version).copied().unwrap_or(0);
            bail!(
                "the backup was sealed with key version {version} ({values} value(s) use it), which the given keys lack (they have {held:?}); nothing was restored"
            );
        }
        cipher.verify_key_check(check).map_err(|error| match error {
            SecretsError::WrongKey(_) => anyhow::anyhow!(
                "the given key of version {version} is not the one this backup was sealed with; nothing was restored"
            ),
            other => other.into(),
        })?;
    }
    drop(store);
    std::fs::File::open(partial)?.sync_all()?;
    let wrote_key_file = match keys {
        RestoreKeys::File(_) => {
            cipher.create_key_file(&data_dir.join(KEY_FILE))?;
            true
        }
        RestoreKeys::Environment(_) => false,
    };
    std::fs::rename(partial, data_dir.join("floh.redb"))?;
    std::fs::File::open(data_dir)?.sync_all()?;
    Ok((checks.keys().copied().collect(), wrote_key_file))
}

/// The keys for a restore from `--key-file` or the environment.
pub fn keys_from(key_file: Option<PathBuf>) -> anyhow::Result<RestoreKeys> {
    if let Some(path) = key_file {
        return Ok(RestoreKeys::File(path));
    }
    match std::env::var(KEY_ENV) {
        Ok(text) if !text.trim().is_empty() => Ok(RestoreKeys::Environment(text)),
        _ => bail!(
            "a restore needs the secret keys the backup was sealed with: pass --key-file (the {KEY_FILE} of the server the backup came from) or set {KEY_ENV}"
        ),
    }
}

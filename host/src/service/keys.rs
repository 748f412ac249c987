//! Secret-key rotation for operators: rotate to a new key version, watch
//! the background re-wrap move every sealed value onto it, retire a version
//! nothing uses any more.
//!
//! The re-wrap needs no progress record to be resumable: its work is "every
//! value not sealed by the active version", which the store can always
//! count. A worker started with the service walks the sealed values in
//! batches (one write transaction each, paced so that API writes get the
//! database between batches), then checks that nothing is left, and waits
//! for the next rotation. After a restart in the middle, the first pass
//! finds what is left and finishes it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::Notify;

use super::{ConnectorService, ServiceError, grants, oauth};
use crate::clock::now_ms;
use crate::secrets::{ConfigCipher, KeySource, SecretsError};
use crate::store::{RewrapCursor, RewrapError, SealedKind, Store};

/// How fast the re-wrap goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RewrapPace {
    /// Values re-sealed per write transaction.
    pub batch: usize,
    /// Pause between batches (room for the API's writes).
    pub pause: Duration,
}

impl Default for RewrapPace {
    fn default() -> Self {
        Self {
            batch: 256,
            pause: Duration::from_millis(2),
        }
    }
}

/// The keys and the re-wrap, as an admin sees them.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyStatus {
    /// The version that seals new values.
    pub active_version: u32,
    /// `file` (the key file, which rotation rewrites) or `environment`
    /// (`FLOH_SECRET_KEY`, read-only to the server).
    pub source: &'static str,
    /// Every version this server holds, oldest first.
    pub versions: Vec<KeyVersion>,
    /// Versions retired (never reused).
    pub retired: Vec<u32>,
    /// The background re-wrap.
    pub rewrap: RewrapStatus,
}

/// One key version.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyVersion {
    /// The version number.
    pub version: u32,
    /// Whether it seals new values.
    pub active: bool,
    /// How many stored values it seals (connection configs, OAuth2 grants,
    /// pending authorizations).
    pub values: u64,
}

/// The re-wrap's progress.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RewrapStatus {
    /// Whether a pass is under way.
    pub running: bool,
    /// Values on older versions still to move.
    pub remaining: u64,
    /// Values moved since the server started.
    pub rewrapped: u64,
    /// When the last pass finished, Unix milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at_ms: Option<u64>,
    /// Why the last pass stopped early, if it did (it retries at the next
    /// rotation or start).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The background worker that moves sealed values to the active version.
pub(super) struct KeyRewrap {
    wake: Notify,
    running: AtomicBool,
    rewrapped: AtomicU64,
    finished_at_ms: AtomicU64,
    error: Mutex<Option<String>>,
    pace: Mutex<RewrapPace>,
}

impl KeyRewrap {
    /// Start the worker; its first pass runs at once (finishing a re-wrap a
    /// restart interrupted).
    pub(super) fn start(store: Store, cipher: ConfigCipher) -> Arc<Self> {
        let rewrap = Arc::new(Self {
            wake: Notify::new(),
            running: AtomicBool::new(false),
            rewrapped: AtomicU64::new(0),
            finished_at_ms: AtomicU64::new(0),
            error: Mutex::new(None),
            pace: Mutex::new(RewrapPace::default()),
        });
        rewrap.wake.notify_one();
        let worker = rewrap.clone();
        tokio::spawn(async move {
            loop {
                worker.wake.notified().await;
                worker.run(&store, &cipher).await;
            }
        });
        rewrap
    }

    pub(super) fn set_pace(&self, pace: RewrapPace) {
        *lock(&self.pace) = pace;
    }

    fn pace(&self) -> RewrapPace {
        *lock(&self.pace)
    }

    /// Passes until nothing is sealed by another version than the active
    /// one, or a failure.
    async fn run(&self, store: &Store, cipher: &ConfigCipher) {
        self.running.store(true, Ordering::SeqCst);
        *lock(&self.error) = None;
        let outcome = self.passes(store, cipher).await;
        if let Err(error) = &outcome {
            tracing::error!(%error, "the key re-wrap stopped; it retries at the next rotation or start");
            *lock(&self.error) = Some(error.clone());
        }
        self.finished_at_ms.store(now_ms(), Ordering::SeqCst);
        self.running.store(false, Ordering::SeqCst);
    }

    async fn passes(&self, store: &Store, cipher: &ConfigCipher) -> Result<(), String> {
        loop {
            let active = cipher.active_version();
            let left = remaining(
                &store.sealed_counts().await.map_err(|e| e.to_string())?,
                active,
            );
            if left == 0 {
                return Ok(());
            }
            tracing::info!(
                active,
                left,
                "re-wrapping sealed values with the active key"
            );
            let mut cursor = RewrapCursor::start();
            loop {
                let pace = self.pace();
                let sealer = cipher.clone();
                let batch = store
                    .rewrap_batch(active, pace.batch, cursor, move |kind, id, sealed| {
                        reseal(&sealer, kind, id, sealed)
                    })
                    .await
                    .map_err(|error| match error {
                        RewrapError::Store(error) => error.to_string(),
                        RewrapError::Seal(error) => error,
                    })?;
                self.rewrapped
                    .fetch_add(batch.rewrapped as u64, Ordering::SeqCst);
                match batch.next {
                    Some(next) => cursor = next,
                    None => break,
                }
                tokio::time::sleep(pace.pause).await;
            }
        }
    }

    fn status(&self, remaining: u64) -> RewrapStatus {
        let finished = self.finished_at_ms.load(Ordering::SeqCst);
        RewrapStatus {
            running: self.running.load(Ordering::SeqCst),
            remaining,
            rewrapped: self.rewrapped.load(Ordering::SeqCst),
            finished_at_ms: (finished > 0).then_some(finished),
            error: lock(&self.error).clone(),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Re-seal one value with the active key, under its kind's associated data.
fn reseal(
    cipher: &ConfigCipher,
    kind: SealedKind,
    id: &str,
    sealed: &[u8],
) -> Result<Vec<u8>, String> {
    let (aad, what) = match kind {
        SealedKind::ConnectorConfig => (id.to_string(), "the config of connector"),
        SealedKind::OAuthGrant => (grants::grant_aad(id), "the OAuth2 grant of connector"),
        SealedKind::PendingAuthorization => (oauth::pending_aad(id), "a pending authorization"),
    };
    match cipher.rewrap(&aad, sealed) {
        Ok(Some(resealed)) => Ok(resealed),
        Ok(None) => Ok(sealed.to_vec()),
        Err(error) => Err(format!("{what} `{id}` could not be re-wrapped: {error}")),
    }
}

fn remaining(counts: &BTreeMap<u32, u64>, active: u32) -> u64 {
    counts
        .iter()
        .filter(|(version, _)| **version != active)
        .map(|(_, count)| count)
        .sum()
}

/// Check the keys against the database at start: every version with a key
/// check opens it, versions new to the database get theirs, and a version
/// retired while the server stopped half-way leaves the key file.
pub async fn reconcile_at_start(store: &Store, cipher: &ConfigCipher) -> anyhow::Result<()> {
    let checks = store.key_checks().await?;
    let held = cipher.versions();
    // Counted only when the key file lacks a version the database knows.
    let mut counts = None;
    for (version, check) in &checks {
        if held.contains(version) {
            cipher.verify_key_check(check)?;
        } else {
            if counts.is_none() {
                counts = Some(store.sealed_counts().await?);
            }
            let values = counts
                .as_ref()
                .and_then(|counts| counts.get(version))
                .copied()
                .unwrap_or(0);
            if values > 0 {
                return Err(SecretsError::WrongKey(format!(
                    "key version {version} still seals {values} value(s) and is not in the key file or FLOH_SECRET_KEY"
                ))
                .into());
            }
        }
    }
    let retired = store.retired_key_versions().await?;
    for version in held {
        if retired.contains(&version) {
            if cipher.active_version() != version && matches!(cipher.source(), KeySource::File(_)) {
                cipher.retire(version)?;
            }
        } else if !checks.contains_key(&version) {
            store
                .set_key_check(version, cipher.key_check(version)?)
                .await?;
        }
    }
    Ok(())
}

impl ConnectorService {
    /// How fast the background re-wrap goes.
    pub fn with_rewrap_pace(self, pace: RewrapPace) -> Self {
        self.keys.set_pace(pace);
        self
    }

    /// The keys, what each seals, and the re-wrap's progress.
    pub async fn key_status(&self) -> Result<KeyStatus, ServiceError> {
        let counts = self.store.sealed_counts().await?;
        let active = self.cipher.active_version();
        let versions = self
            .cipher
            .versions()
            .into_iter()
            .map(|version| KeyVersion {
                version,
                active: version == active,
                values: counts.get(&version).copied().unwrap_or(0),
            })
            .collect();
        Ok(KeyStatus {
            active_version: active,
            source: match self.cipher.source() {
                KeySource::File(_) => "file",
                KeySource::Environment => "environment",
            },
            versions,
            retired: self
                .store
                .retired_key_versions()
                .await?
                .into_iter()
                .collect(),
            rewrap: self.keys.status(remaining(&counts, active)),
        })
    }

    /// Create a new key version, seal with it from now on, and start moving
    /// every sealed value to it in the background.
    pub async fn rotate_key(&self) -> Result<KeyStatus, ServiceError> {
        // The key file holds the new key before anything is sealed with it.
        let version = self.cipher.rotate()?;
        self.store
            .set_key_check(version, self.cipher.key_check(version)?)
            .await?;
        tracing::info!(version, "rotated the secret key");
        self.keys.wake.notify_one();
        self.key_status().await
    }

    /// Remove key version `version`, which must seal nothing any more.
    pub async fn retire_key(&self, version: u32) -> Result<KeyStatus, ServiceError> {
        if !self.cipher.versions().contains(&version) {
            return Err(SecretsError::UnknownVersion(version).into());
        }
        if self.cipher.active_version() == version {
            return Err(SecretsError::ActiveVersion(version).into());
        }
        if self.cipher.source() == KeySource::Environment {
            return Err(SecretsError::KeysFromEnvironment.into());
        }
        match self.store.retire_key_version(version).await? {
            Ok(()) => {}
            Err(values) => return Err(ServiceError::KeyInUse { version, values }),
        }
        self.cipher.retire(version)?;
        tracing::info!(version, "retired a secret key version");
        self.key_status().await
    }
}

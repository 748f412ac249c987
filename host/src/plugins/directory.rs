//! [`PluginDirectory`]: keeps the type registry in step with the `.wasm`
//! files of a directory while the server runs.
//!
//! The directory is polled (a few stats per interval): unlike inotify this
//! works on every filesystem and mount, and sees files that were replaced by
//! rename. A file is (re)loaded when its size or modification time changes
//! and its content hash differs from the loaded one. A file caught half
//! written fails to load and is retried at its next change. A file that fails
//! to load never removes the version already serving: the old type stays
//! registered and the refusal is reported in the plugin's status. Executions
//! hold an `Arc` of the type they started with, so a replaced plugin takes
//! effect for new executions while running ones finish on the old version.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{PluginError, PluginType};
use crate::clock::now_ms;
use crate::connectors::{BuiltinType, TypeRegistry};
use crate::runtime::ScriptEngine;

/// What `GET /api/plugins` says about one plugin file.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PluginStatus {
    /// The file name (or `shipped:NAME` for plugins built into the binary).
    pub file: String,
    /// `loaded`, or `refused` when the current file could not be used.
    pub status: &'static str,
    /// The type it provides (the previous version's when refused).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub type_name: Option<String>,
    /// The plugin's version, from `describe()`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The guest SDK that built it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sdk_version: Option<String>,
    /// The `floh:connector` version it imports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wit_version: Option<String>,
    /// SHA-256 of the file.
    pub sha256: String,
    /// Why it was refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When this state was reached (ms since the epoch).
    pub updated_at_ms: u64,
}

impl PluginStatus {
    /// A `loaded` status for `file` with content hash `sha256`.
    pub fn new(file: &str, sha256: String) -> Self {
        Self {
            file: file.to_string(),
            status: "loaded",
            type_name: None,
            version: None,
            sdk_version: None,
            wit_version: None,
            sha256,
            error: None,
            updated_at_ms: now_ms(),
        }
    }

    /// Fill in what `plugin` says about itself.
    pub fn describe(&mut self, plugin: &PluginType) {
        let descriptor = plugin.descriptor();
        self.type_name = Some(descriptor.name);
        self.version = Some(descriptor.version);
        self.sdk_version = plugin.stamp().sdk_version.clone();
        self.wit_version = plugin.stamp().wit_version.clone();
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    len: u64,
    modified: Option<SystemTime>,
}

struct FileState {
    fingerprint: Fingerprint,
    /// The type this file provides now, if any.
    serving: Option<String>,
    /// Hash of the content serving (or last refused).
    sha256: String,
    status: PluginStatus,
}

/// A watched plugin directory.
pub struct PluginDirectory {
    dir: PathBuf,
    engine: Arc<ScriptEngine>,
    registry: TypeRegistry,
    /// Type names not available to directory plugins, with their owner.
    reserved: BTreeMap<String, String>,
    on_change: Box<dyn Fn() + Send + Sync>,
    /// Held for a whole scan, compilation included.
    files: tokio::sync::Mutex<BTreeMap<String, FileState>>,
    /// What the last scan found, readable while the next one compiles.
    statuses: std::sync::RwLock<Vec<PluginStatus>>,
    /// The plugins built into the binary, listed first.
    shipped: Vec<PluginStatus>,
}

impl PluginDirectory {
    /// Watch `dir` (it may not exist yet). Types already in `registry`
    /// (native and shipped) cannot be taken over by a file. `on_change` runs
    /// after types were added, replaced or removed.
    pub fn new(
        dir: PathBuf,
        engine: Arc<ScriptEngine>,
        registry: TypeRegistry,
        on_change: impl Fn() + Send + Sync + 'static,
    ) -> Self {
        let reserved = registry
            .descriptors()
            .into_iter()
            .map(|d| {
                let owner = format!("the {} type `{}` built into this host", d.source, d.name);
                (d.name, owner)
            })
            .collect();
        Self {
            dir,
            engine,
            registry,
            reserved,
            on_change: Box::new(on_change),
            files: tokio::sync::Mutex::default(),
            statuses: std::sync::RwLock::default(),
            shipped: Vec::new(),
        }
    }

    /// List `shipped` (the built-in plugins) with the directory's files.
    pub fn with_shipped(mut self, shipped: Vec<PluginStatus>) -> Self {
        self.shipped = shipped;
        self
    }

    /// The watched directory.
    pub fn dir(&self) -> &PathBuf {
        &self.dir
    }

    /// Poll every `interval` until the returned task is aborted.
    pub fn watch(self: Arc<Self>, interval: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                self.scan().await;
            }
        })
    }

    /// The shipped plugins, then every file as of the last scan.
    pub fn statuses(&self) -> Vec<PluginStatus> {
        let files = self.statuses.read().unwrap_or_else(|p| p.into_inner());
        self.shipped.iter().chain(files.iter()).cloned().collect()
    }

    /// Bring the registry in step with the directory once.
    pub async fn scan(&self) {
        let present = self.list().await;
        let mut files = self.files.lock().await;
        let mut changed = false;
        let gone: Vec<String> = files
            .keys()
            .filter(|name| !present.contains_key(*name))
            .cloned()
            .collect();
        for name in gone {
            if let Some(state) = files.remove(&name)
                && let Some(type_name) = state.serving
            {
                self.registry.unregister(&type_name);
                tracing::info!(file = %name, r#type = %type_name, "plugin removed");
                changed = true;
            }
        }
        for (name, fingerprint) in present {
            if files.get(&name).map(|f| f.fingerprint) == Some(fingerprint) {
                continue;
            }
            changed |= self.load_file(&mut files, &name, fingerprint).await;
        }
        let statuses = files.values().map(|file| file.status.clone()).collect();
        *self.statuses.write().unwrap_or_else(|p| p.into_inner()) = statuses;
        drop(files);
        if changed {
            (self.on_change)();
        }
    }

    /// The `.wasm` files and their fingerprints; an unreadable or missing
    /// directory counts as empty.
    async fn list(&self) -> BTreeMap<String, Fingerprint> {
        let mut present = BTreeMap::new();
        let Ok(mut entries) = tokio::fs::read_dir(&self.dir).await else {
            return present;
        };
        while let Ok(Some(entry)) = entries.next_entry().await {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || !name.ends_with(".wasm") {
                continue;
            }
            let Ok(metadata) = entry.metadata().await else {
                continue;
            };
            if metadata.is_file() {
                let fingerprint = Fingerprint {
                    len: metadata.len(),
                    modified: metadata.modified().ok(),
                };
                present.insert(name, fingerprint);
            }
        }
        present
    }

    /// Load one new or changed file; whether the registry changed.
    async fn load_file(
        &self,
        files: &mut BTreeMap<String, FileState>,
        name: &str,
        fingerprint: Fingerprint,
    ) -> bool {
        let bytes = match tokio::fs::read(self.dir.join(name)).await {
            Ok(bytes) => bytes,
            Err(error) => {
                tracing::warn!(file = %name, %error, "cannot read plugin file");
                return false;
            }
        };
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let previous = files.get(name);
        let serving = previous.and_then(|state| state.serving.clone());
        if previous.is_some_and(|state| state.sha256 == sha256) {
            if let Some(state) = files.get_mut(name) {
                state.fingerprint = fingerprint;
            }
            return false;
        }
        let loaded = PluginType::load(self.engine.clone(), name, bytes).await;
        let outcome = loaded.and_then(|plugin| {
            let type_name = plugin.descriptor().name;
            self.check_name(files, name, &type_name)?;
            Ok(plugin)
        });
        let mut status = PluginStatus::new(name, sha256.clone());
        let (serving, changed) = match outcome {
            Ok(plugin) => {
                let descriptor = plugin.descriptor();
                if let Some(old) = serving.as_ref().filter(|old| **old != descriptor.name) {
                    self.registry.unregister(old);
                }
                status.describe(&plugin);
                tracing::info!(file = %name, r#type = %descriptor.name, version = %descriptor.version, "plugin loaded");
                self.registry.register(Arc::new(plugin));
                (Some(descriptor.name), true)
            }
            Err(error) => {
                tracing::warn!(file = %name, %error, "plugin refused");
                status.status = "refused";
                status.type_name = serving.clone();
                status.error = Some(refusal(&error, serving.is_some()));
                (serving, false)
            }
        };
        files.insert(
            name.to_string(),
            FileState {
                fingerprint,
                serving,
                sha256,
                status,
            },
        );
        changed
    }

    fn check_name(
        &self,
        files: &BTreeMap<String, FileState>,
        file: &str,
        type_name: &str,
    ) -> Result<(), PluginError> {
        if let Some(owner) = self.reserved.get(type_name) {
            return Err(PluginError::NameTaken {
                type_name: type_name.to_string(),
                owner: owner.clone(),
            });
        }
        let other = files
            .iter()
            .find(|(name, state)| *name != file && state.serving.as_deref() == Some(type_name));
        match other {
            Some((other, _)) => Err(PluginError::NameTaken {
                type_name: type_name.to_string(),
                owner: format!("the plugin file `{other}`"),
            }),
            None => Ok(()),
        }
    }
}

fn refusal(error: &PluginError, still_serving: bool) -> String {
    if still_serving {
        format!("{error} (the previously loaded version keeps serving)")
    } else {
        error.to_string()
    }
}

//! Per-script images: each script's commands start from a snapshot of the
//! engine taken after the script's top level ran, instead of loading the
//! bytecode and evaluating the top level at every execution.
//!
//! Every execution still gets a fresh instance of that image, so nothing one
//! execution does is visible to the next; what changes is only where the
//! fresh instance starts. Images are built off the request path, by one
//! builder thread (a build compiles the engine again, mostly from the
//! incremental compilation cache), and an execution whose image is not ready
//! runs from bytecode as before. Images are kept compiled on disk (keyed by
//! engine build, wasmtime configuration and bytecode, checksummed, bounded
//! in bytes, least recently used removed first) and loaded, memory-mapped, up
//! to a bound of loaded images.

mod build;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use wasmtime::Engine;
use wasmtime::component::Component;

pub use build::BuildError;
use build::BuildLimits;

use super::artefact_cache::{ArtefactCache, Cached};
use super::host_state::{HostState, linker};
use super::wasm_engine::KeepTicking;
use crate::bindings::ScriptEnginePre;

/// How long a script's top level may run while its image is built. Longer
/// top levels run from bytecode (they would cost that at every execution
/// anyway, but a build must not occupy the builder for long).
const BUILD_TIMEOUT: Duration = Duration::from_secs(2);

/// A build that failed (rather than was refused) is retried after this long.
const RETRY_FAILED_AFTER: Duration = Duration::from_secs(60);

/// Builds waiting for the builder; more are dropped and asked for again by
/// the next execution.
const QUEUE_LENGTH: usize = 1024;

/// Refused and failed scripts remembered at most (their slots are small).
const MAX_REMEMBERED: usize = 100_000;

/// The identity of one script under one engine build: a digest of both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ScriptKey([u8; 16]);

impl ScriptKey {
    /// The key of `bytecode` compiled by engine `engine_version`.
    pub fn of(engine_version: &str, bytecode: &[u8]) -> Self {
        use sha2::{Digest, Sha256};
        let mut digest = Sha256::new();
        digest.update(engine_version.as_bytes());
        digest.update([0]);
        digest.update(bytecode);
        let mut key = [0; 16];
        key.copy_from_slice(&digest.finalize()[..16]);
        Self(key)
    }
}

impl std::fmt::Display for ScriptKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// How per-script images are kept.
#[derive(Debug, Clone)]
pub struct SnapshotOptions {
    /// Whether scripts get images at all (off: every execution evaluates the
    /// top level, as before).
    pub enabled: bool,
    /// Images kept loaded (each maps its compiled code and memory image from
    /// its file; resident memory is what executions touch).
    pub max_loaded: usize,
    /// Bytes of compiled images kept on disk.
    pub max_disk_bytes: u64,
    /// Where images are kept; `scripts/` in the engine's cache directory
    /// when `None` (and only in memory when the engine has none).
    pub dir: Option<PathBuf>,
    /// Tests only: make every build fail as if the builder crashed.
    #[doc(hidden)]
    pub fail_builds: bool,
}

impl Default for SnapshotOptions {
    fn default() -> Self {
        Self {
            enabled: true,
            max_loaded: 512,
            max_disk_bytes: 4 * 1024 * 1024 * 1024,
            dir: None,
            fail_builds: false,
        }
    }
}

/// Where a script's image stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotStatus {
    /// Images are turned off.
    Disabled,
    /// No execution asked for it yet (or it was unloaded).
    Absent,
    /// Waiting for or being built.
    Building,
    /// Executions start from it.
    Ready,
    /// The top level cannot be captured (the reason says why); the script
    /// runs from bytecode.
    Refused(String),
    /// The build failed (the reason says why); the script runs from bytecode
    /// and the build is retried later.
    Failed(String),
}

/// Counters since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SnapshotStats {
    /// Images built.
    pub built: u64,
    /// Images loaded from disk (no build needed).
    pub loaded_from_disk: u64,
    /// Scripts refused.
    pub refused: u64,
    /// Builds that failed.
    pub failed: u64,
    /// Image files that failed their checksum or did not load (removed).
    pub corrupt_files: u64,
    /// Images unloaded to stay within `max_loaded`.
    pub unloaded: u64,
    /// Images loaded now.
    pub loaded: u64,
}

type Pre = Arc<ScriptEnginePre<HostState>>;

enum Slot {
    Building,
    Ready { pre: Pre, last_used: u64 },
    Refused(Arc<str>),
    Failed { reason: Arc<str>, at: Instant },
}

#[derive(Default)]
struct Slots {
    map: HashMap<ScriptKey, Slot>,
    clock: u64,
    loaded: usize,
}

#[derive(Default)]
struct Counters {
    built: AtomicU64,
    loaded_from_disk: AtomicU64,
    refused: AtomicU64,
    failed: AtomicU64,
    corrupt_files: AtomicU64,
    unloaded: AtomicU64,
}

struct Shared {
    slots: Mutex<Slots>,
    counters: Counters,
    stop: Arc<AtomicBool>,
    max_loaded: usize,
}

impl Shared {
    fn slots(&self) -> MutexGuard<'_, Slots> {
        self.slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

struct Job {
    key: ScriptKey,
    bytecode: Arc<[u8]>,
}

/// Everything the builder thread needs.
pub(crate) struct BuilderSetup {
    pub engine: Engine,
    #[expect(
        dead_code,
        reason = "held, never read: keeps the epoch ticking during a build"
    )]
    pub ticking: KeepTicking,
    pub engine_wasm: Arc<[u8]>,
    pub memory_bytes: usize,
    pub artefacts: ArtefactCache,
}

/// The per-script images of one script engine.
pub(crate) struct PreparedScripts {
    shared: Arc<Shared>,
    jobs: Option<SyncSender<Job>>,
    builder: Option<JoinHandle<()>>,
}

impl PreparedScripts {
    /// Images as `options` say, built by a thread of their own.
    pub fn start(options: &SnapshotOptions, setup: BuilderSetup) -> anyhow::Result<Self> {
        let shared = Arc::new(Shared {
            slots: Mutex::default(),
            counters: Counters::default(),
            stop: Arc::default(),
            max_loaded: options.max_loaded.max(1),
        });
        if !options.enabled {
            return Ok(Self {
                shared,
                jobs: None,
                builder: None,
            });
        }
        let (jobs, queue) = std::sync::mpsc::sync_channel(QUEUE_LENGTH);
        let builder = Builder {
            shared: shared.clone(),
            setup,
            max_disk_bytes: options.max_disk_bytes,
            fail_builds: options.fail_builds,
        };
        let thread = std::thread::Builder::new()
            .name("floh-snapshots".into())
            .spawn(move || builder.run(queue))?;
        Ok(Self {
            shared,
            jobs: Some(jobs),
            builder: Some(thread),
        })
    }

    /// The image to start `key` from, if it is ready; otherwise asks for it
    /// (once) and returns `None`, and the caller runs from bytecode.
    pub fn lookup(&self, key: ScriptKey, bytecode: &Arc<[u8]>) -> Option<Pre> {
        let jobs = self.jobs.as_ref()?;
        let mut slots = self.shared.slots();
        slots.clock += 1;
        let now = slots.clock;
        match slots.map.get_mut(&key) {
            Some(Slot::Ready { pre, last_used }) => {
                *last_used = now;
                return Some(pre.clone());
            }
            Some(Slot::Building | Slot::Refused(_)) => return None,
            Some(Slot::Failed { at, .. }) if at.elapsed() < RETRY_FAILED_AFTER => return None,
            Some(Slot::Failed { .. }) | None => {}
        }
        if slots.map.len() >= MAX_REMEMBERED {
            slots
                .map
                .retain(|_, slot| matches!(slot, Slot::Ready { .. } | Slot::Building));
        }
        slots.map.insert(key, Slot::Building);
        drop(slots);
        let job = Job {
            key,
            bytecode: bytecode.clone(),
        };
        if let Err(TrySendError::Full(job) | TrySendError::Disconnected(job)) = jobs.try_send(job) {
            // Asked again by a later execution.
            self.shared.slots().map.remove(&job.key);
        }
        None
    }

    /// Where the image of `key` stands.
    pub fn status(&self, key: ScriptKey) -> SnapshotStatus {
        if self.jobs.is_none() {
            return SnapshotStatus::Disabled;
        }
        match self.shared.slots().map.get(&key) {
            None => SnapshotStatus::Absent,
            Some(Slot::Building) => SnapshotStatus::Building,
            Some(Slot::Ready { .. }) => SnapshotStatus::Ready,
            Some(Slot::Refused(reason)) => SnapshotStatus::Refused(reason.to_string()),
            Some(Slot::Failed { reason, .. }) => SnapshotStatus::Failed(reason.to_string()),
        }
    }

    /// Counters since start.
    pub fn stats(&self) -> SnapshotStats {
        let counters = &self.shared.counters;
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        SnapshotStats {
            built: read(&counters.built),
            loaded_from_disk: read(&counters.loaded_from_disk),
            refused: read(&counters.refused),
            failed: read(&counters.failed),
            corrupt_files: read(&counters.corrupt_files),
            unloaded: read(&counters.unloaded),
            loaded: self.shared.slots().loaded as u64,
        }
    }
}

impl Drop for PreparedScripts {
    fn drop(&mut self) {
        // The builder abandons its current build at the next epoch tick (it
        // holds the ticker) and exits; nobody waits for it.
        self.shared.stop.store(true, Ordering::Relaxed);
        drop(self.jobs.take());
        drop(self.builder.take());
    }
}

struct Builder {
    shared: Arc<Shared>,
    setup: BuilderSetup,
    max_disk_bytes: u64,
    fail_builds: bool,
}

impl Builder {
    fn run(self, queue: Receiver<Job>) {
        let runtime = match tokio::runtime::Builder::new_current_thread().build() {
            Ok(runtime) => runtime,
            Err(error) => {
                tracing::error!(%error, "script snapshots are off: no runtime for the builder");
                return;
            }
        };
        let linker = match linker(&self.setup.engine) {
            Ok(linker) => linker,
            Err(error) => {
                tracing::error!(%error, "script snapshots are off: linking failed");
                return;
            }
        };
        while let Ok(job) = queue.recv() {
            if self.shared.stop.load(Ordering::Relaxed) {
                return;
            }
            let started = Instant::now();
            let outcome = runtime.block_on(self.image_of(&job));
            let outcome = outcome.and_then(|(component, how)| {
                let pre = linker
                    .instantiate_pre(&component)
                    .and_then(ScriptEnginePre::new)
                    .map_err(|e| BuildError::Failed(format!("linking the image: {e:#}")))?;
                Ok((Arc::new(pre), how))
            });
            self.settle(job.key, outcome, started.elapsed());
        }
    }

    /// The compiled image of `job`: from disk when a good copy is there,
    /// built otherwise.
    async fn image_of(&self, job: &Job) -> Result<(Component, Origin), BuildError> {
        let engine = &self.setup.engine;
        let name = format!("script-{}", job.key);
        match self.setup.artefacts.read_named(engine, &name) {
            Cached::Hit(component) => return Ok((component, Origin::Disk)),
            Cached::Corrupt(reason) => {
                self.shared
                    .counters
                    .corrupt_files
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(script = %job.key, %reason, "removed a corrupt script snapshot; rebuilding it");
            }
            Cached::Miss => {}
        }
        if self.fail_builds {
            return Err(BuildError::Failed(
                "the builder crashed (injected by a test)".into(),
            ));
        }
        let limits = BuildLimits {
            memory_bytes: self.setup.memory_bytes,
            timeout: BUILD_TIMEOUT,
            abandon: self.shared.stop.clone(),
        };
        let image = build::image(engine, &self.setup.engine_wasm, &job.bytecode, limits).await?;
        let component = Component::new(engine, &image)
            .map_err(|e| BuildError::Failed(format!("compiling the image: {e:#}")))?;
        match self
            .setup
            .artefacts
            .store_named(&component, &name, self.max_disk_bytes)
        {
            // The stored copy is memory-mapped: its pages are shared and only
            // the touched ones are resident.
            Ok(()) => match self.setup.artefacts.read_named(engine, &name) {
                Cached::Hit(mapped) => Ok((mapped, Origin::Built)),
                _ => Ok((component, Origin::Built)),
            },
            Err(error) => {
                tracing::warn!(%error, "could not store a script snapshot; keeping it in memory");
                Ok((component, Origin::Built))
            }
        }
    }

    fn settle(&self, key: ScriptKey, outcome: Result<(Pre, Origin), BuildError>, took: Duration) {
        let counters = &self.shared.counters;
        let mut slots = self.shared.slots();
        let slot = match outcome {
            Ok((pre, origin)) => {
                match origin {
                    Origin::Built => counters.built.fetch_add(1, Ordering::Relaxed),
                    Origin::Disk => counters.loaded_from_disk.fetch_add(1, Ordering::Relaxed),
                };
                tracing::debug!(script = %key, ?origin, ms = took.as_millis() as u64, "script snapshot ready");
                slots.loaded += 1;
                slots.clock += 1;
                Slot::Ready {
                    pre,
                    last_used: slots.clock,
                }
            }
            Err(BuildError::Refused(reason)) => {
                counters.refused.fetch_add(1, Ordering::Relaxed);
                tracing::info!(script = %key, %reason, "script runs without a snapshot");
                Slot::Refused(reason.into())
            }
            Err(BuildError::Failed(reason)) => {
                counters.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(script = %key, %reason, "building a script snapshot failed; the script runs from bytecode");
                Slot::Failed {
                    reason: reason.into(),
                    at: Instant::now(),
                }
            }
        };
        slots.map.insert(key, slot);
        while slots.loaded > self.shared.max_loaded {
            let oldest = slots
                .map
                .iter()
                .filter_map(|(key, slot)| match slot {
                    Slot::Ready { last_used, .. } => Some((*last_used, *key)),
                    _ => None,
                })
                .min();
            let Some((_, key)) = oldest else { break };
            slots.map.remove(&key);
            slots.loaded -= 1;
            counters.unloaded.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Where a ready image came from.
#[derive(Debug, Clone, Copy)]
enum Origin {
    Built,
    Disk,
}

/// The cache of images: `options.dir`, or `scripts/` beside `artefacts`.
pub(crate) fn images_cache(options: &SnapshotOptions, artefacts: &ArtefactCache) -> ArtefactCache {
    match &options.dir {
        Some(dir) => ArtefactCache::in_dir(dir),
        None => artefacts.beside(|cache_dir| cache_dir.join("scripts")),
    }
}

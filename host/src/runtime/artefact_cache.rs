//! Compiled components cached on disk.
//!
//! Cranelift needs about half a second for the 1.5 MB engine; a serialized
//! artefact loads in a couple of milliseconds. Entries are keyed by the
//! SHA-256 of the WASM (or a name the caller derives from its inputs) and
//! wasmtime's compatibility hash of the engine configuration, and carry their
//! own checksum, which is verified before the file is handed to
//! `Component::deserialize_file` (which trusts its input).

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// A directory of compiled artefacts, or none (always compile).
#[derive(Debug, Clone, Default)]
pub struct ArtefactCache {
    dir: Option<PathBuf>,
}

/// What the cache holds under a name.
pub enum Cached {
    /// A good copy, loaded.
    Hit(Component),
    /// Nothing (or no cache).
    Miss,
    /// A copy that failed its checksum or did not load; it was removed.
    Corrupt(String),
}

impl ArtefactCache {
    /// A cache in `dir` (created on first write).
    pub fn in_dir(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: Some(dir.into()),
        }
    }

    /// No caching.
    pub fn disabled() -> Self {
        Self { dir: None }
    }

    /// The same kind of cache in `dir`, or none when this one is disabled.
    pub fn beside(&self, dir: impl FnOnce(&Path) -> PathBuf) -> Self {
        Self {
            dir: self.dir.as_deref().map(dir),
        }
    }

    /// The compiled component for `wasm`, from the cache when possible.
    pub fn load_or_compile(&self, engine: &Engine, wasm: &[u8]) -> anyhow::Result<Component> {
        let name = cache_key(wasm);
        match self.read_named(engine, &name) {
            Cached::Hit(component) => return Ok(component),
            Cached::Corrupt(reason) => {
                tracing::warn!(%reason, "recompiling a corrupt cached artefact");
            }
            Cached::Miss => {}
        }
        let component = compile(engine, wasm)?;
        if let Err(error) = self.store_named(&component, &name, u64::MAX) {
            tracing::warn!(%error, "could not write the compiled-artefact cache");
        }
        Ok(component)
    }

    /// The component stored under `name` for this engine configuration.
    ///
    /// It is memory-mapped from its file, so its code and memory image are
    /// shared page cache and only the pages in use are resident.
    pub fn read_named(&self, engine: &Engine, name: &str) -> Cached {
        let Some(dir) = &self.dir else {
            return Cached::Miss;
        };
        let (artefact_path, checksum_path) = paths(dir, engine, name);
        let Ok(bytes) = std::fs::read(&artefact_path) else {
            return Cached::Miss;
        };
        let corrupt = |reason: String| {
            let _ = std::fs::remove_file(&artefact_path);
            let _ = std::fs::remove_file(&checksum_path);
            Cached::Corrupt(format!("{}: {reason}", artefact_path.display()))
        };
        let expected = std::fs::read_to_string(&checksum_path).unwrap_or_default();
        if hex::encode(Sha256::digest(&bytes)) != expected.trim() {
            return corrupt("its checksum does not match".into());
        }
        drop(bytes);
        // SAFETY: the file was produced by `Component::serialize` of an
        // engine with the same compatibility hash (part of its name), written
        // under a temporary name and renamed, and matches its checksum
        // (verified above). Files in the cache are only ever replaced by
        // rename, never rewritten in place, so the mapping stays valid.
        #[allow(unsafe_code)]
        let component = unsafe { Component::deserialize_file(engine, &artefact_path) };
        match component {
            Ok(component) => {
                touch(&artefact_path);
                Cached::Hit(component)
            }
            Err(error) => corrupt(format!("it does not load: {error}")),
        }
    }

    /// Store `component` under `name`, then remove the least recently used
    /// entries until the directory holds at most `max_bytes`.
    pub fn store_named(
        &self,
        component: &Component,
        name: &str,
        max_bytes: u64,
    ) -> anyhow::Result<()> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        let (artefact_path, checksum_path) = paths(dir, component.engine(), name);
        store(component, dir, &artefact_path, &checksum_path)?;
        if max_bytes != u64::MAX {
            trim(dir, max_bytes, &artefact_path);
        }
        Ok(())
    }
}

fn paths(dir: &Path, engine: &Engine, name: &str) -> (PathBuf, PathBuf) {
    let name = format!("{name}-{}", engine_key(engine));
    (
        dir.join(format!("{name}.cwasm")),
        dir.join(format!("{name}.sha256")),
    )
}

fn compile(engine: &Engine, wasm: &[u8]) -> anyhow::Result<Component> {
    Component::new(engine, wasm)
        .map_err(anyhow::Error::from)
        .context("compiling the WASM component")
}

struct DigestHasher(Sha256);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

/// The name of a component compiled from `wasm` (the engine configuration
/// is added by [`paths`]).
fn cache_key(wasm: &[u8]) -> String {
    hex::encode(&Sha256::digest(wasm)[..16])
}

/// A short digest of the engine configuration: compiled code from another
/// configuration (or wasmtime version) is never loaded.
fn engine_key(engine: &Engine) -> String {
    let mut hasher = DigestHasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hex::encode(&hasher.0.finalize()[..8])
}

/// Mark an entry as used now (its modification time orders removals).
fn touch(path: &Path) {
    if let Ok(file) = std::fs::File::options().append(true).open(path) {
        let _ = file.set_modified(std::time::SystemTime::now());
    }
}

/// Remove the least recently used artefacts (never `keep`) until the
/// directory holds at most `max_bytes`.
fn trim(dir: &Path, max_bytes: u64, keep: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut artefacts: Vec<(std::time::SystemTime, u64, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter(|entry| entry.path().extension().is_some_and(|ext| ext == "cwasm"))
        .filter_map(|entry| {
            let metadata = entry.metadata().ok()?;
            Some((metadata.modified().ok()?, metadata.len(), entry.path()))
        })
        .collect();
    let mut total: u64 = artefacts.iter().map(|(_, size, _)| size).sum();
    artefacts.sort();
    for (_, size, path) in artefacts {
        if total <= max_bytes {
            break;
        }
        if path == keep {
            continue;
        }
        if std::fs::remove_file(&path).is_ok() {
            let _ = std::fs::remove_file(path.with_extension("sha256"));
            total -= size;
        }
    }
}

fn store(
    component: &Component,
    dir: &Path,
    artefact_path: &Path,
    checksum_path: &Path,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let bytes = component.serialize()?;
    let checksum = hex::encode(Sha256::digest(&bytes));
    // Write-then-rename so that concurrent processes never read half a file
    // (and a mapped file is never changed under its mapping).
    let unique = format!("{}.{}", std::process::id(), rand_suffix());
    let tmp_artefact = artefact_path.with_extension(format!("cwasm.{unique}"));
    let tmp_checksum = checksum_path.with_extension(format!("sha256.{unique}"));
    std::fs::write(&tmp_artefact, &bytes)?;
    std::fs::write(&tmp_checksum, checksum)?;
    // The checksum first: a reader that finds the new artefact finds its
    // checksum too.
    std::fs::rename(&tmp_checksum, checksum_path)?;
    std::fs::rename(&tmp_artefact, artefact_path)?;
    Ok(())
}

fn rand_suffix() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos().into())
        .unwrap_or(0)
}

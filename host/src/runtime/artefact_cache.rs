//! Compiled components cached on disk.
//!
//! Cranelift needs about half a second for the 1.5 MB engine; a serialized
//! artefact loads in a couple of milliseconds. Entries are keyed by the
//! SHA-256 of the WASM and wasmtime's compatibility hash of the engine
//! configuration, and carry their own checksum, which is verified before the
//! bytes are handed to `Component::deserialize` (which trusts its input).

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

    /// The compiled component for `wasm`, from the cache when possible.
    pub fn load_or_compile(&self, engine: &Engine, wasm: &[u8]) -> anyhow::Result<Component> {
        let Some(dir) = &self.dir else {
            return compile(engine, wasm);
        };
        let key = cache_key(engine, wasm);
        let artefact_path = dir.join(format!("{key}.cwasm"));
        let checksum_path = dir.join(format!("{key}.sha256"));
        if let Some(component) = load(engine, &artefact_path, &checksum_path) {
            return Ok(component);
        }
        let component = compile(engine, wasm)?;
        if let Err(error) = store(&component, dir, &artefact_path, &checksum_path) {
            tracing::warn!(%error, dir = %dir.display(), "could not write the compiled-artefact cache");
        }
        Ok(component)
    }
}

fn compile(engine: &Engine, wasm: &[u8]) -> anyhow::Result<Component> {
    Component::new(engine, wasm)
        .map_err(anyhow::Error::from)
        .context("compiling the WASM component")
}

fn cache_key(engine: &Engine, wasm: &[u8]) -> String {
    struct DigestHasher(Sha256);
    impl Hasher for DigestHasher {
        fn finish(&self) -> u64 {
            0
        }
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
    }
    let mut hasher = DigestHasher(Sha256::new());
    hasher.write(wasm);
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hex::encode(&hasher.0.finalize()[..16])
}

fn load(engine: &Engine, artefact_path: &Path, checksum_path: &Path) -> Option<Component> {
    let bytes = std::fs::read(artefact_path).ok()?;
    let expected = std::fs::read_to_string(checksum_path).ok()?;
    if hex::encode(Sha256::digest(&bytes)) != expected.trim() {
        tracing::warn!(path = %artefact_path.display(), "ignoring a cached artefact with a wrong checksum");
        return None;
    }
    // SAFETY: the bytes were produced by `Component::serialize` of an engine
    // with the same compatibility hash (part of the file name) and are
    // unchanged since (checksum verified above).
    #[allow(unsafe_code)]
    let component = unsafe { Component::deserialize(engine, &bytes) };
    component.ok()
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
    // Write-then-rename so that concurrent processes never read half a file.
    let unique = format!("{}.{}", std::process::id(), rand_suffix());
    let tmp_artefact = artefact_path.with_extension(format!("cwasm.{unique}"));
    let tmp_checksum = checksum_path.with_extension(format!("sha256.{unique}"));
    std::fs::write(&tmp_artefact, &bytes)?;
    std::fs::write(&tmp_checksum, checksum)?;
    std::fs::rename(&tmp_artefact, artefact_path)?;
    std::fs::rename(&tmp_checksum, checksum_path)?;
    Ok(())
}

fn rand_suffix() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos().into())
        .unwrap_or(0)
}

//! The JavaScript engine component shipped inside the binary.
//!
//! `plugins/js-engine/floh-js-engine.wasm` is built and pre-initialized by
//! `just guests` and committed, so the host builds with plain cargo.

use sha2::{Digest, Sha256};

/// The pre-initialized engine component.
pub const ENGINE_WASM: &[u8] = include_bytes!("../../../plugins/js-engine/floh-js-engine.wasm");

/// A short, stable identifier of an engine build: stored beside compiled
/// bytecode so that bytecode from another engine build is recompiled from
/// source instead of being loaded (QuickJS bytecode is version-specific).
pub fn engine_version(wasm: &[u8]) -> String {
    format!("qjs-{}", &hex::encode(Sha256::digest(wasm))[..16])
}

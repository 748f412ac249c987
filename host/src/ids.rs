//! Identifiers: random ids with a readable prefix, and cheap per-process
//! sequences for hot paths.

use std::sync::atomic::{AtomicU64, Ordering};

use chacha20poly1305::aead::OsRng;
use chacha20poly1305::aead::rand_core::RngCore;

/// A random id with a readable prefix (`con_…`, `exe_…`, `tok_…`).
pub fn new_id(prefix: &str) -> String {
    let mut bytes = [0u8; 12];
    OsRng.fill_bytes(&mut bytes);
    format!("{prefix}_{}", hex::encode(bytes))
}

/// 32 random bytes, base64url without padding (43 characters): session ids,
/// CSRF tokens, OAuth2 `state` values and PKCE verifiers.
pub fn random_token() -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Ids from a random per-process prefix and a counter, so a hot path makes
/// no system call for randomness (the ids need to be unique, not secret).
pub struct SequentialIds {
    prefix: String,
    counter: AtomicU64,
}

impl SequentialIds {
    /// A sequence whose ids start with `prefix_` and a random part.
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: new_id(prefix),
            counter: AtomicU64::new(0),
        }
    }

    /// The next id.
    pub fn next_id(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        format!("{}{n:08x}", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_their_prefix_and_differ() {
        let a = new_id("con");
        assert!(a.starts_with("con_") && a.len() == 4 + 24, "{a}");
        assert_ne!(a, new_id("con"));
        let sequence = SequentialIds::new("exe");
        let (first, second) = (sequence.next_id(), sequence.next_id());
        assert!(first.starts_with("exe_") && first != second);
        assert_eq!(first[..first.len() - 8], second[..second.len() - 8]);
    }
}

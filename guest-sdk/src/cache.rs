//! The host's per-connector cache, which outlives one execution (each runs in
//! a fresh instance). Scoped to the connector and its configuration; memory
//! only; values are never logged. Made for things like OAuth2 access tokens.

use crate::bindings::floh::connector::cache as wit;

/// The value stored under `key`, if present and not expired.
pub fn get(key: &str) -> Option<String> {
    wit::get(key)
}

/// Keep `value` under `key` for `ttl_seconds` (the host caps the lifetime and
/// sizes; an over-sized entry is refused with a reason).
pub fn set(key: &str, value: &str, ttl_seconds: u32) -> Result<(), String> {
    wit::set(key, value, ttl_seconds)
}

/// Forget `key`.
pub fn delete(key: &str) {
    wit::delete(key);
}

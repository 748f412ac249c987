//! `floh:connector/cache`: a bounded in-memory key-value store that outlives
//! one execution, so a plugin can reuse an OAuth2 token instead of fetching
//! one per command.
//!
//! Entries live under a *scope*: the connector's name plus a digest of its
//! decrypted configuration. A changed configuration (a rotated client secret,
//! another tenant) therefore never sees the tokens of the old one, and a
//! connector recreated under the same name with other credentials starts
//! empty. Nothing here is persisted or logged.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::bindings::cache::Host;

/// Size and lifetime limits of the cache.
#[derive(Debug, Clone, Copy)]
pub struct CacheLimits {
    /// Longest key, in bytes.
    pub max_key_bytes: usize,
    /// Largest value, in bytes.
    pub max_value_bytes: usize,
    /// Entries one scope may hold; the entry closest to expiry makes room.
    pub max_entries_per_scope: usize,
    /// The longest time-to-live a guest may ask for.
    pub max_ttl: Duration,
}

impl Default for CacheLimits {
    fn default() -> Self {
        Self {
            max_key_bytes: 256,
            max_value_bytes: 64 * 1024,
            max_entries_per_scope: 64,
            max_ttl: Duration::from_secs(24 * 60 * 60),
        }
    }
}

struct Entry {
    value: Arc<str>,
    expires: Instant,
}

/// The entries of one scope, by key.
type ScopeEntries = HashMap<String, Entry>;

/// The process-wide cache shared by every execution.
#[derive(Clone, Default)]
pub struct SharedCache {
    scopes: Arc<Mutex<HashMap<Arc<str>, ScopeEntries>>>,
    limits: CacheLimits,
}

impl SharedCache {
    /// An empty cache with `limits`.
    pub fn new(limits: CacheLimits) -> Self {
        Self {
            scopes: Arc::default(),
            limits,
        }
    }

    /// The import for one execution of `connector` with `config_json` (its
    /// decrypted configuration as JSON text). The scope digest is computed on
    /// first use, so executions that never touch the cache do not pay for it.
    pub fn import(&self, connector: Arc<str>, config_json: Arc<str>) -> CacheImport {
        CacheImport {
            cache: self.clone(),
            connector,
            config_json,
            scope: None,
        }
    }

    fn get(&self, scope: &str, key: &str) -> Option<Arc<str>> {
        let mut scopes = self.scopes.lock().unwrap_or_else(|p| p.into_inner());
        let entries = scopes.get_mut(scope)?;
        match entries.get(key) {
            Some(entry) if entry.expires > Instant::now() => Some(entry.value.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    fn set(&self, scope: &Arc<str>, key: &str, value: &str, ttl: Duration) -> Result<(), String> {
        let limits = self.limits;
        if key.len() > limits.max_key_bytes {
            return Err(format!(
                "cache keys are limited to {} bytes",
                limits.max_key_bytes
            ));
        }
        if value.len() > limits.max_value_bytes {
            return Err(format!(
                "cache values are limited to {} bytes",
                limits.max_value_bytes
            ));
        }
        let now = Instant::now();
        let mut scopes = self.scopes.lock().unwrap_or_else(|p| p.into_inner());
        let entries = scopes.entry(scope.clone()).or_default();
        entries.retain(|_, entry| entry.expires > now);
        if !entries.contains_key(key) && entries.len() >= limits.max_entries_per_scope {
            let soonest = entries
                .iter()
                .min_by_key(|(_, entry)| entry.expires)
                .map(|(key, _)| key.clone());
            if let Some(soonest) = soonest {
                entries.remove(&soonest);
            }
        }
        entries.insert(
            key.to_string(),
            Entry {
                value: value.into(),
                expires: now + ttl.min(limits.max_ttl),
            },
        );
        Ok(())
    }

    fn delete(&self, scope: &str, key: &str) {
        let mut scopes = self.scopes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(entries) = scopes.get_mut(scope) {
            entries.remove(key);
            if entries.is_empty() {
                scopes.remove(scope);
            }
        }
    }
}

/// The cache as one execution sees it: its connector's scope only.
#[derive(Clone)]
pub struct CacheImport {
    cache: SharedCache,
    connector: Arc<str>,
    config_json: Arc<str>,
    scope: Option<Arc<str>>,
}

impl CacheImport {
    fn scope(&mut self) -> Arc<str> {
        let (connector, config) = (&self.connector, &self.config_json);
        self.scope
            .get_or_insert_with(|| {
                let digest = Sha256::digest(config.as_bytes());
                format!("{connector}#{}", hex::encode(&digest[..16])).into()
            })
            .clone()
    }
}

impl Host for CacheImport {
    fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        let scope = self.scope();
        Ok(self.cache.get(&scope, &key).map(|value| value.to_string()))
    }

    fn set(
        &mut self,
        key: String,
        value: String,
        ttl_seconds: u32,
    ) -> wasmtime::Result<Result<(), String>> {
        let ttl = Duration::from_secs(u64::from(ttl_seconds));
        let scope = self.scope();
        Ok(self.cache.set(&scope, &key, &value, ttl))
    }

    fn delete(&mut self, key: String) -> wasmtime::Result<()> {
        let scope = self.scope();
        self.cache.delete(&scope, &key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn import(cache: &SharedCache, connector: &str, config: serde_json::Value) -> CacheImport {
        cache.import(connector.into(), config.to_string().into())
    }

    #[test]
    fn values_survive_between_imports_of_the_same_scope() {
        let cache = SharedCache::default();
        let mut first = import(&cache, "crm", json!({"secret": "a"}));
        first
            .set("token".into(), "abc".into(), 60)
            .expect("call")
            .expect("stored");
        let mut second = import(&cache, "crm", json!({"secret": "a"}));
        assert_eq!(
            second.get("token".into()).expect("call").as_deref(),
            Some("abc")
        );
        second.delete("token".into()).expect("call");
        assert_eq!(first.get("token".into()).expect("call"), None);
    }

    #[test]
    fn another_connector_or_config_sees_nothing() {
        let cache = SharedCache::default();
        let mut owner = import(&cache, "crm", json!({"secret": "a"}));
        owner
            .set("token".into(), "abc".into(), 60)
            .expect("call")
            .expect("stored");
        let mut rotated = import(&cache, "crm", json!({"secret": "b"}));
        let mut other = import(&cache, "hr", json!({"secret": "a"}));
        assert_eq!(rotated.get("token".into()).expect("call"), None);
        assert_eq!(other.get("token".into()).expect("call"), None);
    }

    #[test]
    fn expired_entries_are_gone() {
        let cache = SharedCache::default();
        let mut import = import(&cache, "crm", json!({}));
        import
            .set("token".into(), "abc".into(), 0)
            .expect("call")
            .expect("stored");
        assert_eq!(import.get("token".into()).expect("call"), None);
    }

    #[test]
    fn oversized_entries_are_refused_and_scopes_are_bounded() {
        let limits = CacheLimits {
            max_entries_per_scope: 2,
            ..CacheLimits::default()
        };
        let cache = SharedCache::new(limits);
        let mut import = import(&cache, "crm", json!({}));
        let huge = "x".repeat(limits.max_value_bytes + 1);
        let refused = import.set("k".into(), huge, 60).expect("call");
        assert!(refused.expect_err("too large").contains("limited to"));
        for (key, ttl) in [("a", 10), ("b", 100), ("c", 100)] {
            import
                .set(key.into(), "v".into(), ttl)
                .expect("call")
                .expect("stored");
        }
        // `a` expired soonest, so it made room for `c`.
        assert_eq!(import.get("a".into()).expect("call"), None);
        assert!(import.get("b".into()).expect("call").is_some());
        assert!(import.get("c".into()).expect("call").is_some());
    }
}

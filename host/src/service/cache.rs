//! Connectors as executions need them (record and compiled script), kept in
//! memory so the hot path does not read redb on every execution.
//!
//! Any change to any connector clears the whole cache (changes are rare,
//! executions are not). A generation counter closes the race where an
//! execution loads a record, an update lands and clears the cache, and the
//! execution then caches what it loaded: an insert is dropped when the
//! generation moved while the record was being loaded.
//!
//! Entries also expire after [`MAX_AGE`]: with several nodes on one
//! database, a change made elsewhere arrives as a notification, and the
//! age bound caps how long a missed one could keep a stale connector.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::egress::EgressPolicy;
use crate::model::ConfigSchema;
use crate::runtime::CompiledScript;
use crate::store::ConnectorRecord;

/// A connector ready to execute.
#[derive(Debug)]
pub struct LoadedConnector {
    /// The stored record.
    pub record: ConnectorRecord,
    /// The compiled script (script connectors whose bytecode matches the
    /// running engine).
    pub script: Option<CompiledScript>,
    /// The effective config schema (a built-in type's own for instances).
    pub schema: ConfigSchema,
    /// Where the connector may send requests.
    pub egress: EgressPolicy,
}

/// How long a cached connector is used before it is read again.
pub const MAX_AGE: Duration = Duration::from_secs(30);

#[derive(Default)]
struct Inner {
    generation: u64,
    by_key: HashMap<String, (Arc<LoadedConnector>, Instant)>,
}

/// The cache, keyed by both id and name.
#[derive(Default)]
pub struct ConnectorCache {
    inner: Mutex<Inner>,
}

impl ConnectorCache {
    /// The cached connector for `id_or_name`, and the generation to pass to
    /// [`ConnectorCache::insert`] after a miss.
    pub fn get(&self, id_or_name: &str) -> (Option<Arc<LoadedConnector>>, u64) {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let fresh = inner
            .by_key
            .get(id_or_name)
            .filter(|(_, loaded_at)| loaded_at.elapsed() < MAX_AGE)
            .map(|(loaded, _)| loaded.clone());
        (fresh, inner.generation)
    }

    /// Cache a connector loaded at `generation`, unless it changed since.
    pub fn insert(&self, generation: u64, loaded: Arc<LoadedConnector>) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.generation != generation {
            return;
        }
        let now = Instant::now();
        inner
            .by_key
            .insert(loaded.record.id.clone(), (loaded.clone(), now));
        inner
            .by_key
            .insert(loaded.record.definition.name.clone(), (loaded, now));
    }

    /// Forget everything (after any create, update or delete).
    pub fn invalidate(&self) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.generation += 1;
        inner.by_key.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loaded(id: &str, name: &str) -> Arc<LoadedConnector> {
        let definition =
            serde_json::from_value(serde_json::json!({"name": name, "executionModel": "script"}))
                .expect("definition");
        Arc::new(LoadedConnector {
            record: ConnectorRecord {
                id: id.into(),
                definition,
                sealed_config: None,
                engine_version: None,
                spec_digest: None,
                created_at_ms: 0,
                updated_at_ms: 0,
            },
            script: None,
            schema: ConfigSchema::default(),
            egress: EgressPolicy::default(),
        })
    }

    #[test]
    fn entries_are_found_by_id_and_name_until_invalidated() {
        let cache = ConnectorCache::default();
        let (_, generation) = cache.get("c1");
        cache.insert(generation, loaded("c1", "crm"));
        assert!(cache.get("c1").0.is_some() && cache.get("crm").0.is_some());
        cache.invalidate();
        assert!(cache.get("crm").0.is_none());
    }

    #[test]
    fn a_load_that_raced_with_a_change_is_not_cached() {
        let cache = ConnectorCache::default();
        let (_, generation) = cache.get("c1");
        cache.invalidate();
        cache.insert(generation, loaded("c1", "crm"));
        assert!(cache.get("c1").0.is_none());
    }
}

//! OpenAPI specs of `oas` connectors, stored once by content.
//!
//! A spec can be tens of megabytes, so it lives beside the connector record
//! rather than inside it: listing, loading and caching connectors never read
//! it, and a spec shared by several connectors (or re-sent unchanged by an
//! update) is kept once. Each spec is keyed by the SHA-256 of its JSON text
//! and counted by the records that name it; the last one to let go removes
//! it, in the same transaction.

use redb::{
    ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition, WriteTransaction,
};

use super::{RedbStore, StoreError};
use crate::model::OpenApiSpec;

/// Spec JSON text by SHA-256 (hex).
pub(super) const SPECS: TableDefinition<&str, &[u8]> = TableDefinition::new("openapi_specs");
/// How many connector records name each spec.
pub(super) const SPEC_REFS: TableDefinition<&str, u64> = TableDefinition::new("openapi_spec_refs");

/// Store `spec` (unless an identical one is there) and count one more user;
/// returns its digest.
pub(super) fn add_ref(txn: &WriteTransaction, spec: &OpenApiSpec) -> Result<String, StoreError> {
    let digest = spec.digest();
    let mut refs = txn.open_table(SPEC_REFS)?;
    let count = refs.get(digest.as_str())?.map_or(0, |v| v.value());
    if count == 0 {
        txn.open_table(SPECS)?
            .insert(digest.as_str(), spec.json().as_bytes())?;
    }
    refs.insert(digest.as_str(), count + 1)?;
    Ok(digest)
}

/// Count one user less, removing the spec with its last user.
pub(super) fn drop_ref(txn: &WriteTransaction, digest: &str) -> Result<(), StoreError> {
    let mut refs = txn.open_table(SPEC_REFS)?;
    let count = refs.get(digest)?.map_or(0, |v| v.value());
    if count > 1 {
        refs.insert(digest, count - 1)?;
    } else {
        refs.remove(digest)?;
        txn.open_table(SPECS)?.remove(digest)?;
    }
    Ok(())
}

impl RedbStore {
    /// The spec stored under `digest`.
    pub async fn spec(&self, digest: String) -> Result<Option<OpenApiSpec>, StoreError> {
        self.blocking(move |db| {
            let txn = db.begin_read()?;
            let Some(bytes) = txn.open_table(SPECS)?.get(digest.as_str())? else {
                return Ok(None);
            };
            let text = String::from_utf8(bytes.value().to_vec())
                .map_err(|e| StoreError::Corrupt(format!("spec {digest}: {e}")))?;
            OpenApiSpec::from_json(text)
                .map(Some)
                .map_err(|e| StoreError::Corrupt(format!("spec {digest}: {e}")))
        })
        .await
    }

    /// How many specs are stored (each once, however many connectors use it).
    pub async fn spec_count(&self) -> Result<u64, StoreError> {
        self.blocking(|db| Ok(db.begin_read()?.open_table(SPECS)?.len()?))
            .await
    }
}

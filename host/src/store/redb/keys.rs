//! Key rotation in the redb store: which key version sealed each value,
//! the key checks of every version, and the versions an operator retired.
//!
//! The store holds no key. It reads the version each sealed value names
//! (`secrets::sealed_version`), lets the service re-seal values in batches,
//! and refuses to write a value sealed under a retired version: retiring
//! counts and marks in one write transaction, and redb runs write
//! transactions one at a time, so a write that sealed with a version before
//! it was retired can never slip in after the count said zero.

use std::collections::{BTreeMap, BTreeSet};

use redb::{ReadableDatabase, ReadableTable, WriteTransaction};

use super::oauth::{GRANTS, PENDING};
use super::retired;
use super::{CONNECTORS, ConnectorRecord, META, RedbStore, StoreError, decode, encode};
use crate::secrets::sealed_version;
use crate::store::keys::{HoldsSealed, KEY_CHECK, SCAN_PER_REWRAP, check_key};
use crate::store::{
    OAuthGrantRecord, PendingAuthorization, RewrapBatch, RewrapCursor, RewrapError, SealedKind,
};

type SealedTable = redb::TableDefinition<'static, &'static str, &'static [u8]>;

impl SealedKind {
    fn table(self) -> SealedTable {
        match self {
            Self::ConnectorConfig => CONNECTORS,
            Self::OAuthGrant => GRANTS,
            Self::PendingAuthorization => PENDING,
        }
    }
}

impl RedbStore {
    /// The key checks stored for each version.
    pub async fn key_checks(&self) -> Result<BTreeMap<u32, Vec<u8>>, StoreError> {
        self.blocking(|db| {
            let txn = db.begin_read()?;
            let meta = txn.open_table(META)?;
            let mut checks = BTreeMap::new();
            for entry in meta.range(KEY_CHECK..)? {
                let (key, value) = entry?;
                if !key.value().starts_with(KEY_CHECK) {
                    break;
                }
                checks.insert(sealed_version(value.value()), value.value().to_vec());
            }
            Ok(checks)
        })
        .await
    }

    /// Keep the key check of `version` (`check` must be sealed with it).
    pub async fn set_key_check(&self, version: u32, check: Vec<u8>) -> Result<(), StoreError> {
        self.blocking(move |db| {
            let txn = db.begin_write()?;
            txn.open_table(META)?
                .insert(check_key(version).as_str(), check.as_slice())?;
            txn.commit()?;
            Ok(())
        })
        .await
    }

    /// The versions an operator retired.
    pub async fn retired_key_versions(&self) -> Result<BTreeSet<u32>, StoreError> {
        self.blocking(|db| {
            let txn = db.begin_read()?;
            let meta = txn.open_table(META)?;
            retired::read(&meta)
        })
        .await
    }

    /// How many stored values each key version seals.
    pub async fn sealed_counts(&self) -> Result<BTreeMap<u32, u64>, StoreError> {
        self.blocking(|db| {
            let txn = db.begin_read()?;
            let mut counts = BTreeMap::new();
            for_each_sealed(
                |table| Ok(txn.open_table(table)?),
                |version| *counts.entry(version).or_default() += 1,
            )?;
            Ok(counts)
        })
        .await
    }

    /// Mark `version` retired, in one transaction with the count that shows
    /// nothing uses it; `Err(count)` inside `Ok` when values still do.
    pub async fn retire_key_version(&self, version: u32) -> Result<Result<(), u64>, StoreError> {
        self.blocking(move |db| {
            let txn = db.begin_write()?;
            let mut using = 0u64;
            for_each_sealed(
                |table| Ok(txn.open_table(table)?),
                |sealed| using += u64::from(sealed == version),
            )?;
            if using > 0 {
                return Ok(Err(using));
            }
            {
                let mut meta = txn.open_table(META)?;
                retired::add(&mut meta, version)?;
                meta.remove(check_key(version).as_str())?;
            }
            txn.commit()?;
            Ok(Ok(()))
        })
        .await
    }

    /// Re-seal up to `limit` values that `active` did not seal, from
    /// `cursor` on, each with `reseal(kind, id, sealed)`, in one write
    /// transaction (values written meanwhile are read fresh, so no update
    /// is lost).
    pub async fn rewrap_batch<E, F>(
        &self,
        active: u32,
        limit: usize,
        cursor: RewrapCursor,
        reseal: F,
    ) -> Result<RewrapBatch, RewrapError<E>>
    where
        E: Send + 'static,
        F: Fn(SealedKind, &str, &[u8]) -> Result<Vec<u8>, E> + Send + 'static,
    {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
            let txn = db.begin_write().map_err(StoreError::from)?;
            let mut pass = Pass {
                txn: &txn,
                active,
                reseal: &reseal,
                rewrap: limit.max(1),
                scan: limit.max(1) * SCAN_PER_REWRAP,
                rewrapped: 0,
            };
            let mut next = None;
            for (kind, after) in cursor.remaining() {
                let stopped = match kind {
                    SealedKind::ConnectorConfig => pass.table::<ConnectorRecord, _>(kind, after)?,
                    SealedKind::OAuthGrant => pass.table::<OAuthGrantRecord, _>(kind, after)?,
                    SealedKind::PendingAuthorization => {
                        pass.table::<PendingAuthorization, _>(kind, after)?
                    }
                };
                if let Some(last) = stopped {
                    next = Some(RewrapCursor {
                        kind,
                        after: Some(last),
                    });
                    break;
                }
            }
            let rewrapped = pass.rewrapped;
            txn.commit().map_err(StoreError::from)?;
            Ok(RewrapBatch { rewrapped, next })
        })
        .await
        .map_err(|e| StoreError::Database(format!("storage task failed: {e}")))?
    }
}

/// One re-wrap batch: its transaction and what it may still do.
struct Pass<'a, F> {
    txn: &'a WriteTransaction,
    active: u32,
    reseal: &'a F,
    /// Values it may still re-seal.
    rewrap: usize,
    /// Values it may still look at.
    scan: usize,
    rewrapped: usize,
}

impl<F> Pass<'_, F> {
    /// Re-seal the due values of `kind`'s table after `after`; the last id
    /// handled when the batch's budget ran out first.
    fn table<R: HoldsSealed, E>(
        &mut self,
        kind: SealedKind,
        after: Option<&str>,
    ) -> Result<Option<String>, RewrapError<E>>
    where
        F: Fn(SealedKind, &str, &[u8]) -> Result<Vec<u8>, E>,
    {
        use std::ops::Bound;
        let mut table = self
            .txn
            .open_table(kind.table())
            .map_err(StoreError::from)?;
        let mut updates = Vec::new();
        let mut stopped = None;
        {
            let range = match after {
                Some(after) => (Bound::Excluded(after), Bound::Unbounded),
                None => (Bound::Unbounded, Bound::Unbounded),
            };
            for entry in table.range::<&str>(range).map_err(StoreError::from)? {
                let (id, value) = entry.map_err(StoreError::from)?;
                let id = id.value();
                self.scan = self.scan.saturating_sub(1);
                let mut record: R = decode(value.value())?;
                if let Some(sealed) = record.sealed_mut()
                    && sealed_version(sealed) != self.active
                {
                    *sealed = (self.reseal)(kind, id, sealed).map_err(RewrapError::Seal)?;
                    updates.push((id.to_string(), encode(&record)));
                    self.rewrapped += 1;
                    self.rewrap -= 1;
                }
                if self.rewrap == 0 || self.scan == 0 {
                    stopped = Some(id.to_string());
                    break;
                }
            }
        }
        for (id, bytes) in updates {
            table
                .insert(id.as_str(), bytes.as_slice())
                .map_err(StoreError::from)?;
        }
        Ok(stopped)
    }
}

/// Call `visit(version)` for every sealed value of the tables that hold them.
fn for_each_sealed<T>(
    open: impl Fn(SealedTable) -> Result<T, StoreError>,
    mut visit: impl FnMut(u32),
) -> Result<(), StoreError>
where
    T: ReadableTable<&'static str, &'static [u8]>,
{
    for kind in SealedKind::ALL {
        let table = open(kind.table())?;
        for entry in table.iter()? {
            let (_, value) = entry?;
            let sealed = match kind {
                SealedKind::ConnectorConfig => {
                    decode::<ConnectorRecord>(value.value())?.sealed_config
                }
                SealedKind::OAuthGrant => {
                    Some(decode::<OAuthGrantRecord>(value.value())?.sealed_tokens)
                }
                SealedKind::PendingAuthorization => {
                    Some(decode::<PendingAuthorization>(value.value())?.sealed_verifier)
                }
            };
            if let Some(sealed) = sealed {
                visit(sealed_version(&sealed));
            }
        }
    }
    Ok(())
}

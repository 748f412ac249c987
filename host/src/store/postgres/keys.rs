//! Key rotation in the PostgreSQL store.
//!
//! redb runs one writer at a time; here concurrent writers on several nodes
//! are kept from sealing under a version being retired by one row lock:
//! every write of a sealed value share-locks `key_retirement` before it
//! reads the retired set, and a retirement locks it exclusively while it
//! counts and marks. A write that sealed with version N either committed
//! before the count (and is counted) or reads N as retired and is refused.

use std::collections::{BTreeMap, BTreeSet};

use tokio_postgres::Transaction;

use super::{PostgresStore, database};
use crate::secrets::sealed_version;
use crate::store::keys::{HoldsSealed, SCAN_PER_REWRAP};
use crate::store::{
    ConnectorRecord, OAuthGrantRecord, PendingAuthorization, RewrapBatch, RewrapCursor,
    RewrapError, SealedKind, StoreError, decode, encode,
};

/// Refuse to write a value sealed under a retired key version.
pub(super) async fn refuse_retired(txn: &Transaction<'_>, sealed: &[u8]) -> Result<(), StoreError> {
    txn.execute("SELECT 1 FROM key_retirement WHERE id = 1 FOR SHARE", &[])
        .await
        .map_err(database)?;
    let version = sealed_version(sealed);
    let retired = txn
        .query_opt(
            "SELECT 1 FROM retired_key_versions WHERE version = $1",
            &[&version_column(version)],
        )
        .await
        .map_err(database)?
        .is_some();
    if retired {
        return Err(StoreError::RetiredKey(version));
    }
    Ok(())
}

fn version_column(version: u32) -> i32 {
    i32::try_from(version).unwrap_or(i32::MAX)
}

/// Where each kind of sealed value lives: its table and key column.
fn table_of(kind: SealedKind) -> (&'static str, &'static str) {
    match kind {
        SealedKind::ConnectorConfig => ("connectors", "id"),
        SealedKind::OAuthGrant => ("oauth_grants", "connector_id"),
        SealedKind::PendingAuthorization => ("oauth_pending", "state_digest"),
    }
}

/// The key version of a stored record's sealed value, if it holds one.
fn version_of<R: HoldsSealed>(bytes: &[u8]) -> Result<Option<u32>, StoreError> {
    let mut record: R = decode(bytes)?;
    Ok(record.sealed_mut().map(|sealed| sealed_version(sealed)))
}

/// Call `visit(version)` for every sealed value.
async fn for_each_sealed(
    txn: &Transaction<'_>,
    mut visit: impl FnMut(u32),
) -> Result<(), StoreError> {
    for kind in SealedKind::ALL {
        let (table, _) = table_of(kind);
        let rows = txn
            .query(&format!("SELECT record FROM {table}"), &[])
            .await
            .map_err(database)?;
        for row in rows {
            let bytes: &[u8] = row.get(0);
            let version = match kind {
                SealedKind::ConnectorConfig => version_of::<ConnectorRecord>(bytes)?,
                SealedKind::OAuthGrant => version_of::<OAuthGrantRecord>(bytes)?,
                SealedKind::PendingAuthorization => version_of::<PendingAuthorization>(bytes)?,
            };
            if let Some(version) = version {
                visit(version);
            }
        }
    }
    Ok(())
}

/// One re-wrap pass's budgets, shared by the tables it visits.
struct Pass<'a, 't, F> {
    txn: &'a Transaction<'t>,
    active: u32,
    reseal: &'a F,
    rewrap: usize,
    scan: usize,
    rewrapped: usize,
}

impl<F> Pass<'_, '_, F> {
    /// Re-seal values of `kind` after `after`; the id it stopped at when a
    /// budget ran out.
    async fn table<R: HoldsSealed, E>(
        &mut self,
        kind: SealedKind,
        after: Option<&str>,
    ) -> Result<Option<String>, RewrapError<E>>
    where
        F: Fn(SealedKind, &str, &[u8]) -> Result<Vec<u8>, E>,
    {
        let (table, key) = table_of(kind);
        let rows = self
            .txn
            .query(
                &format!(
                    "SELECT {key}, record FROM {table}
                     WHERE $1::text IS NULL OR {key} > $1
                     ORDER BY {key} LIMIT $2 FOR UPDATE"
                ),
                &[&after, &i64::try_from(self.scan).unwrap_or(i64::MAX)],
            )
            .await
            .map_err(database)?;
        let update = format!("UPDATE {table} SET record = $2 WHERE {key} = $1");
        for row in rows {
            let id: String = row.get(0);
            self.scan = self.scan.saturating_sub(1);
            let mut record: R = decode(row.get::<_, &[u8]>(1))?;
            if let Some(sealed) = record.sealed_mut()
                && sealed_version(sealed) != self.active
            {
                *sealed = (self.reseal)(kind, &id, sealed).map_err(RewrapError::Seal)?;
                self.txn
                    .execute(&update, &[&id, &encode(&record)])
                    .await
                    .map_err(database)?;
                self.rewrapped += 1;
                self.rewrap -= 1;
            }
            if self.rewrap == 0 || self.scan == 0 {
                return Ok(Some(id));
            }
        }
        Ok(None)
    }
}

impl PostgresStore {
    pub(in crate::store) async fn key_checks(&self) -> Result<BTreeMap<u32, Vec<u8>>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query("SELECT key_check FROM key_checks", &[])
            .await
            .map_err(database)?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let check: Vec<u8> = row.get(0);
                (sealed_version(&check), check)
            })
            .collect())
    }

    pub(in crate::store) async fn set_key_check(
        &self,
        version: u32,
        check: Vec<u8>,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO key_checks (version, key_check) VALUES ($1, $2)
                 ON CONFLICT (version) DO UPDATE SET key_check = excluded.key_check",
                &[&version_column(version), &check],
            )
            .await
            .map_err(database)?;
        Ok(())
    }

    pub(in crate::store) async fn retired_key_versions(&self) -> Result<BTreeSet<u32>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query("SELECT version FROM retired_key_versions", &[])
            .await
            .map_err(database)?;
        Ok(rows
            .iter()
            .map(|row| u32::try_from(row.get::<_, i32>(0)).unwrap_or(0))
            .collect())
    }

    pub(in crate::store) async fn sealed_counts(&self) -> Result<BTreeMap<u32, u64>, StoreError> {
        let mut client = self.client().await?;
        // One snapshot for all three tables.
        let txn = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(database)?;
        let mut counts = BTreeMap::new();
        for_each_sealed(&txn, |version| *counts.entry(version).or_default() += 1).await?;
        txn.commit().await.map_err(database)?;
        Ok(counts)
    }

    pub(in crate::store) async fn retire_key_version(
        &self,
        version: u32,
    ) -> Result<Result<(), u64>, StoreError> {
        let mut client = self.client().await?;
        let txn = client.transaction().await.map_err(database)?;
        txn.execute("SELECT 1 FROM key_retirement WHERE id = 1 FOR UPDATE", &[])
            .await
            .map_err(database)?;
        let mut using = 0u64;
        for_each_sealed(&txn, |sealed| using += u64::from(sealed == version)).await?;
        if using > 0 {
            return Ok(Err(using));
        }
        txn.execute(
            "INSERT INTO retired_key_versions (version) VALUES ($1) ON CONFLICT DO NOTHING",
            &[&version_column(version)],
        )
        .await
        .map_err(database)?;
        txn.execute(
            "DELETE FROM key_checks WHERE version = $1",
            &[&version_column(version)],
        )
        .await
        .map_err(database)?;
        txn.commit().await.map_err(database)?;
        Ok(Ok(()))
    }

    pub(in crate::store) async fn rewrap_batch<E, F>(
        &self,
        active: u32,
        limit: usize,
        cursor: RewrapCursor,
        reseal: F,
    ) -> Result<RewrapBatch, RewrapError<E>>
    where
        E: Send + 'static,
        F: Fn(SealedKind, &str, &[u8]) -> Result<Vec<u8>, E> + Send + Sync + 'static,
    {
        let mut client = self.client().await?;
        let txn = client.transaction().await.map_err(database)?;
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
                SealedKind::ConnectorConfig => {
                    pass.table::<ConnectorRecord, _>(kind, after).await?
                }
                SealedKind::OAuthGrant => pass.table::<OAuthGrantRecord, _>(kind, after).await?,
                SealedKind::PendingAuthorization => {
                    pass.table::<PendingAuthorization, _>(kind, after).await?
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
        txn.commit().await.map_err(database)?;
        Ok(RewrapBatch { rewrapped, next })
    }
}

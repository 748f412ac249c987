//! OAuth2 grants the host keeps for connectors, and the authorizations a
//! person has started but not finished. Tokens are kept only sealed (the
//! service seals them with the config key, bound to the connector); a
//! pending authorization is keyed by the SHA-256 of its `state` and taken
//! out in the transaction that reads it, so a `state` works once.

use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use super::{CONNECTORS, RedbStore, StoreError, decode, encode};
use crate::store::{OAuthGrantRecord, PendingAuthorization};

/// Grants by connector id.
pub(super) const GRANTS: TableDefinition<&str, &[u8]> = TableDefinition::new("oauth_grants");

/// Pending authorizations by the SHA-256 (hex) of their `state`.
pub(super) const PENDING: TableDefinition<&str, &[u8]> =
    TableDefinition::new("oauth_pending_authorizations");

impl RedbStore {
    /// A connector's grant.
    pub async fn oauth_grant(
        &self,
        connector_id: String,
    ) -> Result<Option<OAuthGrantRecord>, StoreError> {
        self.blocking(move |db| {
            let txn = db.begin_read()?;
            let grants = txn.open_table(GRANTS)?;
            grants
                .get(connector_id.as_str())?
                .map(|v| decode(v.value()))
                .transpose()
        })
        .await
    }

    /// Store a new grant for a connector (a person connected), replacing any
    /// other. False when the connector no longer exists.
    pub async fn connect_oauth_grant(
        &self,
        connector_id: String,
        record: OAuthGrantRecord,
    ) -> Result<bool, StoreError> {
        self.blocking(move |db| {
            let txn = db.begin_write()?;
            if txn
                .open_table(CONNECTORS)?
                .get(connector_id.as_str())?
                .is_none()
            {
                return Ok(false);
            }
            super::retired::refuse_retired(&txn, &record.sealed_tokens)?;
            txn.open_table(GRANTS)?
                .insert(connector_id.as_str(), encode(&record).as_slice())?;
            txn.commit()?;
            Ok(true)
        })
        .await
    }

    /// Replace the grant connected at `connected_at_ms` (a refresh, or the
    /// provider's refusal). False, and nothing written, when that grant is
    /// gone or was replaced by a new connection meanwhile.
    pub async fn update_oauth_grant(
        &self,
        connector_id: String,
        record: OAuthGrantRecord,
    ) -> Result<bool, StoreError> {
        self.blocking(move |db| {
            let txn = db.begin_write()?;
            super::retired::refuse_retired(&txn, &record.sealed_tokens)?;
            {
                let mut grants = txn.open_table(GRANTS)?;
                let current = grants
                    .get(connector_id.as_str())?
                    .map(|v| decode::<OAuthGrantRecord>(v.value()))
                    .transpose()?;
                if current.map(|c| c.connected_at_ms) != Some(record.connected_at_ms) {
                    return Ok(false);
                }
                grants.insert(connector_id.as_str(), encode(&record).as_slice())?;
            }
            txn.commit()?;
            Ok(true)
        })
        .await
    }

    /// Forget a connector's grant; whether there was one.
    pub async fn delete_oauth_grant(&self, connector_id: String) -> Result<bool, StoreError> {
        self.blocking(move |db| {
            let txn = db.begin_write()?;
            let existed = txn
                .open_table(GRANTS)?
                .remove(connector_id.as_str())?
                .is_some();
            txn.commit()?;
            Ok(existed)
        })
        .await
    }

    /// Keep a pending authorization under its state's digest, dropping the
    /// expired ones on the way (the table stays as small as the number of
    /// authorizations started in the last minutes).
    pub async fn insert_pending_authorization(
        &self,
        state_digest: String,
        pending: PendingAuthorization,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        self.blocking(move |db| {
            let txn = db.begin_write()?;
            super::retired::refuse_retired(&txn, &pending.sealed_verifier)?;
            {
                let mut table = txn.open_table(PENDING)?;
                table
                    .extract_if(|_, value| {
                        decode::<PendingAuthorization>(value)
                            .map_or(true, |p| p.expires_at_ms <= now_ms)
                    })?
                    .for_each(drop);
                table.insert(state_digest.as_str(), encode(&pending).as_slice())?;
            }
            txn.commit()?;
            Ok(())
        })
        .await
    }

    /// Take out the pending authorization of a state (it cannot be taken
    /// twice), expired or not: the caller checks the expiry.
    pub async fn take_pending_authorization(
        &self,
        state_digest: String,
    ) -> Result<Option<PendingAuthorization>, StoreError> {
        self.blocking(move |db| {
            let txn = db.begin_write()?;
            let taken = txn
                .open_table(PENDING)?
                .remove(state_digest.as_str())?
                .map(|v| decode(v.value()))
                .transpose()?;
            txn.commit()?;
            Ok(taken)
        })
        .await
    }
}

/// Forget a deleted connector's grant, in the deleting transaction.
pub(super) fn forget(txn: &redb::WriteTransaction, connector_id: &str) -> Result<(), StoreError> {
    txn.open_table(GRANTS)?.remove(connector_id)?;
    Ok(())
}

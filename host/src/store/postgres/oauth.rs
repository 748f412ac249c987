//! OAuth2 grants and pending authorizations. A pending authorization is
//! taken out with `DELETE … RETURNING`: of two callbacks with one `state`,
//! on any nodes, exactly one gets it.

use super::{PostgresStore, database, keys, to_i64};
use crate::store::{OAuthGrantRecord, PendingAuthorization, StoreError, decode, encode};

impl PostgresStore {
    pub(in crate::store) async fn oauth_grant(
        &self,
        connector_id: String,
    ) -> Result<Option<OAuthGrantRecord>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT record FROM oauth_grants WHERE connector_id = $1",
                &[&connector_id],
            )
            .await
            .map_err(database)?;
        row.map(|row| decode(row.get::<_, &[u8]>(0))).transpose()
    }

    pub(in crate::store) async fn connect_oauth_grant(
        &self,
        connector_id: String,
        record: OAuthGrantRecord,
    ) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let txn = client.transaction().await.map_err(database)?;
        // Share-lock the connector: a delete cannot land between this check
        // and the insert and leave a grant behind.
        let exists = txn
            .query_opt(
                "SELECT 1 FROM connectors WHERE id = $1 FOR SHARE",
                &[&connector_id],
            )
            .await
            .map_err(database)?
            .is_some();
        if !exists {
            return Ok(false);
        }
        keys::refuse_retired(&txn, &record.sealed_tokens).await?;
        txn.execute(
            "INSERT INTO oauth_grants (connector_id, record) VALUES ($1, $2)
             ON CONFLICT (connector_id) DO UPDATE SET record = excluded.record",
            &[&connector_id, &encode(&record)],
        )
        .await
        .map_err(database)?;
        txn.commit().await.map_err(database)?;
        Ok(true)
    }

    pub(in crate::store) async fn update_oauth_grant(
        &self,
        connector_id: String,
        record: OAuthGrantRecord,
    ) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let txn = client.transaction().await.map_err(database)?;
        keys::refuse_retired(&txn, &record.sealed_tokens).await?;
        let current = txn
            .query_opt(
                "SELECT record FROM oauth_grants WHERE connector_id = $1 FOR UPDATE",
                &[&connector_id],
            )
            .await
            .map_err(database)?
            .map(|row| decode::<OAuthGrantRecord>(row.get::<_, &[u8]>(0)))
            .transpose()?;
        if current.map(|c| c.connected_at_ms) != Some(record.connected_at_ms) {
            return Ok(false);
        }
        txn.execute(
            "UPDATE oauth_grants SET record = $2 WHERE connector_id = $1",
            &[&connector_id, &encode(&record)],
        )
        .await
        .map_err(database)?;
        txn.commit().await.map_err(database)?;
        Ok(true)
    }

    pub(in crate::store) async fn delete_oauth_grant(
        &self,
        connector_id: String,
    ) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let deleted = client
            .execute(
                "DELETE FROM oauth_grants WHERE connector_id = $1",
                &[&connector_id],
            )
            .await
            .map_err(database)?;
        Ok(deleted > 0)
    }

    pub(in crate::store) async fn insert_pending_authorization(
        &self,
        state_digest: String,
        pending: PendingAuthorization,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let txn = client.transaction().await.map_err(database)?;
        keys::refuse_retired(&txn, &pending.sealed_verifier).await?;
        txn.execute(
            "DELETE FROM oauth_pending WHERE expires_at_ms <= $1",
            &[&to_i64(now_ms)],
        )
        .await
        .map_err(database)?;
        txn.execute(
            "INSERT INTO oauth_pending (state_digest, expires_at_ms, record) VALUES ($1, $2, $3)
             ON CONFLICT (state_digest) DO UPDATE
                SET expires_at_ms = excluded.expires_at_ms, record = excluded.record",
            &[
                &state_digest,
                &to_i64(pending.expires_at_ms),
                &encode(&pending),
            ],
        )
        .await
        .map_err(database)?;
        txn.commit().await.map_err(database)?;
        Ok(())
    }

    pub(in crate::store) async fn take_pending_authorization(
        &self,
        state_digest: String,
    ) -> Result<Option<PendingAuthorization>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "DELETE FROM oauth_pending WHERE state_digest = $1 RETURNING record",
                &[&state_digest],
            )
            .await
            .map_err(database)?;
        row.map(|row| decode(row.get::<_, &[u8]>(0))).transpose()
    }
}

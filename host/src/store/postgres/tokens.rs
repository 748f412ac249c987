//! API tokens, agent tokens and the agents the nodes have seen. Tokens are
//! stored only under the SHA-256 of their secret, as in the redb store.

use super::changes::{Change, announce};
use super::{PostgresStore, database};
use crate::store::{AgentRecord, AgentTokenRecord, StoreError, TokenRecord, decode, encode};

impl PostgresStore {
    pub(in crate::store) async fn has_tokens(&self) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one("SELECT EXISTS (SELECT 1 FROM api_tokens)", &[])
            .await
            .map_err(database)?;
        Ok(row.get(0))
    }

    pub(in crate::store) async fn insert_token(
        &self,
        token_hash: String,
        record: TokenRecord,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO api_tokens (token_hash, record) VALUES ($1, $2)
                 ON CONFLICT (token_hash) DO UPDATE SET record = excluded.record",
                &[&token_hash, &encode(&record)],
            )
            .await
            .map_err(database)?;
        Ok(())
    }

    pub(in crate::store) async fn tokens(&self) -> Result<Vec<(String, TokenRecord)>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT token_hash, record FROM api_tokens ORDER BY token_hash",
                &[],
            )
            .await
            .map_err(database)?;
        rows.iter()
            .map(|row| Ok((row.get(0), decode(row.get::<_, &[u8]>(1))?)))
            .collect()
    }

    pub(in crate::store) async fn delete_token(
        &self,
        token_hash: String,
    ) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let txn = client.transaction().await.map_err(database)?;
        let deleted = txn
            .execute(
                "DELETE FROM api_tokens WHERE token_hash = $1",
                &[&token_hash],
            )
            .await
            .map_err(database)?;
        announce(&txn, Change::Tokens).await?;
        txn.commit().await.map_err(database)?;
        Ok(deleted > 0)
    }

    pub(in crate::store) async fn token(
        &self,
        token_hash: String,
    ) -> Result<Option<TokenRecord>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached("SELECT record FROM api_tokens WHERE token_hash = $1")
            .await
            .map_err(database)?;
        let row = client
            .query_opt(&statement, &[&token_hash])
            .await
            .map_err(database)?;
        row.map(|row| decode(row.get::<_, &[u8]>(0))).transpose()
    }

    pub(in crate::store) async fn insert_agent_token(
        &self,
        token_hash: String,
        record: AgentTokenRecord,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO agent_tokens (token_hash, id, record) VALUES ($1, $2, $3)
                 ON CONFLICT (token_hash) DO UPDATE SET id = excluded.id, record = excluded.record",
                &[&token_hash, &record.id, &encode(&record)],
            )
            .await
            .map_err(database)?;
        Ok(())
    }

    pub(in crate::store) async fn agent_token(
        &self,
        token_hash: String,
    ) -> Result<Option<AgentTokenRecord>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT record FROM agent_tokens WHERE token_hash = $1",
                &[&token_hash],
            )
            .await
            .map_err(database)?;
        row.map(|row| decode(row.get::<_, &[u8]>(0))).transpose()
    }

    pub(in crate::store) async fn agent_tokens(&self) -> Result<Vec<AgentTokenRecord>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query("SELECT record FROM agent_tokens", &[])
            .await
            .map_err(database)?;
        let mut records = rows
            .iter()
            .map(|row| decode::<AgentTokenRecord>(row.get::<_, &[u8]>(0)))
            .collect::<Result<Vec<_>, _>>()?;
        records.sort_by(|a, b| (a.created_at_ms, &a.id).cmp(&(b.created_at_ms, &b.id)));
        Ok(records)
    }

    pub(in crate::store) async fn revoke_agent_token(
        &self,
        id: String,
        now_ms: u64,
    ) -> Result<Option<AgentTokenRecord>, StoreError> {
        let mut client = self.client().await?;
        let txn = client.transaction().await.map_err(database)?;
        let Some(row) = txn
            .query_opt(
                "SELECT token_hash, record FROM agent_tokens WHERE id = $1 FOR UPDATE",
                &[&id],
            )
            .await
            .map_err(database)?
        else {
            return Ok(None);
        };
        let token_hash: String = row.get(0);
        let mut record: AgentTokenRecord = decode(row.get::<_, &[u8]>(1))?;
        record.revoked_at_ms.get_or_insert(now_ms);
        txn.execute(
            "UPDATE agent_tokens SET record = $2 WHERE token_hash = $1",
            &[&token_hash, &encode(&record)],
        )
        .await
        .map_err(database)?;
        announce(&txn, Change::AgentTokenRevoked(record.id.clone())).await?;
        txn.commit().await.map_err(database)?;
        Ok(Some(record))
    }

    pub(in crate::store) async fn put_agent(&self, record: AgentRecord) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let txn = client.transaction().await.map_err(database)?;
        txn.execute(
            "INSERT INTO agents (agent_id, record) VALUES ($1, $2)
             ON CONFLICT (agent_id) DO UPDATE SET record = excluded.record",
            &[&record.agent_id, &encode(&record)],
        )
        .await
        .map_err(database)?;
        // Other nodes learn which connectors agents claim from these.
        announce(&txn, Change::Agents).await?;
        txn.commit().await.map_err(database)?;
        Ok(())
    }

    pub(in crate::store) async fn delete_agent(&self, agent_id: String) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let txn = client.transaction().await.map_err(database)?;
        txn.execute("DELETE FROM agents WHERE agent_id = $1", &[&agent_id])
            .await
            .map_err(database)?;
        announce(&txn, Change::AgentRemoved(agent_id.clone())).await?;
        txn.commit().await.map_err(database)?;
        Ok(())
    }

    pub(in crate::store) async fn agents(&self) -> Result<Vec<AgentRecord>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query("SELECT record FROM agents ORDER BY agent_id", &[])
            .await
            .map_err(database)?;
        rows.iter()
            .map(|row| decode(row.get::<_, &[u8]>(0)))
            .collect()
    }
}

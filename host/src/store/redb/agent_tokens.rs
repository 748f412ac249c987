//! Agent tokens: the credentials `floh agent` registers with.
//!
//! They live in their own table rather than as a third role of the API
//! `tokens` table: an agent token can then never authenticate an API call
//! (no role confusion to get wrong in `TokenAuth`), and the extra state only
//! agents need (expiry, revocation) stays out of API tokens. As with API
//! tokens, only the SHA-256 of the secret is stored, as the key.

use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use super::{RedbStore, StoreError, decode, encode};
use crate::store::AgentTokenRecord;

/// Agent token records by SHA-256 (hex) of the token.
pub(super) const AGENT_TOKENS: TableDefinition<&str, &[u8]> = TableDefinition::new("agent_tokens");

impl RedbStore {
    /// Store a new agent token under the hash of its secret.
    pub async fn insert_agent_token(
        &self,
        token_hash: String,
        record: AgentTokenRecord,
    ) -> Result<(), StoreError> {
        self.blocking(move |db| {
            let txn = db.begin_write()?;
            txn.open_table(AGENT_TOKENS)?
                .insert(token_hash.as_str(), encode(&record).as_slice())?;
            txn.commit()?;
            Ok(())
        })
        .await
    }

    /// The agent token whose secret hashes to `token_hash`.
    pub async fn agent_token(
        &self,
        token_hash: String,
    ) -> Result<Option<AgentTokenRecord>, StoreError> {
        self.blocking(move |db| {
            let txn = db.begin_read()?;
            let bytes = txn
                .open_table(AGENT_TOKENS)?
                .get(token_hash.as_str())?
                .map(|v| v.value().to_vec());
            bytes.map(|b| decode(&b)).transpose()
        })
        .await
    }

    /// Every agent token, oldest first.
    pub async fn agent_tokens(&self) -> Result<Vec<AgentTokenRecord>, StoreError> {
        self.blocking(|db| {
            let txn = db.begin_read()?;
            let mut records = txn
                .open_table(AGENT_TOKENS)?
                .iter()?
                .map(|entry| decode::<AgentTokenRecord>(entry?.1.value()))
                .collect::<Result<Vec<_>, _>>()?;
            records.sort_by(|a, b| (a.created_at_ms, &a.id).cmp(&(b.created_at_ms, &b.id)));
            Ok(records)
        })
        .await
    }

    /// Marks the token with `id` revoked at `now_ms`; `None` when no token
    /// has that id. Revoking twice keeps the first time.
    pub async fn revoke_agent_token(
        &self,
        id: String,
        now_ms: u64,
    ) -> Result<Option<AgentTokenRecord>, StoreError> {
        self.blocking(move |db| {
            let txn = db.begin_write()?;
            let revoked = {
                let mut table = txn.open_table(AGENT_TOKENS)?;
                // Keyed by hash; the table is small, so a scan finds the id.
                let mut found = None;
                for entry in table.iter()? {
                    let (key, value) = entry?;
                    let record: AgentTokenRecord = decode(value.value())?;
                    if record.id == id {
                        found = Some((key.value().to_owned(), record));
                        break;
                    }
                }
                match found {
                    Some((key, mut record)) => {
                        record.revoked_at_ms.get_or_insert(now_ms);
                        table.insert(key.as_str(), encode(&record).as_slice())?;
                        Some(record)
                    }
                    None => None,
                }
            };
            txn.commit()?;
            Ok(revoked)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::AgentTokenState;

    fn token(id: &str, created: u64, expires: Option<u64>) -> AgentTokenRecord {
        AgentTokenRecord {
            id: id.into(),
            name: format!("{id}-name"),
            created_at_ms: created,
            expires_at_ms: expires,
            revoked_at_ms: None,
            connectors: None,
        }
    }

    #[test]
    fn state_reports_expiry_and_revocation() {
        let mut record = token("t", 1, Some(100));
        assert_eq!(record.state(99), AgentTokenState::Valid);
        assert_eq!(record.state(100), AgentTokenState::Expired);
        record.revoked_at_ms = Some(50);
        assert_eq!(record.state(10), AgentTokenState::Revoked);
        assert_eq!(token("t", 1, None).state(u64::MAX), AgentTokenState::Valid);
    }

    #[tokio::test]
    async fn insert_lookup_list_revoke_and_persist() {
        let dir = tempfile::tempdir().expect("test");
        let path = dir.path().join("floh.redb");
        {
            let store = RedbStore::open(&path).expect("test");
            store
                .insert_agent_token("h2".into(), token("b", 2, None))
                .await
                .expect("test");
            store
                .insert_agent_token("h1".into(), token("a", 1, Some(10)))
                .await
                .expect("test");
            let revoked = store.revoke_agent_token("b".into(), 7).await.expect("test");
            assert_eq!(revoked.and_then(|r| r.revoked_at_ms), Some(7));
            // A second revocation keeps the first time.
            let again = store.revoke_agent_token("b".into(), 9).await.expect("test");
            assert_eq!(again.and_then(|r| r.revoked_at_ms), Some(7));
            assert!(
                store
                    .revoke_agent_token("zz".into(), 9)
                    .await
                    .expect("test")
                    .is_none()
            );
        }
        let store = RedbStore::open(&path).expect("test");
        let ids: Vec<_> = store
            .agent_tokens()
            .await
            .expect("test")
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, ["a", "b"]);
        let b = store
            .agent_token("h2".into())
            .await
            .expect("test")
            .expect("test");
        assert_eq!(b.state(0), AgentTokenState::Revoked);
        assert!(
            store
                .agent_token("nope".into())
                .await
                .expect("test")
                .is_none()
        );
        // API token lookups never see agent tokens.
        assert!(store.token("h1".into()).await.expect("test").is_none());
    }
}

//! Agents the server has seen, so that a connector claimed by an agent stays
//! an agent's connector across server restarts: until the agent reconnects,
//! its commands fail with `AGENT_UNAVAILABLE` instead of running on the
//! server, where its private upstream is out of reach.

use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use super::{RedbStore, StoreError, decode, encode};
use crate::store::AgentRecord;

/// Agent records by agent id.
pub(super) const AGENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("agents");

impl RedbStore {
    /// Insert or replace an agent's record.
    pub async fn put_agent(&self, record: AgentRecord) -> Result<(), StoreError> {
        self.blocking(move |db| {
            let txn = db.begin_write()?;
            txn.open_table(AGENTS)?
                .insert(record.agent_id.as_str(), encode(&record).as_slice())?;
            txn.commit()?;
            Ok(())
        })
        .await
    }

    /// Forget an agent.
    pub async fn delete_agent(&self, agent_id: String) -> Result<(), StoreError> {
        self.blocking(move |db| {
            let txn = db.begin_write()?;
            txn.open_table(AGENTS)?.remove(agent_id.as_str())?;
            txn.commit()?;
            Ok(())
        })
        .await
    }

    /// Every remembered agent, by id.
    pub async fn agents(&self) -> Result<Vec<AgentRecord>, StoreError> {
        self.blocking(|db| {
            let txn = db.begin_read()?;
            txn.open_table(AGENTS)?
                .iter()?
                .map(|entry| decode::<AgentRecord>(entry?.1.value()))
                .collect()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn agents_are_put_listed_replaced_and_deleted() {
        let dir = tempfile::tempdir().expect("test");
        let store = RedbStore::open(&dir.path().join("db")).expect("test");
        let record = AgentRecord {
            agent_id: "a1".into(),
            agent_name: "A".into(),
            connector_names: vec!["ldap".into()],
            version: None,
            token_id: "atok_1".into(),
            connected_at_ms: 1,
            disconnected_at_ms: None,
        };
        store.put_agent(record.clone()).await.expect("test");
        let replaced = AgentRecord {
            disconnected_at_ms: Some(5),
            ..record.clone()
        };
        store.put_agent(replaced.clone()).await.expect("test");
        assert_eq!(store.agents().await.expect("test"), [replaced]);
        store.delete_agent("a1".into()).await.expect("test");
        assert!(store.agents().await.expect("test").is_empty());
    }
}

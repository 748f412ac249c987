//! What the agent relay keeps in PostgreSQL: which node holds each agent's
//! session (with a lease the holder renews), and the commands relayed to a
//! holder with their answers. A command row carries the command exactly as
//! the agent will receive it, its config already sealed to the agent's key:
//! no plaintext secret passes through the database. Rows are announced
//! inside the transaction that writes them (see `changes`).
//!
//! Relay rows live only as long as one command, and a command in flight
//! fails anyway when PostgreSQL restarts (the sender sees the holder's
//! lease lapse): their transactions commit without waiting for the WAL
//! flush (`synchronous_commit` off for them alone), which is most of a
//! relayed command's cost otherwise. Sessions and everything else keep
//! waiting for the flush.

use super::changes::{Change, announce};
use super::{PostgresStore, database, to_i64};
use crate::store::StoreError;

/// An agent session held by some node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldSession {
    /// The agent.
    pub agent_id: String,
    /// The node holding its connection.
    pub node_id: String,
    /// The connectors it serves.
    pub connectors: Vec<String>,
    /// Its public key (base64), which configs are sealed to.
    pub public_key: String,
    /// Until when the holder vouches for the session (Unix ms).
    pub lease_until_ms: u64,
}

/// A command waiting in the relay for its holder.
#[derive(Debug, Clone)]
pub struct RelayedCommand {
    /// The agent it is for.
    pub agent_id: String,
    /// The node waiting for the answer.
    pub sender_node: String,
    /// The command (JSON of `AgentCommand`).
    pub command: Vec<u8>,
    /// How long the holder waits for the agent, ms.
    pub wait_ms: u64,
}

impl PostgresStore {
    /// Record that `session.node_id` holds `session.agent_id` (replacing
    /// whichever node held it before).
    pub async fn hold_session(&self, session: HeldSession) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let txn = client.transaction().await.map_err(database)?;
        txn.execute(
            "INSERT INTO agent_sessions (agent_id, node_id, connectors, public_key, lease_until_ms)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (agent_id) DO UPDATE SET node_id = excluded.node_id,
                connectors = excluded.connectors, public_key = excluded.public_key,
                lease_until_ms = excluded.lease_until_ms",
            &[
                &session.agent_id,
                &session.node_id,
                &session.connectors,
                &session.public_key,
                &to_i64(session.lease_until_ms),
            ],
        )
        .await
        .map_err(database)?;
        announce(&txn, Change::Sessions).await?;
        txn.commit().await.map_err(database)?;
        Ok(())
    }

    /// Forget `agent_id`'s session if `node_id` still holds it.
    pub async fn release_session(&self, agent_id: &str, node_id: &str) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let txn = client.transaction().await.map_err(database)?;
        txn.execute(
            "DELETE FROM agent_sessions WHERE agent_id = $1 AND node_id = $2",
            &[&agent_id, &node_id],
        )
        .await
        .map_err(database)?;
        announce(&txn, Change::Sessions).await?;
        txn.commit().await.map_err(database)?;
        Ok(())
    }

    /// Renew the leases of the sessions `node_id` holds (`agent_ids`),
    /// and drop any other row naming `node_id` (a release that failed to
    /// be written must not be renewed forever).
    pub async fn renew_sessions(
        &self,
        node_id: &str,
        agent_ids: &[String],
        lease_until_ms: u64,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let txn = client.transaction().await.map_err(database)?;
        txn.execute(
            "UPDATE agent_sessions SET lease_until_ms = $3
             WHERE node_id = $1 AND agent_id = ANY($2)",
            &[&node_id, &agent_ids, &to_i64(lease_until_ms)],
        )
        .await
        .map_err(database)?;
        let stale = txn
            .execute(
                "DELETE FROM agent_sessions WHERE node_id = $1 AND NOT (agent_id = ANY($2))",
                &[&node_id, &agent_ids],
            )
            .await
            .map_err(database)?;
        if stale > 0 {
            announce(&txn, Change::Sessions).await?;
        }
        txn.commit().await.map_err(database)?;
        Ok(())
    }

    /// Every session some node holds, leases included (expired ones too:
    /// the reader compares with its clock when it uses them).
    pub async fn held_sessions(&self) -> Result<Vec<HeldSession>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT agent_id, node_id, connectors, public_key, lease_until_ms
                 FROM agent_sessions",
                &[],
            )
            .await
            .map_err(database)?;
        Ok(rows
            .iter()
            .map(|row| HeldSession {
                agent_id: row.get(0),
                node_id: row.get(1),
                connectors: row.get(2),
                public_key: row.get(3),
                lease_until_ms: u64::try_from(row.get::<_, i64>(4)).unwrap_or(0),
            })
            .collect())
    }

    /// The lease of `agent_id`'s session if `node_id` holds it.
    pub async fn session_lease(
        &self,
        agent_id: &str,
        node_id: &str,
    ) -> Result<Option<u64>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT lease_until_ms FROM agent_sessions WHERE agent_id = $1 AND node_id = $2",
                &[&agent_id, &node_id],
            )
            .await
            .map_err(database)?;
        Ok(row.map(|row| u64::try_from(row.get::<_, i64>(0)).unwrap_or(0)))
    }

    /// Queue `command` for `holder`'s agent `agent_id`; the row's id.
    pub async fn relay_command(
        &self,
        holder: &str,
        sender: &str,
        agent_id: &str,
        command: Vec<u8>,
        wait_ms: u64,
    ) -> Result<i64, StoreError> {
        let mut client = self.client().await?;
        let txn = client.transaction().await.map_err(database)?;
        without_flush(&txn).await?;
        let id: i64 = txn
            .query_one(
                "INSERT INTO agent_relay (holder_node, sender_node, agent_id, command, wait_ms)
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
                &[&holder, &sender, &agent_id, &command, &to_i64(wait_ms)],
            )
            .await
            .map_err(database)?
            .get(0);
        announce(
            &txn,
            Change::Relay {
                holder: holder.to_string(),
                id,
            },
        )
        .await?;
        txn.commit().await.map_err(database)?;
        Ok(id)
    }

    /// A relayed command not yet answered.
    pub async fn relayed_command(&self, id: i64) -> Result<Option<RelayedCommand>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT agent_id, sender_node, command, wait_ms FROM agent_relay
                 WHERE id = $1 AND answer IS NULL",
                &[&id],
            )
            .await
            .map_err(database)?;
        Ok(row.map(|row| RelayedCommand {
            agent_id: row.get(0),
            sender_node: row.get(1),
            command: row.get(2),
            wait_ms: u64::try_from(row.get::<_, i64>(3)).unwrap_or(0),
        }))
    }

    /// The relay rows waiting for `holder`'s answer.
    pub async fn unanswered_for(&self, holder: &str) -> Result<Vec<i64>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id FROM agent_relay WHERE holder_node = $1 AND answer IS NULL",
                &[&holder],
            )
            .await
            .map_err(database)?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    }

    /// Store the answer to relay row `id` and tell `sender`.
    pub async fn answer_relayed(
        &self,
        id: i64,
        sender: &str,
        answer: Vec<u8>,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let txn = client.transaction().await.map_err(database)?;
        without_flush(&txn).await?;
        txn.execute(
            "UPDATE agent_relay SET answer = $2 WHERE id = $1",
            &[&id, &answer],
        )
        .await
        .map_err(database)?;
        announce(
            &txn,
            Change::Answered {
                sender: sender.to_string(),
                id,
            },
        )
        .await?;
        txn.commit().await.map_err(database)?;
        Ok(())
    }

    /// Take the answer of relay row `id` (the row goes with it); `None`
    /// while there is none.
    pub async fn take_relay_answer(&self, id: i64) -> Result<Option<Vec<u8>>, StoreError> {
        let mut client = self.client().await?;
        let txn = client.transaction().await.map_err(database)?;
        without_flush(&txn).await?;
        let row = txn
            .query_opt(
                "DELETE FROM agent_relay WHERE id = $1 AND answer IS NOT NULL RETURNING answer",
                &[&id],
            )
            .await
            .map_err(database)?;
        txn.commit().await.map_err(database)?;
        Ok(row.map(|row| row.get(0)))
    }

    /// Drop relay row `id` (the sender gave up on it).
    pub async fn drop_relayed(&self, id: i64) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute("DELETE FROM agent_relay WHERE id = $1", &[&id])
            .await
            .map_err(database)?;
        Ok(())
    }
}

/// Commit `txn` without waiting for the WAL flush (relay rows only).
async fn without_flush(txn: &tokio_postgres::Transaction<'_>) -> Result<(), StoreError> {
    txn.batch_execute("SET LOCAL synchronous_commit TO OFF")
        .await
        .map_err(database)
}

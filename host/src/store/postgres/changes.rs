//! Changes between nodes: what one node wrote that others may have cached.
//!
//! A write that others cache sends `pg_notify` inside its own transaction,
//! so the notification is delivered exactly when the write commits, never
//! before and never lost after. Each node keeps one connection that
//! `LISTEN`s and turns notifications into [`Change`]s. When that
//! connection drops, the node cannot know what it missed: it announces
//! [`Change::Resync`] (drop every cache) and reconnects.
//!
//! Execution history sends nothing: it is read where it is asked for.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use tokio::sync::broadcast;
use tokio_postgres::{AsyncMessage, NoTls, Transaction};

use super::database;
use crate::store::StoreError;

/// The channel every node listens on.
const CHANNEL: &str = "floh_changes";

/// The application name of the listening connection (an operator, or a
/// test, can find it in `pg_stat_activity`).
pub const LISTENER_APPLICATION_NAME: &str = "floh-changes";

/// What changed on some node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A connector was created, updated or deleted.
    Connectors,
    /// An API token was revoked.
    Tokens,
    /// The agent token with this id was revoked.
    AgentTokenRevoked(String),
    /// An agent connected, disconnected or claimed other connectors.
    Agents,
    /// The agent with this id was removed (an admin forgot it).
    AgentRemoved(String),
    /// Agent sessions changed on some node (connected, disconnected).
    Sessions,
    /// A command for an agent held by node `holder` waits in relay row `id`.
    Relay {
        /// The node holding the agent's session.
        holder: String,
        /// The relay row.
        id: i64,
    },
    /// The answer to relay row `id`, sent by node `sender`, is there.
    Answered {
        /// The node that sent the command.
        sender: String,
        /// The relay row.
        id: i64,
    },
    /// Notifications may have been missed: drop every cache.
    Resync,
}

impl Change {
    fn payload(&self) -> String {
        match self {
            Self::Connectors => "connectors".into(),
            Self::Tokens => "tokens".into(),
            Self::AgentTokenRevoked(id) => format!("agent-token-revoked:{id}"),
            Self::Agents => "agents".into(),
            Self::AgentRemoved(id) => format!("agent-removed:{id}"),
            Self::Sessions => "sessions".into(),
            Self::Relay { holder, id } => format!("relay:{id}:{holder}"),
            Self::Answered { sender, id } => format!("answered:{id}:{sender}"),
            Self::Resync => "resync".into(),
        }
    }

    fn parse(payload: &str) -> Option<Self> {
        Some(match payload {
            "connectors" => Self::Connectors,
            "tokens" => Self::Tokens,
            "agents" => Self::Agents,
            "resync" => Self::Resync,
            "sessions" => Self::Sessions,
            other => {
                if let Some(id) = other.strip_prefix("agent-token-revoked:") {
                    Self::AgentTokenRevoked(id.into())
                } else if let Some(id) = other.strip_prefix("agent-removed:") {
                    Self::AgentRemoved(id.into())
                } else if let Some(rest) = other.strip_prefix("relay:") {
                    let (id, holder) = rest.split_once(':')?;
                    Self::Relay {
                        holder: holder.into(),
                        id: id.parse().ok()?,
                    }
                } else {
                    let (id, sender) = other.strip_prefix("answered:")?.split_once(':')?;
                    Self::Answered {
                        sender: sender.into(),
                        id: id.parse().ok()?,
                    }
                }
            }
        })
    }
}

/// Announce `change` when `txn` commits.
pub(super) async fn announce(txn: &Transaction<'_>, change: Change) -> Result<(), StoreError> {
    txn.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &change.payload()])
        .await
        .map_err(database)?;
    Ok(())
}

/// The changes other nodes (and this one) made, as they commit.
#[derive(Clone)]
pub struct ChangeFeed {
    sender: broadcast::Sender<Change>,
}

impl ChangeFeed {
    /// Start listening with `config`; the task runs until the process ends.
    pub(super) fn start(config: Arc<tokio_postgres::Config>) -> Self {
        let (sender, _) = broadcast::channel(1024);
        let feed = Self { sender };
        let task = feed.clone();
        tokio::spawn(async move { task.listen_forever(config).await });
        feed
    }

    /// A receiver of every change from now on. A receiver that lagged
    /// behind must treat that as [`Change::Resync`].
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.sender.subscribe()
    }

    async fn listen_forever(self, config: Arc<tokio_postgres::Config>) {
        let mut config = (*config).clone();
        config.application_name(LISTENER_APPLICATION_NAME);
        let mut retry = Duration::from_millis(100);
        let mut listened_before = false;
        loop {
            match self.listen_once(&config, &mut listened_before).await {
                Ok(()) => retry = Duration::from_millis(100),
                Err(error) => {
                    tracing::warn!(%error, "the PostgreSQL change feed dropped; resynchronising")
                }
            }
            // Whatever happened, changes may have been missed meanwhile.
            let _ = self.sender.send(Change::Resync);
            tokio::time::sleep(retry).await;
            retry = (retry * 2).min(Duration::from_secs(5));
        }
    }

    /// One listening connection, until it ends.
    async fn listen_once(
        &self,
        config: &tokio_postgres::Config,
        listened_before: &mut bool,
    ) -> Result<(), String> {
        let (client, mut connection) = config
            .connect(NoTls)
            .await
            .map_err(|error| error.to_string())?;
        let (notifications, mut receive) = futures::channel::mpsc::unbounded();
        let pump = tokio::spawn(async move {
            let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(message) = messages.next().await {
                match message {
                    Ok(AsyncMessage::Notification(notification)) => {
                        if notifications
                            .unbounded_send(notification.payload().to_string())
                            .is_err()
                        {
                            break;
                        }
                    }
                    Ok(_) => {}
                    Err(error) => return Err(error.to_string()),
                }
            }
            Ok(())
        });
        client
            .batch_execute(&format!("LISTEN {CHANNEL}"))
            .await
            .map_err(|error| error.to_string())?;
        if *listened_before {
            // What was cached between the drop and this LISTEN may have
            // missed a change: drop it again, now that nothing is missed.
            let _ = self.sender.send(Change::Resync);
            tracing::info!("the PostgreSQL change feed is back");
        }
        *listened_before = true;
        while let Some(payload) = receive.next().await {
            match Change::parse(&payload) {
                Some(change) => {
                    let _ = self.sender.send(change);
                }
                None => tracing::warn!(payload, "unknown change notification"),
            }
        }
        drop(client);
        pump.await
            .map_err(|error| error.to_string())?
            .and(Err("the listening connection closed".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_round_trip_through_their_payloads() {
        for change in [
            Change::Connectors,
            Change::Tokens,
            Change::AgentTokenRevoked("agt_1".into()),
            Change::Agents,
            Change::AgentRemoved("agt_2".into()),
            Change::Sessions,
            Change::Relay {
                holder: "node-a".into(),
                id: 7,
            },
            Change::Answered {
                sender: "node-b".into(),
                id: 8,
            },
            Change::Resync,
        ] {
            assert_eq!(Change::parse(&change.payload()), Some(change));
        }
        assert_eq!(Change::parse("agent-token:x"), None);
    }
}

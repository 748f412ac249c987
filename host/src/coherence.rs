//! Keeping this node's caches true to a store that other nodes write.
//!
//! With PostgreSQL, a connector updated, an API token revoked or an agent
//! token revoked on another node arrives here as a [`Change`] the moment
//! it commits, and the matching cache is dropped (or the agent registered
//! with the revoked token is disconnected). When the change feed drops,
//! [`Change::Resync`] drops every cache. Entries also expire on their own
//! (see `service::cache` and `auth`), so even a feed that stalled without
//! dropping cannot keep a stale entry for long.

use std::sync::Arc;

use tokio::sync::broadcast::error::RecvError;

use crate::agent::hub::AgentHub;
use crate::auth::TokenAuth;
use crate::service::ConnectorService;
use crate::store::{Change, ChangeFeed};

/// Apply `feed`'s changes to this node's caches until the process ends.
pub fn follow(
    feed: &ChangeFeed,
    service: &Arc<ConnectorService>,
    auth: TokenAuth,
    agents: Arc<AgentHub>,
) {
    let mut changes = feed.subscribe();
    let service = Arc::downgrade(service);
    tokio::spawn(async move {
        loop {
            let change = match changes.recv().await {
                Ok(change) => change,
                // Changes were dropped unread: treat as missed.
                Err(RecvError::Lagged(_)) => Change::Resync,
                Err(RecvError::Closed) => return,
            };
            let Some(service) = service.upgrade() else {
                return;
            };
            match change {
                Change::Connectors | Change::Agents => service.forget_cached_connectors(),
                Change::AgentRemoved(id) => {
                    if agents.forget_removed_elsewhere(&id) {
                        tracing::info!(agent = %id, "agent removed on another node");
                    }
                    service.forget_cached_connectors();
                }
                Change::Tokens => auth.forget_cached(),
                Change::AgentTokenRevoked(id) => {
                    let closed = agents.evict_token(&id);
                    if closed > 0 {
                        tracing::info!(token = %id, closed, "agent token revoked on another node");
                    }
                }
                // The agent relay follows these.
                Change::Sessions | Change::Relay { .. } | Change::Answered { .. } => {}
                Change::Resync => {
                    service.forget_cached_connectors();
                    auth.forget_cached();
                }
            }
        }
    });
}

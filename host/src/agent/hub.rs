//! The server's view of its agents: who is connected, which connectors each
//! serves, and the commands waiting for an answer.
//!
//! The socket task ([`super::endpoint`]) owns the WebSocket; the hub only
//! holds each session's outbox and pending commands. A command picks the
//! connected agent with the fewest commands in flight, so agents claiming the
//! same connector share the load, and an agent going away fails only the
//! commands it was holding (with `AGENT_DISCONNECTED`), never later ones.
//!
//! The hub remembers agents after they disconnect, across server restarts
//! (in the store), until an agent is removed with `DELETE /api/agents/:id`:
//! a connector claimed by a known agent is never silently run on the server
//! instead, where its private upstream is unreachable; it fails with
//! `AGENT_UNAVAILABLE`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::mpsc;
use x25519_dalek::PublicKey;

use super::protocol::{Registration, ServerMessage};
use super::relay::{NodeRelay, RemoteAgent};
use super::session::{AgentSession, Slot};
use crate::clock::now_ms;
use crate::store::{AgentRecord, Store};

/// Limits and timings of the agent channel.
#[derive(Debug, Clone)]
pub struct HubSettings {
    /// Commands one agent may hold at once; more fail with `AGENT_BUSY`.
    pub max_in_flight: usize,
    /// How often the server pings; an agent silent for three periods is
    /// dropped.
    pub heartbeat: Duration,
    /// How long a new socket has to send its registration.
    pub registration_timeout: Duration,
    /// The largest message accepted from an agent.
    pub max_message_bytes: usize,
    /// The largest frame accepted from an agent.
    pub max_frame_bytes: usize,
    /// How long after a command's own timeout the server still waits for
    /// the agent's answer (which then carries the agent's `TIMEOUT`).
    pub answer_grace: Duration,
    /// How long a command waits for an agent to (re)connect when every
    /// agent serving its connector is away: agents reconnect within about a
    /// second of a server restart, so commands in that gap still run.
    pub reconnect_grace: Duration,
}

impl Default for HubSettings {
    fn default() -> Self {
        Self {
            max_in_flight: 256,
            heartbeat: Duration::from_secs(10),
            registration_timeout: Duration::from_secs(10),
            max_message_bytes: 4 * 1024 * 1024,
            max_frame_bytes: 1024 * 1024,
            answer_grace: Duration::from_secs(2),
            reconnect_grace: Duration::from_secs(5),
        }
    }
}

/// What to do with a command for a connector.
pub enum Route {
    /// No agent has claimed the connector: run it on the server.
    Local,
    /// Send it to this agent (its in-flight slot is held until dropped).
    Agent(Slot),
    /// Relay it to this agent, connected to another node.
    Remote(RemoteAgent),
    /// Agents claim the connector but none can take the command now.
    Unavailable(Unavailable),
}

/// Why no agent can take a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unavailable {
    /// Every claiming agent is disconnected.
    #[error(
        "connector `{connector}` is served by agent(s) {} and none is connected",
        .agents.join(", ")
    )]
    NoneConnected {
        /// The connector.
        connector: String,
        /// The agents that claimed it.
        agents: Vec<String>,
    },
    /// Every connected claiming agent is at its in-flight limit.
    #[error("every agent serving connector `{connector}` has {limit} commands in flight")]
    Busy {
        /// The connector.
        connector: String,
        /// The per-agent limit.
        limit: usize,
    },
}

/// What `GET /api/agents` shows of one agent.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentStatus {
    /// The agent's id.
    pub agent_id: String,
    /// Its display name.
    pub agent_name: String,
    /// `connected` or `disconnected`.
    pub status: &'static str,
    /// The connectors it serves.
    pub connector_names: Vec<String>,
    /// Its software version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The id of the agent token it registered with.
    pub token_id: String,
    /// When the current (or last) connection was registered.
    pub connected_at_ms: u64,
    /// When it disconnected, if it is not connected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disconnected_at_ms: Option<u64>,
    /// The last frame or pong received.
    pub last_heartbeat_ms: u64,
    /// Commands sent and not yet answered.
    pub in_flight: usize,
    /// Commands answered with `success: true` (this connection).
    pub completed: u64,
    /// Commands failed or unanswered (this connection).
    pub failed: u64,
}

/// What the hub knows of one agent.
enum AgentEntry {
    /// Connected now, or disconnected since this server started (with the
    /// figures of that connection).
    Session {
        session: Arc<AgentSession>,
        disconnected_at_ms: Option<u64>,
    },
    /// Known from an earlier run of the server; not connected since.
    Remembered(AgentRecord),
}

impl AgentEntry {
    fn connected(&self) -> Option<&Arc<AgentSession>> {
        match self {
            Self::Session {
                session,
                disconnected_at_ms: None,
            } => Some(session),
            _ => None,
        }
    }

    fn claims(&self) -> &[String] {
        match self {
            Self::Session { session, .. } => &session.registration.connector_names,
            Self::Remembered(record) => &record.connector_names,
        }
    }

    fn status(&self) -> AgentStatus {
        match self {
            Self::Session {
                session,
                disconnected_at_ms,
            } => session.status(*disconnected_at_ms),
            Self::Remembered(record) => AgentStatus {
                agent_id: record.agent_id.clone(),
                agent_name: record.agent_name.clone(),
                status: "disconnected",
                connector_names: record.connector_names.clone(),
                version: record.version.clone(),
                token_id: record.token_id.clone(),
                connected_at_ms: record.connected_at_ms,
                disconnected_at_ms: record.disconnected_at_ms,
                last_heartbeat_ms: record.disconnected_at_ms.unwrap_or(record.connected_at_ms),
                in_flight: 0,
                completed: 0,
                failed: 0,
            },
        }
    }
}

/// A change to write to the store, in order.
enum Change {
    Put(AgentRecord),
    Delete(String),
}

/// The registry of agents.
pub struct AgentHub {
    settings: HubSettings,
    agents: Mutex<BTreeMap<String, AgentEntry>>,
    serials: AtomicU64,
    /// Rotates the first candidate, so equally loaded agents take turns.
    turns: AtomicUsize,
    /// Where agent records go, when the hub has a store.
    changes: Option<mpsc::UnboundedSender<Change>>,
    /// Wakes commands waiting for an agent to connect.
    connected: tokio::sync::Notify,
    /// Agents connected to other nodes (a shared PostgreSQL store).
    relay: OnceLock<Arc<NodeRelay>>,
}

impl AgentHub {
    /// An empty hub.
    pub fn new(settings: HubSettings) -> Self {
        Self {
            settings,
            agents: Mutex::new(BTreeMap::new()),
            serials: AtomicU64::new(0),
            turns: AtomicUsize::new(0),
            changes: None,
            connected: tokio::sync::Notify::new(),
            relay: OnceLock::new(),
        }
    }

    /// Reach agents connected to other nodes through `relay` (and tell
    /// them about the agents connected here).
    pub fn relay_through(&self, relay: Arc<NodeRelay>) {
        let _ = self.relay.set(relay);
    }

    /// A slot on the connected agent `agent_id` (a command relayed by
    /// another node); `None` when it is not connected here or at its limit.
    pub fn reserve(&self, agent_id: &str) -> Option<Slot> {
        let agents = self.agents();
        let session = agents.get(agent_id)?.connected()?;
        session.reserve(self.settings.max_in_flight)
    }

    /// Keep agent records in `store`, starting from `remembered` (what an
    /// earlier run of the server saw). Writes happen in order on a task of
    /// their own, off the execution path.
    pub fn remembering(mut self, store: Store, remembered: Vec<AgentRecord>) -> Self {
        let mut agents = self.agents();
        for record in remembered {
            agents.insert(record.agent_id.clone(), AgentEntry::Remembered(record));
        }
        drop(agents);
        let (changes, mut pending) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(change) = pending.recv().await {
                let written = match change {
                    Change::Put(record) => store.put_agent(record).await,
                    Change::Delete(agent_id) => store.delete_agent(agent_id).await,
                };
                if let Err(error) = written {
                    tracing::warn!(%error, "could not record an agent");
                }
            }
        });
        self.changes = Some(changes);
        self
    }

    fn record(&self, change: Change) {
        if let Some(changes) = &self.changes {
            let _ = changes.send(change);
        }
    }

    /// The hub's limits and timings.
    pub fn settings(&self) -> &HubSettings {
        &self.settings
    }

    fn agents(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, AgentEntry>> {
        self.agents.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Add a registered agent; its outbox receiver goes to the socket task.
    /// An earlier connection with the same agent id is closed (a restarted
    /// agent can reconnect before the server notices the old socket died).
    pub fn connect(
        &self,
        registration: Registration,
        token_id: String,
        public_key: PublicKey,
    ) -> (Arc<AgentSession>, mpsc::UnboundedReceiver<ServerMessage>) {
        let serial = self.serials.fetch_add(1, Ordering::Relaxed);
        let (session, outgoing) = AgentSession::open(registration, token_id, public_key, serial);
        let entry = AgentEntry::Session {
            session: session.clone(),
            disconnected_at_ms: None,
        };
        self.record(Change::Put(session.record(None)));
        if let Some(relay) = self.relay.get() {
            let registration = &session.registration;
            relay.held(
                &registration.agent_id,
                &registration.connector_names,
                &registration.public_key,
            );
        }
        let replaced = self
            .agents()
            .insert(session.registration.agent_id.clone(), entry);
        if let Some(old) = replaced.as_ref().and_then(AgentEntry::connected) {
            old.evict(
                "REPLACED",
                "a new connection registered with the same agentId".into(),
            );
        }
        self.connected.notify_waiters();
        (session, outgoing)
    }

    /// Remove a session whose socket ended. Its pending commands fail with
    /// `AGENT_DISCONNECTED` (their answer channels are dropped).
    pub fn disconnect(&self, session: &Arc<AgentSession>) {
        let mut agents = self.agents();
        if let Some(AgentEntry::Session {
            session: current,
            disconnected_at_ms,
        }) = agents.get_mut(&session.registration.agent_id)
            && current.serial() == session.serial()
        {
            let now = now_ms();
            *disconnected_at_ms = Some(now);
            self.record(Change::Put(session.record(Some(now))));
            if let Some(relay) = self.relay.get() {
                relay.released(&session.registration.agent_id);
            }
        }
        drop(agents);
        session.close();
    }

    /// Where a command for `connector` goes, waiting up to `patience`
    /// (at most the reconnect grace) for an agent when none is connected.
    pub async fn route_waiting(&self, connector: &str, patience: Duration) -> Route {
        let deadline = tokio::time::Instant::now() + patience.min(self.settings.reconnect_grace);
        loop {
            // Subscribe before looking, so a connection in between is seen.
            let connected = self.connected.notified();
            let elsewhere = self.relay.get().map(|relay| relay.sessions_changed());
            let route = match (self.route(connector), self.relay.get()) {
                (
                    local @ (Route::Local | Route::Unavailable(Unavailable::NoneConnected { .. })),
                    Some(relay),
                ) => match relay.route(connector).await {
                    Ok(Some(remote)) => Route::Remote(remote),
                    Ok(None) | Err(None) => local,
                    Err(Some(reason)) => match local {
                        Route::Local => Route::Unavailable(reason),
                        claimed_here => claimed_here,
                    },
                },
                (route, _) => route,
            };
            match route {
                Route::Unavailable(Unavailable::NoneConnected { .. })
                    if tokio::time::Instant::now() < deadline =>
                {
                    match elsewhere {
                        Some(elsewhere) => {
                            tokio::select! {
                                _ = tokio::time::sleep_until(deadline) => {}
                                _ = connected => {}
                                _ = elsewhere => {}
                            }
                        }
                        None => {
                            let _ = tokio::time::timeout_at(deadline, connected).await;
                        }
                    }
                }
                route => return route,
            }
        }
    }

    /// Where a command for `connector` goes now.
    pub fn route(&self, connector: &str) -> Route {
        let agents = self.agents();
        let mut claimed_by = Vec::new();
        let mut connected = Vec::new();
        for (id, entry) in agents.iter() {
            if !entry.claims().iter().any(|name| name == connector) {
                continue;
            }
            claimed_by.push(id.clone());
            if let Some(session) = entry.connected()
                && !session.is_draining()
            {
                connected.push(session);
            }
        }
        if claimed_by.is_empty() {
            return Route::Local;
        }
        // The least loaded agent; ties go to each agent in turn.
        let turn = self.turns.fetch_add(1, Ordering::Relaxed);
        let count = connected.len().max(1);
        let best = (0..connected.len())
            .map(|i| connected[(turn + i) % count])
            .min_by_key(|session| session.in_flight());
        let Some(session) = best else {
            return Route::Unavailable(Unavailable::NoneConnected {
                connector: connector.to_string(),
                agents: claimed_by,
            });
        };
        let limit = self.settings.max_in_flight;
        match session.reserve(limit) {
            Some(slot) => Route::Agent(slot),
            None => Route::Unavailable(Unavailable::Busy {
                connector: connector.to_string(),
                limit,
            }),
        }
    }

    /// Every agent the hub knows, by id.
    pub fn list(&self) -> Vec<AgentStatus> {
        self.agents().values().map(AgentEntry::status).collect()
    }

    /// Close the connections registered with agent token `token_id` (it was
    /// revoked). Returns how many were closed.
    pub fn evict_token(&self, token_id: &str) -> usize {
        let agents = self.agents();
        let sessions = agents
            .values()
            .filter_map(AgentEntry::connected)
            .filter(|session| session.token_id == token_id);
        let mut closed = 0;
        for session in sessions {
            session.evict("TOKEN_REVOKED", "agent token revoked".into());
            closed += 1;
        }
        closed
    }

    /// Forget an agent (closing its connection): its connectors run on the
    /// server again. `false` when the hub does not know it.
    pub fn remove(&self, agent_id: &str) -> bool {
        let removed = self.forget_removed_elsewhere(agent_id);
        if removed {
            self.record(Change::Delete(agent_id.to_string()));
        }
        removed
    }

    /// Forget an agent another node removed from the shared store (its
    /// record is gone already), closing its connection here if it has one.
    pub fn forget_removed_elsewhere(&self, agent_id: &str) -> bool {
        let removed = self.agents().remove(agent_id);
        if let Some(session) = removed.as_ref().and_then(AgentEntry::connected) {
            session.evict("AGENT_REMOVED", "the agent was removed by an admin".into());
        }
        removed.is_some()
    }
}

/// Remove agent `agent_id` wherever it is known: from this hub, or, on a
/// shared store, from the store when another node holds or remembers it
/// (that node forgets it and closes its connection on the notification).
/// Whether any node knew it.
pub async fn remove_anywhere(
    hub: &AgentHub,
    store: &Store,
    agent_id: &str,
) -> Result<bool, crate::store::StoreError> {
    if hub.remove(agent_id) {
        return Ok(true);
    }
    let elsewhere = store.postgres().is_some()
        && store
            .agents()
            .await?
            .iter()
            .any(|agent| agent.agent_id == agent_id);
    if elsewhere {
        store.delete_agent(agent_id.to_string()).await?;
    }
    Ok(elsewhere)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::protocol::AgentCommand;
    use crate::agent::session::DispatchError;

    fn registration(id: &str, connectors: &[&str]) -> Registration {
        Registration {
            agent_id: id.into(),
            agent_name: id.into(),
            connector_names: connectors.iter().map(|c| c.to_string()).collect(),
            api_token: "flo_agent_secret".into(),
            public_key: String::new(),
            version: None,
        }
    }

    fn hub(max_in_flight: usize) -> AgentHub {
        AgentHub::new(HubSettings {
            max_in_flight,
            ..HubSettings::default()
        })
    }

    fn key() -> PublicKey {
        PublicKey::from([9u8; 32])
    }

    fn agent_of(route: &Route) -> Option<String> {
        match route {
            Route::Agent(slot) => Some(slot.session().registration.agent_id.clone()),
            _ => None,
        }
    }

    #[test]
    fn unclaimed_connectors_run_locally() {
        let hub = hub(4);
        let _a = hub.connect(registration("a", &["ldap"]), "t".into(), key());
        assert!(matches!(hub.route("crm"), Route::Local));
        assert_eq!(agent_of(&hub.route("ldap")).as_deref(), Some("a"));
    }

    #[test]
    fn commands_go_to_the_least_loaded_agent_and_respect_the_limit() {
        let hub = hub(2);
        let _a = hub.connect(registration("a", &["ldap"]), "t".into(), key());
        let _b = hub.connect(registration("b", &["ldap"]), "t".into(), key());
        let first = hub.route("ldap");
        let second = hub.route("ldap");
        let mut used = vec![agent_of(&first), agent_of(&second)];
        used.sort();
        assert_eq!(used, [Some("a".to_string()), Some("b".to_string())]);
        let third = hub.route("ldap");
        let fourth = hub.route("ldap");
        assert!(agent_of(&fourth).is_some());
        assert!(matches!(
            hub.route("ldap"),
            Route::Unavailable(Unavailable::Busy { limit: 2, .. })
        ));
        // A finished command frees its slot.
        drop(third);
        assert!(agent_of(&hub.route("ldap")).is_some());
    }

    #[test]
    fn a_draining_agent_gets_nothing_new() {
        let hub = hub(4);
        let (a, _oa) = hub.connect(registration("a", &["ldap"]), "t".into(), key());
        let _b = hub.connect(registration("b", &["ldap"]), "t".into(), key());
        a.drain();
        for _ in 0..4 {
            assert_eq!(agent_of(&hub.route("ldap")).as_deref(), Some("b"));
        }
        assert_eq!(hub.list()[0].status, "draining");
    }

    #[test]
    fn equally_loaded_agents_take_turns() {
        let hub = hub(4);
        let _a = hub.connect(registration("a", &["ldap"]), "t".into(), key());
        let _b = hub.connect(registration("b", &["ldap"]), "t".into(), key());
        let picks: Vec<_> = (0..4).map(|_| agent_of(&hub.route("ldap"))).collect();
        let a = picks.iter().filter(|p| p.as_deref() == Some("a")).count();
        assert_eq!(a, 2, "{picks:?}");
    }

    #[tokio::test]
    async fn a_command_waits_briefly_for_an_agent_to_come_back() {
        let hub = Arc::new(hub(4));
        let (session, _outgoing) = hub.connect(registration("a", &["ldap"]), "t".into(), key());
        hub.disconnect(&session);
        // Nobody comes back: unavailable after the patience given.
        let started = tokio::time::Instant::now();
        let route = hub.route_waiting("ldap", Duration::from_millis(100)).await;
        assert!(matches!(
            route,
            Route::Unavailable(Unavailable::NoneConnected { .. })
        ));
        assert!(started.elapsed() >= Duration::from_millis(100));
        // The agent reconnects while a command waits: it gets the command.
        let waiting = {
            let hub = hub.clone();
            tokio::spawn(async move {
                let route = hub.route_waiting("ldap", Duration::from_secs(30)).await;
                agent_of(&route)
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        let _back = hub.connect(registration("a", &["ldap"]), "t".into(), key());
        let routed = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("woken by the connection")
            .expect("test");
        assert_eq!(routed.as_deref(), Some("a"));
    }

    #[test]
    fn a_disconnected_agent_keeps_its_claim() {
        let hub = hub(4);
        let (session, _outgoing) = hub.connect(registration("a", &["ldap"]), "t".into(), key());
        hub.disconnect(&session);
        match hub.route("ldap") {
            Route::Unavailable(Unavailable::NoneConnected { agents, .. }) => {
                assert_eq!(agents, ["a"]);
            }
            _ => panic!("expected AGENT_UNAVAILABLE"),
        }
        let listed = hub.list();
        assert_eq!(listed[0].status, "disconnected");
        assert!(listed[0].disconnected_at_ms.is_some());
        // Removing the agent gives the connector back to the server.
        assert!(hub.remove("a"));
        assert!(matches!(hub.route("ldap"), Route::Local));
    }

    #[tokio::test]
    async fn a_disconnect_fails_pending_commands_at_once() {
        let hub = Arc::new(hub(4));
        let (session, mut outgoing) = hub.connect(registration("a", &["ldap"]), "t".into(), key());
        let Route::Agent(slot) = hub.route("ldap") else {
            panic!("expected the agent");
        };
        let command: AgentCommand = serde_json::from_value(serde_json::json!({
            "commandId": "c1", "connectorId": "id", "connectorName": "ldap",
            "executionModel": "script", "command": "test",
            "config": {"ephemeralPublicKey": "e", "nonce": "n", "ciphertext": "c"},
            "timeoutMs": 60000
        }))
        .expect("test");
        let waiting =
            tokio::spawn(async move { slot.call(command, Duration::from_secs(60)).await });
        assert!(matches!(
            outgoing.recv().await,
            Some(ServerMessage::Command(_))
        ));
        hub.disconnect(&session);
        let outcome = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("answered at once")
            .expect("test");
        assert_eq!(outcome, Err(DispatchError::Disconnected("a".into())));
        assert_eq!(hub.list()[0].failed, 1);
        assert_eq!(hub.list()[0].in_flight, 0);
    }

    #[tokio::test]
    async fn claims_survive_a_restart_through_the_store() {
        let dir = tempfile::tempdir().expect("test");
        let store = Store::open(&dir.path().join("db")).expect("test");
        let first = hub(4).remembering(store.clone(), Vec::new());
        let (session, _outgoing) = first.connect(registration("a", &["ldap"]), "t".into(), key());
        first.disconnect(&session);
        let mut remembered = Vec::new();
        for _ in 0..100 {
            remembered = store.agents().await.expect("test");
            if remembered
                .first()
                .is_some_and(|r| r.disconnected_at_ms.is_some())
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(remembered.len(), 1);
        assert_eq!(remembered[0].connector_names, ["ldap"]);
        assert!(remembered[0].disconnected_at_ms.is_some());

        let restarted = hub(4).remembering(store.clone(), remembered);
        assert!(matches!(
            restarted.route("ldap"),
            Route::Unavailable(Unavailable::NoneConnected { .. })
        ));
        assert_eq!(restarted.list()[0].status, "disconnected");
        assert!(restarted.remove("a"));
        assert!(matches!(restarted.route("ldap"), Route::Local));
        for _ in 0..100 {
            if store.agents().await.expect("test").is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the removal was not written");
    }

    #[test]
    fn reconnecting_evicts_the_old_connection_and_revocation_evicts_by_token() {
        let hub = hub(4);
        let (old, _o1) = hub.connect(registration("a", &["ldap"]), "t1".into(), key());
        let (new, _o2) = hub.connect(registration("a", &["ldap"]), "t2".into(), key());
        assert_eq!(
            old.evictions().borrow().as_ref().map(|e| e.code),
            Some("REPLACED")
        );
        // The old socket ending does not unregister the new one.
        hub.disconnect(&old);
        assert_eq!(hub.list()[0].status, "connected");
        assert_eq!(hub.evict_token("t1"), 0);
        assert_eq!(hub.evict_token("t2"), 1);
        assert_eq!(
            new.evictions().borrow().as_ref().map(|e| e.code),
            Some("TOKEN_REVOKED")
        );
    }
}

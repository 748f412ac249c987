//! Agents across nodes: a command that reaches one node for an agent
//! connected to another is relayed through PostgreSQL.
//!
//! ```text
//!  node B (got the command)            PostgreSQL               node A (holds the agent)
//!  seal config to the agent's key
//!  INSERT agent_relay + NOTIFY  ──────▶ row ─── relay:ID:A ─────▶ read row, send to agent
//!                                                                 agent answers
//!  take answer, delete row  ◀──── answered:ID:B ◀── UPDATE answer + NOTIFY
//! ```
//!
//! Each node records the sessions it holds in `agent_sessions`, with a
//! lease it renews every third of the lease. The node that got a command
//! picks, among the live sessions of every node, the agent with the fewest
//! commands it has sent there, exactly as the hub picks among local ones.
//! While it waits for the answer it checks the holder's lease: a holder (or
//! agent) that died with the command in flight fails it with
//! `AGENT_DISCONNECTED` within the command's timeout plus the lease, never
//! a hang. Commands carry their config sealed to the agent, as on the
//! agent's own socket, so no plaintext secret passes through the database.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, mpsc};

use super::hub::{AgentHub, Unavailable};
use super::protocol::{AgentCommand, AgentResponse};
use super::session::DispatchError;
use crate::clock::now_ms;
use crate::store::{Change, HeldSession, PostgresStore, Store, StoreError};

/// How long a node's view of other nodes' sessions is used before it is
/// read again (changes also clear it at once).
const VIEW_MAX_AGE: Duration = Duration::from_secs(1);

/// How often a waiting sender checks that the holder is still there.
const HOLDER_CHECK: Duration = Duration::from_millis(250);

/// What happened to a relayed command on the holding node.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "outcome")]
enum RelayAnswer {
    /// The agent answered.
    Answered { response: Box<AgentResponse> },
    /// The agent's connection ended with the command in flight, or the
    /// holder no longer holds the agent.
    Disconnected,
    /// The agent did not answer in time.
    NoAnswer { waited_ms: u64 },
}

/// A session this node started or stopped holding.
enum HeldChange {
    Held(HeldSession),
    Released(String),
}

/// Sessions of other nodes, and the connectors any agent claims.
#[derive(Default)]
struct View {
    loaded_at: Option<Instant>,
    sessions: Vec<HeldSession>,
    claims: HashMap<String, Vec<String>>,
}

/// This node's end of the relay.
pub struct NodeRelay {
    node_id: String,
    /// The shared store (the agents' claims).
    shared: Store,
    /// The same store's relay tables.
    store: PostgresStore,
    hub: Weak<AgentHub>,
    lease: Duration,
    view: tokio::sync::Mutex<View>,
    /// Senders waiting for answers, by relay row.
    answers: Mutex<HashMap<i64, Arc<Notify>>>,
    /// Relay rows this node is running for others (a row is run once even
    /// when a resynchronisation finds it again).
    serving: Mutex<HashSet<i64>>,
    /// Sessions held and released here, written in order by one task.
    held: mpsc::UnboundedSender<HeldChange>,
    /// Commands this node has relayed and not seen answered, by agent.
    outstanding: Arc<Mutex<HashMap<String, usize>>>,
    turns: AtomicUsize,
    /// Wakes commands waiting for an agent when sessions change anywhere.
    sessions_changed: Notify,
}

/// A command's way to an agent held by another node.
pub struct RemoteAgent {
    relay: Arc<NodeRelay>,
    session: HeldSession,
}

impl Drop for RemoteAgent {
    fn drop(&mut self) {
        let mut outstanding = self
            .relay
            .outstanding
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(count) = outstanding.get_mut(&self.session.agent_id) {
            *count = count.saturating_sub(1);
        }
    }
}

impl RemoteAgent {
    /// The agent's id.
    pub fn agent_id(&self) -> &str {
        &self.session.agent_id
    }

    /// The agent's public key (base64).
    pub fn public_key(&self) -> &str {
        &self.session.public_key
    }

    /// Send `command` through the holder; its answer, waiting at most
    /// `wait` for the agent plus the lease for a holder that went away.
    pub async fn call(
        &self,
        command: AgentCommand,
        wait: Duration,
    ) -> Result<AgentResponse, DispatchError> {
        self.relay.call(&self.session, command, wait).await
    }
}

impl NodeRelay {
    /// Start this node's relay on `store`'s PostgreSQL: follow the change
    /// feed, renew the leases. `None` for a redb store (one node).
    pub fn start(shared: Store, hub: &Arc<AgentHub>) -> Option<Arc<Self>> {
        let store = shared.postgres()?.clone();
        let lease = hub.settings().heartbeat * 3;
        let (held, changes) = mpsc::unbounded_channel();
        let relay = Arc::new(Self {
            node_id: crate::ids::new_id("node"),
            shared,
            store,
            hub: Arc::downgrade(hub),
            lease,
            view: tokio::sync::Mutex::new(View::default()),
            answers: Mutex::default(),
            serving: Mutex::default(),
            held,
            outstanding: Arc::default(),
            turns: AtomicUsize::new(0),
            sessions_changed: Notify::new(),
        });
        tracing::info!(node = %relay.node_id, "agent relay started");
        tokio::spawn(Self::follow(Arc::downgrade(&relay)));
        tokio::spawn(Self::renew(Arc::downgrade(&relay)));
        tokio::spawn(Self::write_held(
            relay.store.clone(),
            relay.node_id.clone(),
            changes,
        ));
        Some(relay)
    }

    /// This node's id (new at every start).
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// Record that this node now holds `agent_id`'s session.
    pub fn held(&self, agent_id: &str, connectors: &[String], public_key: &str) {
        let _ = self.held.send(HeldChange::Held(HeldSession {
            agent_id: agent_id.to_string(),
            node_id: self.node_id.clone(),
            connectors: connectors.to_vec(),
            public_key: public_key.to_string(),
            lease_until_ms: now_ms() + self.lease.as_millis() as u64,
        }));
    }

    /// Record that this node no longer holds `agent_id`'s session.
    pub fn released(&self, agent_id: &str) {
        let _ = self.held.send(HeldChange::Released(agent_id.to_string()));
    }

    /// Write sessions held and released, in the order they happened (an
    /// agent that reconnects at once must not be released after it was
    /// held again).
    async fn write_held(
        store: PostgresStore,
        node_id: String,
        mut changes: mpsc::UnboundedReceiver<HeldChange>,
    ) {
        while let Some(change) = changes.recv().await {
            let written = match change {
                HeldChange::Held(session) => store.hold_session(session).await,
                HeldChange::Released(agent_id) => store.release_session(&agent_id, &node_id).await,
            };
            if let Err(error) = written {
                tracing::warn!(%error, "could not record an agent session for other nodes");
            }
        }
    }

    /// Resolves when sessions change on some node.
    pub fn sessions_changed(&self) -> tokio::sync::futures::Notified<'_> {
        self.sessions_changed.notified()
    }

    /// The remote agent for a command for `connector`, when another node
    /// holds a live session of one; else what the hub decided locally,
    /// unless any agent claims the connector (then it is unavailable, not
    /// local: its upstream is private).
    pub async fn route(
        self: &Arc<Self>,
        connector: &str,
    ) -> Result<Option<RemoteAgent>, Option<Unavailable>> {
        let now = now_ms();
        let view = match self.view().await {
            Ok(view) => view,
            Err(error) => {
                tracing::warn!(%error, "cannot read other nodes' agent sessions");
                return Err(None);
            }
        };
        let live: Vec<&HeldSession> = view
            .sessions
            .iter()
            .filter(|s| s.node_id != self.node_id && s.lease_until_ms > now)
            .filter(|s| s.connectors.iter().any(|c| c == connector))
            .collect();
        if live.is_empty() {
            return match view.claims.get(connector) {
                Some(agents) => Err(Some(Unavailable::NoneConnected {
                    connector: connector.to_string(),
                    agents: agents.clone(),
                })),
                None => Err(None),
            };
        }
        let mut outstanding = self.outstanding.lock().unwrap_or_else(|p| p.into_inner());
        let turn = self.turns.fetch_add(1, Ordering::Relaxed);
        let best = (0..live.len())
            .map(|i| live[(turn + i) % live.len()])
            .min_by_key(|s| outstanding.get(&s.agent_id).copied().unwrap_or(0))
            .cloned();
        let Some(session) = best else {
            return Err(None);
        };
        *outstanding.entry(session.agent_id.clone()).or_default() += 1;
        Ok(Some(RemoteAgent {
            relay: self.clone(),
            session,
        }))
    }

    /// The view of other nodes' sessions and every agent's claims.
    async fn view(&self) -> Result<tokio::sync::MutexGuard<'_, View>, StoreError> {
        let mut view = self.view.lock().await;
        if view
            .loaded_at
            .is_none_or(|loaded| loaded.elapsed() > VIEW_MAX_AGE)
        {
            match self.load_view().await {
                Ok(fresh) => *view = fresh,
                // A view read before stays better than none: without it an
                // agent's connector could run here, away from its upstream.
                Err(error) if view.loaded_at.is_some() || !view.claims.is_empty() => {
                    tracing::warn!(%error, "cannot refresh other nodes' agent sessions; using the last view");
                }
                Err(error) => return Err(error),
            }
        }
        Ok(view)
    }

    async fn load_view(&self) -> Result<View, StoreError> {
        let sessions = self.store.held_sessions().await?;
        let mut claims: HashMap<String, Vec<String>> = HashMap::new();
        for agent in self.shared.agents().await? {
            for connector in agent.connector_names {
                claims
                    .entry(connector)
                    .or_default()
                    .push(agent.agent_id.clone());
            }
        }
        Ok(View {
            loaded_at: Some(Instant::now()),
            sessions,
            claims,
        })
    }

    async fn call(
        &self,
        session: &HeldSession,
        command: AgentCommand,
        wait: Duration,
    ) -> Result<AgentResponse, DispatchError> {
        let agent = session.agent_id.clone();
        let disconnected = || DispatchError::Disconnected(agent.clone());
        let bytes = serde_json::to_vec(&command).map_err(|_| disconnected())?;
        let id = self
            .store
            .relay_command(
                &session.node_id,
                &self.node_id,
                &agent,
                bytes,
                wait.as_millis() as u64,
            )
            .await
            .map_err(|error| {
                tracing::warn!(%error, "could not relay a command");
                disconnected()
            })?;
        let answered = Arc::new(Notify::new());
        self.answers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, answered.clone());
        let give_up = Instant::now() + wait + self.lease;
        let result = loop {
            // Wait for the answer's notification (or the next check), then
            // look: the answer may also have landed before the waiter did,
            // or its notification been missed (a resync wakes us too).
            let _ = tokio::time::timeout(HOLDER_CHECK, answered.notified()).await;
            match self.store.take_relay_answer(id).await {
                Ok(Some(answer)) => break decode_answer(&answer, &agent),
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, "could not read a relayed answer"),
            }
            let holder_gone = match self.store.session_lease(&agent, &session.node_id).await {
                Ok(lease) => lease.is_none_or(|until| until <= now_ms()),
                Err(_) => false,
            };
            if holder_gone {
                break Err(disconnected());
            }
            if Instant::now() >= give_up {
                break Err(DispatchError::NoAnswer {
                    agent: agent.clone(),
                    waited: wait,
                });
            }
        };
        self.answers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
        if result.is_err() {
            let _ = self.store.drop_relayed(id).await;
        }
        result
    }

    /// Follow the change feed until the relay is dropped.
    async fn follow(relay: Weak<Self>) {
        let Some(mut changes) = relay.upgrade().map(|r| r.store.changes().subscribe()) else {
            return;
        };
        loop {
            let change = match changes.recv().await {
                Ok(change) => change,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => Change::Resync,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            };
            let Some(relay) = relay.upgrade() else { return };
            match change {
                Change::Sessions | Change::Agents | Change::AgentRemoved(_) | Change::Resync => {
                    relay.view.lock().await.loaded_at = None;
                    relay.sessions_changed.notify_waiters();
                    if change == Change::Resync {
                        relay.wake_all_senders();
                        relay.clone().serve_missed().await;
                    }
                }
                Change::Relay { holder, id } if holder == relay.node_id => {
                    tokio::spawn(relay.clone().serve(id));
                }
                Change::Answered { sender, id } if sender == relay.node_id => {
                    if let Some(waiter) = relay
                        .answers
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .get(&id)
                    {
                        waiter.notify_one();
                    }
                }
                _ => {}
            }
        }
    }

    /// Notifications may have been missed: every waiting sender looks again.
    fn wake_all_senders(&self) {
        for waiter in self
            .answers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
        {
            waiter.notify_one();
        }
    }

    /// Notifications may have been missed: run the rows waiting for us.
    async fn serve_missed(self: Arc<Self>) {
        match self.store.unanswered_for(&self.node_id).await {
            Ok(ids) => {
                for id in ids {
                    tokio::spawn(self.clone().serve(id));
                }
            }
            Err(error) => tracing::warn!(%error, "could not look for missed relayed commands"),
        }
    }

    /// Run relay row `id` on the agent this node holds and answer it.
    async fn serve(self: Arc<Self>, id: i64) {
        if !self
            .serving
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id)
        {
            return;
        }
        self.clone().serve_once(id).await;
        self.serving
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }

    async fn serve_once(self: Arc<Self>, id: i64) {
        let relayed = match self.store.relayed_command(id).await {
            Ok(Some(relayed)) => relayed,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(%error, id, "could not read a relayed command");
                return;
            }
        };
        let answer = match serde_json::from_slice::<AgentCommand>(&relayed.command) {
            Err(error) => {
                tracing::warn!(%error, id, "a relayed command does not decode");
                RelayAnswer::Disconnected
            }
            Ok(command) => {
                let slot = self
                    .hub
                    .upgrade()
                    .and_then(|hub| hub.reserve(&relayed.agent_id));
                match slot {
                    None => RelayAnswer::Disconnected,
                    Some(slot) => {
                        let wait = Duration::from_millis(relayed.wait_ms);
                        match slot.call(command, wait).await {
                            Ok(response) => RelayAnswer::Answered {
                                response: Box::new(response),
                            },
                            Err(DispatchError::Disconnected(_)) => RelayAnswer::Disconnected,
                            Err(DispatchError::NoAnswer { waited, .. }) => RelayAnswer::NoAnswer {
                                waited_ms: waited.as_millis() as u64,
                            },
                        }
                    }
                }
            }
        };
        let bytes = serde_json::to_vec(&answer).unwrap_or_default();
        if let Err(error) = self
            .store
            .answer_relayed(id, &relayed.sender_node, bytes)
            .await
        {
            tracing::warn!(%error, id, "could not answer a relayed command");
        }
    }

    /// Renew this node's leases every third of the lease.
    async fn renew(relay: Weak<Self>) {
        loop {
            let Some(period) = relay.upgrade().map(|r| r.lease / 3) else {
                return;
            };
            tokio::time::sleep(period).await;
            let Some(relay) = relay.upgrade() else { return };
            let Some(hub) = relay.hub.upgrade() else {
                return;
            };
            let held: Vec<String> = hub
                .list()
                .into_iter()
                .filter(|agent| agent.status == "connected")
                .map(|agent| agent.agent_id)
                .collect();
            let until = now_ms() + relay.lease.as_millis() as u64;
            if let Err(error) = relay
                .store
                .renew_sessions(&relay.node_id, &held, until)
                .await
            {
                tracing::warn!(%error, "could not renew agent session leases");
            }
        }
    }
}

fn decode_answer(bytes: &[u8], agent: &str) -> Result<AgentResponse, DispatchError> {
    match serde_json::from_slice::<RelayAnswer>(bytes) {
        Ok(RelayAnswer::Answered { response }) => Ok(*response),
        Ok(RelayAnswer::NoAnswer { waited_ms }) => Err(DispatchError::NoAnswer {
            agent: agent.to_string(),
            waited: Duration::from_millis(waited_ms),
        }),
        Ok(RelayAnswer::Disconnected) | Err(_) => Err(DispatchError::Disconnected(agent.into())),
    }
}

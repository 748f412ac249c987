//! One agent's connection as the server sees it: its registration, its
//! outbox, the commands waiting for its answers, and its in-flight count.
//! The hub ([`super::hub`]) decides which session gets a command; a
//! [`Slot`] on the session carries the command there and back.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use x25519_dalek::PublicKey;

use super::hub::AgentStatus;
use super::protocol::{AgentCommand, AgentResponse, Registration, ServerMessage};
use crate::clock::now_ms;
use crate::store::AgentRecord;

/// Why a session is being closed by the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Eviction {
    /// Sent in the `error` message (e.g. `TOKEN_REVOKED`).
    pub code: &'static str,
    /// Sent as the message and the close reason.
    pub message: String,
}

/// One connected agent.
pub struct AgentSession {
    /// The registration it connected with (token excluded from listings).
    pub registration: Registration,
    /// The agent token's id.
    pub token_id: String,
    /// The key configs are sealed to.
    pub public_key: PublicKey,
    /// Distinguishes this connection from an earlier one of the same agent.
    serial: u64,
    connected_at_ms: u64,
    last_seen_ms: AtomicU64,
    in_flight: AtomicUsize,
    completed: AtomicU64,
    failed: AtomicU64,
    outbox: mpsc::UnboundedSender<ServerMessage>,
    pending: Mutex<Pending>,
    evicted: watch::Sender<Option<Eviction>>,
    /// Set when the agent announced it is stopping: no new commands.
    draining: AtomicBool,
}

/// Commands waiting for an answer; `closed` once the socket ended, so a
/// command routed in the same instant fails instead of waiting in vain.
#[derive(Default)]
struct Pending {
    closed: bool,
    waiting: HashMap<String, oneshot::Sender<AgentResponse>>,
}

/// Why a command did not get an answer from an agent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DispatchError {
    /// The agent's connection ended while the command was in flight.
    #[error("agent `{0}` disconnected before answering; the command may or may not have run")]
    Disconnected(String),
    /// No answer within the command's timeout (plus grace).
    #[error("agent `{agent}` did not answer within {} ms", .waited.as_millis())]
    NoAnswer {
        /// The agent.
        agent: String,
        /// How long the server waited.
        waited: Duration,
    },
}

/// A reserved in-flight slot on one agent.
pub struct Slot {
    session: Arc<AgentSession>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.session.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Slot {
    /// The agent holding the slot.
    pub fn session(&self) -> &Arc<AgentSession> {
        &self.session
    }

    /// Send `command` and wait for its answer, at most `wait`.
    pub async fn call(
        &self,
        command: AgentCommand,
        wait: Duration,
    ) -> Result<AgentResponse, DispatchError> {
        let session = &self.session;
        let agent = session.registration.agent_id.clone();
        let command_id = command.command_id.clone();
        let (answer, answered) = oneshot::channel();
        {
            let mut pending = session.pending();
            if pending.closed {
                return Err(DispatchError::Disconnected(agent));
            }
            pending.waiting.insert(command_id.clone(), answer);
        }
        if session
            .outbox
            .send(ServerMessage::Command(Box::new(command)))
            .is_err()
        {
            session.forget(&command_id);
            return Err(DispatchError::Disconnected(agent));
        }
        let result = match tokio::time::timeout(wait, answered).await {
            Ok(Ok(response)) => Ok(response),
            // The sender was dropped: the session ended.
            Ok(Err(_)) => Err(DispatchError::Disconnected(agent)),
            Err(_) => {
                session.forget(&command_id);
                Err(DispatchError::NoAnswer {
                    agent,
                    waited: wait,
                })
            }
        };
        match &result {
            Ok(response) if response.success => &session.completed,
            _ => &session.failed,
        }
        .fetch_add(1, Ordering::Relaxed);
        result
    }
}

impl AgentSession {
    /// A new session and the receiver of its outbox (for the socket task).
    pub(super) fn open(
        registration: Registration,
        token_id: String,
        public_key: PublicKey,
        serial: u64,
    ) -> (Arc<Self>, mpsc::UnboundedReceiver<ServerMessage>) {
        let (outbox, outgoing) = mpsc::unbounded_channel();
        let now = now_ms();
        let session = Arc::new(Self {
            registration,
            token_id,
            public_key,
            serial,
            connected_at_ms: now,
            last_seen_ms: AtomicU64::new(now),
            in_flight: AtomicUsize::new(0),
            completed: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            outbox,
            pending: Mutex::default(),
            evicted: watch::Sender::new(None),
            draining: AtomicBool::new(false),
        });
        (session, outgoing)
    }

    /// Distinguishes this connection from others of the same agent.
    pub(super) fn serial(&self) -> u64 {
        self.serial
    }

    /// The agent is stopping: route nothing new to it.
    pub fn drain(&self) {
        self.draining.store(true, Ordering::Release);
    }

    /// Whether the agent announced it is stopping.
    pub(super) fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// Commands sent and not yet answered.
    pub(super) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Reserve one of at most `limit` in-flight slots.
    pub(super) fn reserve(self: &Arc<Self>, limit: usize) -> Option<Slot> {
        self.in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot {
                session: self.clone(),
            })
    }

    /// The socket ended: fail the waiting commands (their answer channels
    /// are dropped) and any routed in the same instant.
    pub(super) fn close(&self) {
        let mut pending = self.pending();
        pending.closed = true;
        pending.waiting.clear();
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn forget(&self, command_id: &str) {
        self.pending().waiting.remove(command_id);
    }

    /// Hand an agent's response to the command waiting for it. Returns
    /// false when no command is waiting (unknown id, or it timed out).
    pub fn complete(&self, response: AgentResponse) -> bool {
        let waiting = self.pending().waiting.remove(&response.command_id);
        match waiting {
            Some(sender) => sender.send(response).is_ok(),
            None => false,
        }
    }

    /// Note that the agent showed a sign of life (any frame, or a pong).
    pub fn seen(&self) {
        self.last_seen_ms.store(now_ms(), Ordering::Relaxed);
    }

    /// When the agent last showed a sign of life.
    pub fn last_seen_ms(&self) -> u64 {
        self.last_seen_ms.load(Ordering::Relaxed)
    }

    /// Resolves when the server decides to close this session.
    pub fn evictions(&self) -> watch::Receiver<Option<Eviction>> {
        self.evicted.subscribe()
    }

    pub(super) fn evict(&self, code: &'static str, message: String) {
        self.evicted.send_replace(Some(Eviction { code, message }));
    }
}

impl AgentSession {
    /// What the store keeps of this connection.
    pub(super) fn record(&self, disconnected_at_ms: Option<u64>) -> AgentRecord {
        let registration = &self.registration;
        AgentRecord {
            agent_id: registration.agent_id.clone(),
            agent_name: registration.agent_name.clone(),
            connector_names: registration.connector_names.clone(),
            version: registration.version.clone(),
            token_id: self.token_id.clone(),
            connected_at_ms: self.connected_at_ms,
            disconnected_at_ms,
        }
    }

    /// What `GET /api/agents` shows of this connection.
    pub(super) fn status(&self, disconnected_at_ms: Option<u64>) -> AgentStatus {
        let registration = &self.registration;
        AgentStatus {
            agent_id: registration.agent_id.clone(),
            agent_name: registration.agent_name.clone(),
            status: if disconnected_at_ms.is_some() {
                "disconnected"
            } else if self.is_draining() {
                "draining"
            } else {
                "connected"
            },
            connector_names: registration.connector_names.clone(),
            version: registration.version.clone(),
            token_id: self.token_id.clone(),
            connected_at_ms: self.connected_at_ms,
            disconnected_at_ms,
            last_heartbeat_ms: self.last_seen_ms(),
            in_flight: self.in_flight.load(Ordering::Acquire),
            completed: self.completed.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }
}

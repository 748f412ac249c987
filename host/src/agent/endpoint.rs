//! `GET /api/connectors/agents/ws`: the WebSocket agents connect out to.
//!
//! It sits outside the API's bearer-token middleware: an agent authenticates
//! with the agent token in its registration message, which must arrive
//! within the registration timeout. Anything the server refuses is answered
//! with an `error` message and a close frame whose reason says why:
//! 1008 (policy) for authentication and registration problems, 1003 for
//! binary frames, 1007 for frames that are not a valid message, 1009 for
//! oversized ones, 1001 when the agent stops answering pings.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade, close_code};
use axum::response::Response;
use futures::SinkExt as _;
use tokio::sync::mpsc;

use super::hub::AgentHub;
use super::protocol::{AgentMessage, Registration, ServerMessage};
use super::seal;
use super::session::{AgentSession, Eviction};
use super::tokens::AgentTokens;
use crate::clock::now_ms;
use crate::store::{AgentTokenRecord, Store};

/// The longest agent id and name accepted.
const MAX_ID_CHARS: usize = 128;
/// The most connectors one agent may claim.
const MAX_CONNECTORS: usize = 256;
/// How long a refused socket stays open after the close frame, so the agent
/// reads the reason instead of a reset connection.
const CLOSE_LINGER: Duration = Duration::from_millis(500);

/// What the endpoint works with, handed to it by the server's wiring: the
/// hub sessions join, the agent tokens registrations are checked against,
/// and the store that says which connectors exist.
#[derive(Clone)]
pub struct AgentEndpoint {
    /// Connected agents.
    pub hub: Arc<AgentHub>,
    /// Agent tokens.
    pub tokens: AgentTokens,
    /// Connector records (only their names and ids are read).
    pub store: Store,
}

/// Upgrade to the agent protocol, with the hub's size limits.
pub async fn upgrade(State(state): State<AgentEndpoint>, upgrade: WebSocketUpgrade) -> Response {
    let settings = state.hub.settings().clone();
    upgrade
        .max_message_size(settings.max_message_bytes)
        .max_frame_size(settings.max_frame_bytes)
        .on_upgrade(move |socket| async move {
            let agent = Connection { socket, state };
            agent.run().await;
        })
}

/// An accepted registration.
struct Registered {
    registration: Registration,
    token: AgentTokenRecord,
    public_key: x25519_dalek::PublicKey,
}

/// A refusal: an `error` message, then a close frame.
pub(super) struct Refusal {
    close_code: u16,
    code: &'static str,
    message: String,
}

impl Refusal {
    fn policy(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            close_code: close_code::POLICY,
            code,
            message: message.into(),
        }
    }
}

struct Connection {
    socket: WebSocket,
    state: AgentEndpoint,
}

impl Connection {
    async fn run(mut self) {
        let registration = match self.register().await {
            Ok(registered) => registered,
            Err(refusal) => {
                tracing::info!(code = refusal.code, reason = %refusal.message, "agent refused");
                return self.refuse(refusal).await;
            }
        };
        let Registered {
            registration,
            token,
            public_key,
        } = registration;
        let agent_id = registration.agent_id.clone();
        let expires_at_ms = token.expires_at_ms;
        let (session, outgoing) = self.state.hub.connect(registration, token.id, public_key);
        tracing::info!(agent = %agent_id, connectors = ?session.registration.connector_names, "agent connected");
        let outcome = self.serve(&session, outgoing, expires_at_ms).await;
        self.state.hub.disconnect(&session);
        match outcome {
            Ok(()) => tracing::info!(agent = %agent_id, "agent disconnected"),
            Err(refusal) => {
                tracing::info!(agent = %agent_id, code = refusal.code, reason = %refusal.message, "agent dropped");
                self.refuse(refusal).await;
            }
        }
    }

    /// Read and check the registration message.
    async fn register(&mut self) -> Result<Registered, Refusal> {
        let timeout = self.state.hub.settings().registration_timeout;
        let first = match tokio::time::timeout(timeout, self.socket.recv()).await {
            Err(_) => {
                return Err(Refusal::policy(
                    "REGISTRATION_TIMEOUT",
                    format!("no registration within {} s", timeout.as_secs()),
                ));
            }
            Ok(None) => return Err(Refusal::policy("CLOSED", "closed before registering")),
            Ok(Some(Err(error))) => return Err(read_error(&error)),
            Ok(Some(Ok(message))) => message,
        };
        let text = match first {
            Message::Text(text) => text,
            Message::Binary(_) => return Err(binary_frame()),
            _ => {
                return Err(Refusal::policy(
                    "NOT_REGISTERED",
                    "the first message must be the registration",
                ));
            }
        };
        let registration: Registration = serde_json::from_str(&text).map_err(|e| Refusal {
            close_code: close_code::INVALID,
            code: "INVALID_REGISTRATION",
            message: format!("invalid registration message: {e}"),
        })?;
        let token = self
            .state
            .tokens
            .verify(&registration.api_token)
            .await
            .map_err(|e| Refusal::policy(e.code(), e.to_string()))?;
        check_identity(&registration)?;
        if let Some(allowed) = &token.connectors {
            let forbidden: Vec<&str> = registration
                .connector_names
                .iter()
                .filter(|name| !allowed.contains(name))
                .map(String::as_str)
                .collect();
            if !forbidden.is_empty() {
                return Err(Refusal::policy(
                    "FORBIDDEN_CONNECTOR",
                    format!("this agent token may not claim {}", forbidden.join(", ")),
                ));
            }
        }
        let public_key = seal::parse_public_key(&registration.public_key)
            .map_err(|e| Refusal::policy("INVALID_PUBLIC_KEY", e.to_string()))?;
        let mut unknown = Vec::new();
        for name in &registration.connector_names {
            let exists = self
                .state
                .store
                .connector_exists(name.clone())
                .await
                .map_err(|e| Refusal {
                    close_code: close_code::ERROR,
                    code: "INTERNAL",
                    message: format!("cannot check connectors: {e}"),
                })?;
            if !exists {
                unknown.push(name.as_str());
            }
        }
        if !unknown.is_empty() {
            return Err(Refusal::policy(
                "UNKNOWN_CONNECTOR",
                format!("no connector named {}", unknown.join(", ")),
            ));
        }
        Ok(Registered {
            registration,
            token,
            public_key,
        })
    }

    /// Relay commands and responses until the socket ends or the server
    /// drops the agent.
    async fn serve(
        &mut self,
        session: &Arc<AgentSession>,
        mut outgoing: mpsc::UnboundedReceiver<ServerMessage>,
        token_expires_at_ms: Option<u64>,
    ) -> Result<(), Refusal> {
        let settings = self.state.hub.settings().clone();
        let registered = ServerMessage::Registered {
            server_version: env!("CARGO_PKG_VERSION").to_string(),
            heartbeat_seconds: settings.heartbeat.as_secs().max(1),
            max_in_flight: settings.max_in_flight,
        };
        self.send(&registered).await?;
        let mut evictions = session.evictions();
        let mut heartbeat = tokio::time::interval(settings.heartbeat);
        heartbeat.tick().await;
        let silence_limit = settings.heartbeat.as_millis() as u64 * 3;
        loop {
            tokio::select! {
                message = outgoing.recv() => {
                    let Some(message) = message else { return Ok(()) };
                    self.feed(&message).await?;
                    // Batch whatever else is queued into one flush.
                    while let Ok(message) = outgoing.try_recv() {
                        self.feed(&message).await?;
                    }
                    self.socket.flush().await.map_err(|_| closed())?;
                }
                received = self.socket.recv() => {
                    let message = match received {
                        None => return Ok(()),
                        Some(Err(error)) => return Err(read_error(&error)),
                        Some(Ok(message)) => message,
                    };
                    session.seen();
                    match message {
                        Message::Text(text) => {
                            let message = serde_json::from_str(&text).map_err(|e| Refusal {
                                close_code: close_code::INVALID,
                                code: "INVALID_MESSAGE",
                                message: format!("invalid message: {e}"),
                            })?;
                            match message {
                                AgentMessage::Response(response) => {
                                    if !session.complete(*response) {
                                        tracing::debug!(agent = %session.registration.agent_id, "a response nobody waits for (timed out)");
                                    }
                                }
                                AgentMessage::Draining => {
                                    tracing::info!(agent = %session.registration.agent_id, "agent draining");
                                    session.drain();
                                }
                            }
                        }
                        Message::Binary(_) => return Err(binary_frame()),
                        Message::Close(_) => return Ok(()),
                        Message::Ping(_) | Message::Pong(_) => {}
                    }
                }
                _ = heartbeat.tick() => {
                    let now = now_ms();
                    if token_expires_at_ms.is_some_and(|at| now >= at) {
                        return Err(Refusal::policy("TOKEN_EXPIRED", "agent token expired"));
                    }
                    if now.saturating_sub(session.last_seen_ms()) > silence_limit {
                        return Err(Refusal {
                            close_code: close_code::AWAY,
                            code: "HEARTBEAT_TIMEOUT",
                            message: "no pong for three heartbeats".into(),
                        });
                    }
                    self.socket
                        .send(Message::Ping(Default::default()))
                        .await
                        .map_err(|_| closed())?;
                }
                _ = evictions.changed() => {
                    let eviction = evictions.borrow().clone();
                    if let Some(Eviction { code, message }) = eviction {
                        return Err(Refusal::policy(code, message));
                    }
                }
            }
        }
    }

    async fn feed(&mut self, message: &ServerMessage) -> Result<(), Refusal> {
        let text = serde_json::to_string(message).map_err(|_| closed())?;
        self.socket
            .feed(Message::Text(text.into()))
            .await
            .map_err(|_| closed())
    }

    async fn send(&mut self, message: &ServerMessage) -> Result<(), Refusal> {
        self.feed(message).await?;
        self.socket.flush().await.map_err(|_| closed())
    }

    /// Tell the agent why, close, and linger briefly so the close frame is
    /// read before the connection goes away.
    async fn refuse(mut self, refusal: Refusal) {
        if refusal.code == "CLOSED" {
            return;
        }
        let error = ServerMessage::Error {
            code: refusal.code.to_string(),
            message: refusal.message.clone(),
        };
        let _ = self.send(&error).await;
        let reason = format!("{}: {}", refusal.code, refusal.message);
        let frame = CloseFrame {
            code: refusal.close_code,
            // Close reasons are limited to 123 bytes.
            reason: Utf8Bytes::from(&reason[..reason.floor_char_boundary(120)]),
        };
        let _ = self.socket.send(Message::Close(Some(frame))).await;
        // Wait for the agent's close, or out the linger time: after a read
        // error (an oversized frame) nothing more can be read, and closing
        // at once would reset the connection before the reason arrives.
        let _ = tokio::time::timeout(CLOSE_LINGER, async {
            while let Some(Ok(message)) = self.socket.recv().await {
                if matches!(message, Message::Close(_)) {
                    return;
                }
            }
            std::future::pending::<()>().await
        })
        .await;
    }
}

pub(super) fn check_identity(registration: &Registration) -> Result<(), Refusal> {
    let id_ok = !registration.agent_id.is_empty()
        && registration.agent_id.chars().count() <= MAX_ID_CHARS
        && registration
            .agent_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !id_ok {
        return Err(Refusal::policy(
            "INVALID_REGISTRATION",
            format!(
                "agentId must be 1-{MAX_ID_CHARS} characters of letters, digits, '-', '_', '.'"
            ),
        ));
    }
    if registration.agent_name.trim().is_empty()
        || registration.agent_name.chars().count() > MAX_ID_CHARS
    {
        return Err(Refusal::policy(
            "INVALID_REGISTRATION",
            format!("agentName must be 1-{MAX_ID_CHARS} characters"),
        ));
    }
    if registration.connector_names.is_empty()
        || registration.connector_names.len() > MAX_CONNECTORS
    {
        return Err(Refusal::policy(
            "INVALID_REGISTRATION",
            format!("connectorNames must list 1-{MAX_CONNECTORS} connectors"),
        ));
    }
    Ok(())
}

fn read_error(error: &axum::Error) -> Refusal {
    use std::error::Error as _;
    use tokio_tungstenite::tungstenite;
    let text = error.to_string();
    // tungstenite reports the frame and message limits as capacity errors.
    let over_limit = error
        .source()
        .and_then(|source| source.downcast_ref::<tungstenite::Error>())
        .is_some_and(|inner| matches!(inner, tungstenite::Error::Capacity(_)));
    if over_limit {
        Refusal {
            close_code: close_code::SIZE,
            code: "MESSAGE_TOO_LARGE",
            message: format!("message or frame over the limit: {text}"),
        }
    } else {
        Refusal {
            close_code: close_code::PROTOCOL,
            code: "PROTOCOL_ERROR",
            message: text,
        }
    }
}

fn binary_frame() -> Refusal {
    Refusal {
        close_code: close_code::UNSUPPORTED,
        code: "UNSUPPORTED_FRAME",
        message: "binary frames are not part of the protocol; send JSON text".into(),
    }
}

fn closed() -> Refusal {
    Refusal::policy("CLOSED", "connection closed")
}

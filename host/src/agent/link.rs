//! One registered connection, from the agent's side: run each command the
//! server sends in a task of its own, send the answers back (batched into
//! one flush when several are ready), watch the server's heartbeat, and on
//! a stop signal drain: tell the server to send nothing new, finish what is
//! in flight, then close.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::{SinkExt as _, StreamExt as _};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::client::{Ended, Socket, stopped};
use super::protocol::{AgentMessage, ServerMessage};
use super::runner::CommandRunner;

/// Error codes after which reconnecting is pointless.
pub(super) const FATAL_CODES: &[&str] = &["INVALID_TOKEN", "TOKEN_REVOKED", "TOKEN_EXPIRED"];

/// What a registered connection runs with.
pub(super) struct Link {
    /// Runs the commands.
    pub runner: Arc<CommandRunner>,
    /// The heartbeat and in-flight limit the server set.
    pub terms: ServerTerms,
    /// How long a stop waits for commands in flight.
    pub drain: Duration,
}

/// What the server's `registered` answer sets for the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ServerTerms {
    /// The server's ping period; three silent periods end the connection.
    pub heartbeat: Duration,
    /// Commands run at once, at most (the server's limit).
    pub max_in_flight: usize,
}

/// The longest heartbeat an agent honours (the server's default is 10 s).
pub(super) const MAX_HEARTBEAT_SECONDS: u64 = 3_600;
/// The most commands an agent runs at once, whatever the server allows
/// (the server's default is 256).
pub(super) const MAX_IN_FLIGHT: usize = 65_536;

impl ServerTerms {
    /// The terms of a `registered` answer, within what an agent can honour:
    /// a server is not trusted to send numbers its semaphore and clock can
    /// hold (a huge in-flight limit or heartbeat used to panic the agent).
    pub fn new(heartbeat_seconds: u64, max_in_flight: usize) -> Self {
        Self {
            heartbeat: Duration::from_secs(heartbeat_seconds.clamp(1, MAX_HEARTBEAT_SECONDS)),
            max_in_flight: max_in_flight.clamp(1, MAX_IN_FLIGHT),
        }
    }

    /// The slots commands wait for.
    pub fn slots(&self) -> Semaphore {
        Semaphore::new(self.max_in_flight)
    }

    /// How long the server may stay silent before the connection is dropped.
    pub fn silence_limit(&self) -> Duration {
        self.heartbeat.saturating_mul(3)
    }

    /// How often the silence is checked.
    pub fn watchdog_period(&self) -> Duration {
        self.heartbeat.min(Duration::from_secs(1))
    }
}

impl Link {
    /// Serve until the connection ends (`Lost`) or a stop has drained
    /// (`Stopped`). An error only when the server revokes the agent.
    pub async fn serve(
        self,
        mut socket: Socket,
        stop: watch::Receiver<bool>,
    ) -> anyhow::Result<Ended> {
        let lost = Ok(Ended::Lost { registered: true });
        let (answers, mut answered) = mpsc::unbounded_channel::<String>();
        let slots = Arc::new(self.terms.slots());
        // Counted from receipt to answer (decremented before the answer is
        // queued, so the last answer finds it at zero).
        let in_flight = Arc::new(AtomicUsize::new(0));
        let mut last_seen = Instant::now();
        let mut watchdog = tokio::time::interval(self.terms.watchdog_period());
        let mut drain_until: Option<Instant> = None;
        let stopping = stopped(stop);
        tokio::pin!(stopping);
        loop {
            if let Some(deadline) = drain_until {
                let idle = in_flight.load(Ordering::Acquire) == 0 && answered.is_empty();
                if idle || Instant::now() >= deadline {
                    if !idle {
                        tracing::warn!(
                            in_flight = in_flight.load(Ordering::Acquire),
                            "drain time is up; closing with commands in flight"
                        );
                    }
                    close(&mut socket, CloseCode::Normal, "agent stopping").await;
                    println!("floh agent stopped");
                    return Ok(Ended::Stopped);
                }
            }
            tokio::select! {
                received = socket.next() => {
                    let message = match received {
                        Some(Ok(message)) => message,
                        Some(Err(error)) => {
                            tracing::warn!(%error, "connection error");
                            return lost;
                        }
                        None => return lost,
                    };
                    last_seen = Instant::now();
                    match message {
                        Message::Text(text) => match serde_json::from_str::<ServerMessage>(&text) {
                            Ok(ServerMessage::Command(command)) => {
                                in_flight.fetch_add(1, Ordering::AcqRel);
                                let runner = self.runner.clone();
                                let (answers, slots, in_flight) =
                                    (answers.clone(), slots.clone(), in_flight.clone());
                                tokio::spawn(async move {
                                    let Ok(_slot) = slots.acquire_owned().await else { return };
                                    let response = runner.run(*command).await;
                                    let message = AgentMessage::Response(Box::new(response));
                                    in_flight.fetch_sub(1, Ordering::AcqRel);
                                    if let Ok(text) = serde_json::to_string(&message) {
                                        let _ = answers.send(text);
                                    }
                                });
                            }
                            Ok(ServerMessage::Error { code, message }) => {
                                tracing::warn!(%code, %message, "the server reports an error");
                                eprintln!("the server reports: {code}: {message}");
                                if FATAL_CODES.contains(&code.as_str()) {
                                    anyhow::bail!("the server dropped this agent: {code}: {message}");
                                }
                            }
                            Ok(ServerMessage::Registered { .. }) => {}
                            Err(error) => tracing::warn!(%error, "unreadable message from the server"),
                        },
                        // tungstenite queued the pong; send it now.
                        Message::Ping(_) if socket.flush().await.is_err() => return lost,
                        Message::Close(frame) => {
                            if let Some(frame) = frame {
                                tracing::warn!(code = u16::from(frame.code), reason = %frame.reason, "the server closed the connection");
                            }
                            return lost;
                        }
                        _ => {}
                    }
                }
                Some(text) = answered.recv() => {
                    if socket.feed(Message::Text(text.into())).await.is_err() {
                        return lost;
                    }
                    while let Ok(text) = answered.try_recv() {
                        if socket.feed(Message::Text(text.into())).await.is_err() {
                            return lost;
                        }
                    }
                    if socket.flush().await.is_err() {
                        return lost;
                    }
                }
                _ = &mut stopping, if drain_until.is_none() => {
                    let holding = in_flight.load(Ordering::Acquire);
                    println!("floh agent draining: {holding} command(s) in flight");
                    let draining = serde_json::to_string(&AgentMessage::Draining)?;
                    if socket.send(Message::Text(draining.into())).await.is_err() {
                        return Ok(Ended::Stopped);
                    }
                    drain_until = Some(Instant::now() + self.drain);
                }
                _ = watchdog.tick() => {
                    if last_seen.elapsed() > self.terms.silence_limit() {
                        tracing::warn!("the server has been silent for three heartbeats");
                        close(&mut socket, CloseCode::Away, "server silent").await;
                        return lost;
                    }
                }
            }
        }
    }
}

async fn close(socket: &mut Socket, code: CloseCode, reason: &str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = socket.close(Some(frame)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_sending_huge_terms_does_not_panic_the_agent() {
        let terms = ServerTerms::new(u64::MAX, usize::MAX);
        assert_eq!(terms.max_in_flight, MAX_IN_FLIGHT);
        assert_eq!(terms.slots().available_permits(), MAX_IN_FLIGHT);
        assert_eq!(terms.heartbeat, Duration::from_secs(MAX_HEARTBEAT_SECONDS));
        assert_eq!(
            terms.silence_limit(),
            Duration::from_secs(3 * MAX_HEARTBEAT_SECONDS)
        );
    }

    #[test]
    fn zero_terms_become_the_smallest_workable_ones() {
        let terms = ServerTerms::new(0, 0);
        assert_eq!(terms.heartbeat, Duration::from_secs(1));
        assert_eq!(terms.max_in_flight, 1);
        assert_eq!(terms.watchdog_period(), Duration::from_secs(1));
    }
}

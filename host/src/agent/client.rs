//! `floh agent`: connect out to the server, register, run the commands it
//! sends, and reconnect (exponential backoff with jitter) whenever the
//! connection is lost. Authentication failures (a bad, revoked or expired
//! token) end the process instead: retrying cannot fix them.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chacha20poly1305::aead::OsRng;
use chacha20poly1305::aead::rand_core::RngCore;
use futures::{SinkExt as _, StreamExt as _};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

use super::keys::AgentKey;
use super::link::{FATAL_CODES, Link, ServerTerms};
use super::protocol::{Registration, ServerMessage};
use super::runner::CommandRunner;
use crate::connectors::TypeRegistry;
use crate::egress::EgressPolicy;
use crate::plugins::{PluginDirectory, shipped};
use crate::runtime::{ScriptEngine, ScriptEngineOptions};

/// Resolves once `stop` turns true.
pub(super) async fn stopped(mut stop: watch::Receiver<bool>) {
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// The path agents connect to.
pub const AGENT_PATH: &str = "/api/connectors/agents/ws";
/// The largest message the agent accepts from the server.
const MAX_SERVER_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// How to run the agent.
#[derive(Debug, Clone)]
pub struct AgentOptions {
    /// The server (`wss://host[:port]`, `ws://…`, or `https://…`/`http://…`);
    /// the agent path is added when the URL has none.
    pub server: String,
    /// An agent token.
    pub token: String,
    /// The agent's id.
    pub agent_id: String,
    /// The agent's display name.
    pub agent_name: String,
    /// The connectors it serves.
    pub connectors: Vec<String>,
    /// Trust only this CA (PEM) for `wss://`, instead of the system's roots.
    pub ca_cert: Option<PathBuf>,
    /// Where the key pair and caches live.
    pub state_dir: PathBuf,
    /// A plugin directory for built-in types beyond the shipped ones.
    pub plugins_dir: Option<PathBuf>,
    /// Where connectors may send requests from inside the network.
    pub egress: EgressPolicy,
    /// The first reconnection delay; it doubles up to `max_backoff`.
    pub min_backoff: Duration,
    /// The longest reconnection delay.
    pub max_backoff: Duration,
    /// On SIGTERM/SIGINT, how long to wait for commands in flight.
    pub drain: Duration,
}

/// How one connection ended.
pub(super) enum Ended {
    /// The agent is stopping (signal).
    Stopped,
    /// Lost; `registered` says whether registration had succeeded.
    Lost { registered: bool },
}

/// The agent's side of the WebSocket.
pub(super) type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// Run the agent until a signal or a fatal refusal.
pub async fn run(options: AgentOptions) -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let url = agent_url(&options.server)?;
    let connector = tls_connector(options.ca_cert.as_deref())?;
    let runner = Arc::new(build_runner(&options).await?);
    println!(
        "floh agent {} serving {} (key {})",
        options.agent_id,
        options.connectors.join(", "),
        runner.key().public_base64()
    );
    let (stopping, stop) = watch::channel(false);
    tokio::spawn(async move {
        crate::signals::shutdown_signal().await;
        let _ = stopping.send(true);
    });
    let mut backoff = Backoff::new(options.min_backoff, options.max_backoff);
    loop {
        let outcome = connection(&url, &options, &runner, connector.clone(), stop.clone()).await?;
        match outcome {
            Ended::Stopped => return Ok(()),
            Ended::Lost { registered } => {
                if registered {
                    backoff.reset();
                }
                let delay = backoff.next();
                tracing::warn!(
                    delay_ms = delay.as_millis() as u64,
                    "connection lost; reconnecting"
                );
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = stopped(stop.clone()) => return Ok(()),
                }
            }
        }
    }
}

async fn build_runner(options: &AgentOptions) -> anyhow::Result<CommandRunner> {
    let key = AgentKey::load_or_create(&options.state_dir).context("loading the agent key")?;
    let engine = Arc::new(ScriptEngine::new(ScriptEngineOptions {
        cache_dir: Some(options.state_dir.join("cache")),
        ..ScriptEngineOptions::default()
    })?);
    let types = TypeRegistry::default();
    let statuses = shipped::register_all(&engine, &types)
        .await
        .context("loading the shipped plugins")?;
    if let Some(dir) = &options.plugins_dir {
        let directory = Arc::new(
            PluginDirectory::new(dir.clone(), engine.clone(), types.clone(), || {})
                .with_shipped(statuses),
        );
        directory.scan().await;
        // The agent runs until the process ends; so does the watcher.
        drop(directory.watch(crate::plugins::PLUGIN_POLL_INTERVAL));
    }
    Ok(CommandRunner::new(
        engine,
        types,
        key,
        options.egress.clone(),
        options.connectors.iter().cloned(),
    ))
}

/// One connection: register, then serve commands until it ends.
async fn connection(
    url: &str,
    options: &AgentOptions,
    runner: &Arc<CommandRunner>,
    connector: Option<Connector>,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<Ended> {
    // Before registration there is nothing to drain: a stop ends at once.
    let accepted = tokio::select! {
        accepted = register(url, options, runner, connector) => accepted?,
        _ = stopped(stop.clone()) => return Ok(Ended::Stopped),
    };
    let Some((socket, terms)) = accepted else {
        return Ok(Ended::Lost { registered: false });
    };
    tracing::info!(%url, "registered");
    println!("floh agent registered with {url}");
    let link = Link {
        runner: runner.clone(),
        terms,
        drain: options.drain,
    };
    // Once registered, a stop drains instead of dropping the connection.
    link.serve(socket, stop).await
}

/// Connect and register: the socket and the server's terms; `None`
/// to retry later; an error when the server refuses the token.
async fn register(
    url: &str,
    options: &AgentOptions,
    runner: &Arc<CommandRunner>,
    connector: Option<Connector>,
) -> anyhow::Result<Option<(Socket, ServerTerms)>> {
    let config = WebSocketConfig::default().max_message_size(Some(MAX_SERVER_MESSAGE_BYTES));
    let mut socket =
        match tokio_tungstenite::connect_async_tls_with_config(url, Some(config), true, connector)
            .await
        {
            Ok((socket, _)) => socket,
            Err(error) => {
                tracing::warn!(%url, %error, "cannot connect to the server");
                return Ok(None);
            }
        };
    let registration = Registration {
        agent_id: options.agent_id.clone(),
        agent_name: options.agent_name.clone(),
        connector_names: options.connectors.clone(),
        api_token: options.token.clone(),
        public_key: runner.key().public_base64(),
        version: Some(env!("CARGO_PKG_VERSION").to_string()),
    };
    let text = serde_json::to_string(&registration)?;
    if socket.send(Message::Text(text.into())).await.is_err() {
        return Ok(None);
    }
    Ok(registered(&mut socket).await?.map(|terms| (socket, terms)))
}

/// Wait for the server's answer to the registration: the heartbeat and
/// in-flight limit, `None` to retry, or an error that ends the agent.
async fn registered(socket: &mut Socket) -> anyhow::Result<Option<ServerTerms>> {
    let answer = tokio::time::timeout(Duration::from_secs(30), socket.next()).await;
    let Ok(Some(Ok(Message::Text(text)))) = answer else {
        tracing::warn!("the server closed the connection without answering the registration");
        return Ok(None);
    };
    read_registered(&text)
}

/// The server's answer to the registration, read: its terms, `None` to
/// retry, or an error that ends the agent.
pub(super) fn read_registered(text: &str) -> anyhow::Result<Option<ServerTerms>> {
    match serde_json::from_str::<ServerMessage>(text) {
        Ok(ServerMessage::Registered {
            heartbeat_seconds,
            max_in_flight,
            ..
        }) => Ok(Some(ServerTerms::new(heartbeat_seconds, max_in_flight))),
        Ok(ServerMessage::Error { code, message }) if FATAL_CODES.contains(&code.as_str()) => {
            anyhow::bail!("the server refused this agent: {code}: {message}")
        }
        Ok(ServerMessage::Error { code, message }) => {
            tracing::warn!(%code, %message, "the server refused the registration");
            eprintln!("the server refused the registration: {code}: {message}");
            Ok(None)
        }
        Ok(ServerMessage::Command(_)) | Err(_) => {
            tracing::warn!("unexpected first message from the server");
            Ok(None)
        }
    }
}

/// The WebSocket URL of the agent endpoint on `server`.
pub fn agent_url(server: &str) -> anyhow::Result<String> {
    let mut url = url::Url::parse(server).with_context(|| format!("`{server}` is not a URL"))?;
    let scheme = match url.scheme() {
        "ws" | "http" => "ws",
        "wss" | "https" => "wss",
        other => anyhow::bail!("unsupported scheme `{other}` (use wss:// or ws://)"),
    };
    url.set_scheme(scheme)
        .map_err(|_| anyhow::anyhow!("cannot use scheme {scheme} with {server}"))?;
    if url.path().is_empty() || url.path() == "/" {
        url.set_path(AGENT_PATH);
    }
    Ok(url.to_string())
}

/// A TLS connector trusting only `ca_cert`, or `None` for the system roots.
fn tls_connector(ca_cert: Option<&std::path::Path>) -> anyhow::Result<Option<Connector>> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let Some(path) = ca_cert else {
        return Ok(None);
    };
    let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut roots = rustls::RootCertStore::empty();
    for certificate in CertificateDer::pem_slice_iter(&pem) {
        let certificate =
            certificate.with_context(|| format!("parsing the PEM in {}", path.display()))?;
        roots
            .add(certificate)
            .with_context(|| format!("adding a CA from {}", path.display()))?;
    }
    anyhow::ensure!(!roots.is_empty(), "{} holds no certificate", path.display());
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Some(Connector::Rustls(Arc::new(config))))
}

/// Reconnection delays: doubling from `min` to `max`, each with "equal
/// jitter" (half fixed, half random) so a fleet of agents restarted
/// together does not reconnect in lockstep.
struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    fn new(min: Duration, max: Duration) -> Self {
        Self {
            min,
            max,
            next: min,
        }
    }

    fn reset(&mut self) {
        self.next = self.min;
    }

    fn next(&mut self) -> Duration {
        let base = self.next;
        self.next = (self.next * 2).min(self.max);
        let half = base / 2;
        let jitter_ms = half.as_millis() as u64;
        let random = if jitter_ms == 0 {
            0
        } else {
            OsRng.next_u64() % (jitter_ms + 1)
        };
        half + Duration::from_millis(random)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registered_answer_with_huge_numbers_is_clamped_not_a_panic() {
        let frame = r#"{"type":"registered","serverVersion":"x","heartbeatSeconds":18446744073709551615,"maxInFlight":18446744073709551615}"#;
        let terms = read_registered(frame).expect("no error").expect("terms");
        assert_eq!(terms.max_in_flight, super::super::link::MAX_IN_FLIGHT);
        let _ = terms.slots();
        let _ = terms.silence_limit();
    }

    #[test]
    fn server_urls_become_the_agent_endpoint() {
        assert_eq!(
            agent_url("wss://floh.example.com").expect("test"),
            "wss://floh.example.com/api/connectors/agents/ws"
        );
        assert_eq!(
            agent_url("http://127.0.0.1:8080/").expect("test"),
            "ws://127.0.0.1:8080/api/connectors/agents/ws"
        );
        assert_eq!(
            agent_url("wss://proxy.example.com/floh/agents").expect("test"),
            "wss://proxy.example.com/floh/agents"
        );
        assert!(agent_url("ftp://x").is_err());
        assert!(agent_url("not a url").is_err());
    }

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap_and_resets() {
        let mut backoff = Backoff::new(Duration::from_millis(400), Duration::from_secs(3));
        let mut ceilings = Vec::new();
        for _ in 0..6 {
            let ceiling = backoff.next;
            let delay = backoff.next();
            assert!(
                delay >= ceiling / 2 && delay <= ceiling,
                "{delay:?} vs {ceiling:?}"
            );
            ceilings.push(ceiling.as_millis());
        }
        assert_eq!(ceilings, [400, 800, 1600, 3000, 3000, 3000]);
        backoff.reset();
        assert!(backoff.next() <= Duration::from_millis(400));
    }
}

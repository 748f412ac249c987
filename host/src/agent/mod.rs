//! The on-premise agent: runs connectors inside a private network.
//!
//! The agent opens an outbound WebSocket to the server (so the private
//! network opens no inbound port), registers the connectors it serves, and
//! executes the commands the server routes to it. This module holds what both
//! sides share:
//!
//! - [`protocol`]: the messages on the socket (registration, `AgentCommand`,
//!   `AgentResponse`), also documented in the README.
//! - [`seal`]: each command's decrypted config is sealed to the agent's
//!   X25519 key, so only that agent can read the secrets even when TLS ends
//!   at a proxy in between.
//! - [`tokens`]: the agent tokens agents register with (hashed, expiring,
//!   revocable), issued through `POST /api/agents/tokens`.
//! - [`keys`]: the agent's long-lived key pair, created once and kept 0600 in
//!   its state directory.

pub mod args;
pub mod client;
pub mod dispatch;
pub mod endpoint;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod hub;
pub mod keys;
mod link;
pub mod protocol;
pub mod relay;
pub mod runner;
pub mod seal;
pub mod session;
pub mod tokens;

//! Several `floh serve` nodes on one PostgreSQL database (issue 16): the
//! store contract holds on redb and on PostgreSQL alike, names stay unique
//! across nodes, acknowledged writes survive a crash of the nodes and of
//! PostgreSQL, a config updated on one node is used on another a second
//! later (also after that node lost its listening connection), and an agent
//! token revoked through one node closes the agent's session on another.
//! A command sent to one node reaches an agent connected to another: the
//! agent's answer comes back, commands spread over the agents of several
//! nodes, wait for an agent that is reconnecting, and fail with
//! `AGENT_DISCONNECTED` when the node holding the agent is killed. An agent
//! removed through one node is forgotten by all, and a node warns at start
//! when PostgreSQL could lose acknowledged writes.
//! The clusters come from `floh_e2e::postgres`; without PostgreSQL
//! installed these tests say how to install it and skip.

mod agent_relay;
mod agent_removal;
mod agent_revocation;
mod coherence;
mod durability;
mod durability_settings;
mod postgres_harness;
mod store_contract;
mod unique_names;

use std::time::Duration;

use floh_e2e::{Server, ServerSettings};
use serde_json::Value;
use tempfile::TempDir;

/// The secret key every node of a test is started with: nodes share the
/// sealed configs in the database, so they must share the key that opens
/// them (base64 of 32 bytes).
const SHARED_SECRET_KEY: &str = "bm9kZXMtc2hhcmUtb25lLWtleS1mb3ItaXNzdWUtMTY=";

/// How long one API request may take before a test calls it hung.
const REQUEST_LIMIT: Duration = Duration::from_secs(15);

/// A `floh serve` on a shared database, with a data directory of its own
/// (plugins, caches).
pub(crate) struct Node {
    /// The server; declared first, so that it is killed before its data
    /// directory goes.
    pub server: Server,
    _data: TempDir,
}

impl Node {
    /// Start a node on `database_url` (`--database-url`).
    pub fn start(database_url: &str) -> Self {
        Self::start_with(database_url, ServerSettings::default())
    }

    /// Start a node on `database_url` with more `settings`; the shared
    /// secret key and `--database-url` are added to them.
    pub fn start_with(database_url: &str, mut settings: ServerSettings) -> Self {
        let data = tempfile::tempdir().expect("data dir");
        settings.secret_key = Some(SHARED_SECRET_KEY.into());
        settings
            .extra_args
            .extend(["--database-url".into(), database_url.into()]);
        let server = Server::start_with(data.path(), settings)
            .unwrap_or_else(|printed| panic!("a node on {database_url} did not start:\n{printed}"));
        Self {
            server,
            _data: data,
        }
    }
}

/// `request`, or a panic naming `what` when it takes longer than
/// [`REQUEST_LIMIT`].
pub(crate) async fn within_limit<T>(what: &str, request: impl Future<Output = T>) -> T {
    tokio::time::timeout(REQUEST_LIMIT, request)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within {REQUEST_LIMIT:?}"))
}

/// The names in a `GET /api/connectors` answer.
pub(crate) fn listed_names(listing: &Value) -> Vec<String> {
    listing
        .as_array()
        .unwrap_or_else(|| panic!("a list of connectors, not {listing}"))
        .iter()
        .filter_map(|connector| connector["name"].as_str().map(str::to_string))
        .collect()
}

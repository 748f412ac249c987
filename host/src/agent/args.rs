//! The command line of `floh agent` (the process itself, not its token
//! administration).

use std::path::PathBuf;
use std::time::Duration;

use super::client::AgentOptions;
use crate::egress::{EgressPolicy, IpNetwork};

/// Private networks an agent may reach by default: the point of an agent
/// is to reach services inside them. Loopback and link-local (cloud
/// metadata) stay refused unless allowed explicitly.
pub const DEFAULT_ALLOWED_NETWORKS: &[&str] =
    &["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"];

/// `floh agent --server … --token … --id … --name … --connector …`.
#[derive(Debug, Clone, clap::Args)]
pub struct AgentArgs {
    /// The Floh server (`wss://host[:port]`; `ws://` only for tests).
    #[arg(long, env = "FLOH_AGENT_SERVER")]
    pub server: Option<String>,
    /// An agent token from `floh agent token create` (prefer the env var:
    /// command lines are visible to other users).
    #[arg(long, env = "FLOH_AGENT_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The agent's id (letters, digits, `-`, `_`, `.`).
    #[arg(long, env = "FLOH_AGENT_ID")]
    pub id: Option<String>,
    /// The agent's display name [default: the id].
    #[arg(long, env = "FLOH_AGENT_NAME")]
    pub name: Option<String>,
    /// A connector this agent runs (repeat for several).
    #[arg(long = "connector", value_name = "NAME")]
    pub connectors: Vec<String>,
    /// Trust only this CA (PEM file) for the server's certificate.
    #[arg(long, env = "FLOH_AGENT_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
    /// Where the agent keeps its key pair and caches.
    #[arg(long, env = "FLOH_AGENT_STATE_DIR", default_value = "./floh-agent")]
    pub state_dir: PathBuf,
    /// Directory of extra plugin components (*.wasm), watched.
    #[arg(long, env = "FLOH_AGENT_PLUGINS_DIR")]
    pub plugins_dir: Option<PathBuf>,
    /// Also allow requests to this network (CIDR; repeat). Private
    /// networks (10/8, 172.16/12, 192.168/16, fc00::/7) are allowed already.
    #[arg(long = "allow-network", value_name = "CIDR")]
    pub allow_networks: Vec<String>,
    /// Allow every destination, loopback and link-local included.
    #[arg(long)]
    pub open_egress: bool,
    /// The longest delay between reconnection attempts, in seconds.
    #[arg(long, default_value_t = 30)]
    pub max_backoff_seconds: u64,
    /// On SIGTERM or Ctrl-C, how long to let commands in flight finish.
    #[arg(long, default_value_t = 30)]
    pub drain_seconds: u64,
}

impl AgentArgs {
    /// Check the arguments and turn them into options.
    pub fn into_options(self) -> anyhow::Result<AgentOptions> {
        let missing = |what: &str| anyhow::anyhow!("`floh agent` needs --{what}");
        let server = self.server.ok_or_else(|| missing("server"))?;
        let token = self.token.ok_or_else(|| missing("token"))?;
        let agent_id = self.id.ok_or_else(|| missing("id"))?;
        anyhow::ensure!(
            !self.connectors.is_empty(),
            "`floh agent` needs at least one --connector"
        );
        let egress = if self.open_egress {
            EgressPolicy::unrestricted()
        } else {
            let networks = DEFAULT_ALLOWED_NETWORKS
                .iter()
                .map(|n| n.to_string())
                .chain(self.allow_networks)
                .map(|n| n.parse::<IpNetwork>())
                .collect::<Result<Vec<_>, _>>()?;
            EgressPolicy::allowing_networks(networks)
        };
        Ok(AgentOptions {
            server,
            token,
            agent_name: self.name.unwrap_or_else(|| agent_id.clone()),
            agent_id,
            connectors: self.connectors,
            ca_cert: self.ca_cert,
            state_dir: self.state_dir,
            plugins_dir: self.plugins_dir,
            egress,
            min_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(self.max_backoff_seconds.max(1)),
            drain: Duration::from_secs(self.drain_seconds),
        })
    }
}

//! The `floh` binary: parse the command line and hand over to the library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use floh::agent::{self, args::AgentArgs};
use floh::cli::{
    self, AgentTokenCommand, ClientOptions, ConnectorCommand, KeyCommand, PluginCommand,
    TokenCommand,
};
use floh::rate_limit::{self, Quota, RateLimits, RateSetting};
use floh::server::{self, ServeOptions};

/// mimalloc instead of glibc's allocator: importing a large OpenAPI
/// description makes millions of small allocations, and glibc spent a third
/// of Microsoft Graph beta's import in malloc, free and consolidation.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Floh connector host.
#[derive(Parser)]
#[command(name = "floh", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "FLOH_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Data directory (database, key file, caches).
        #[arg(long, env = "FLOH_DATA_DIR", default_value = "./floh-data")]
        data_dir: PathBuf,
        /// PEM certificate chain for HTTPS (with --tls-key).
        #[arg(long, env = "FLOH_TLS_CERT", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// PEM private key for HTTPS (with --tls-cert).
        #[arg(long, env = "FLOH_TLS_KEY", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Let every connector reach every address, private ones included.
        #[arg(long, env = "FLOH_OPEN_EGRESS")]
        open_egress: bool,
        /// Directory of plugin components (*.wasm), watched while serving
        /// [default: `plugins` beside the data directory].
        #[arg(long, env = "FLOH_PLUGINS_DIR")]
        plugins_dir: Option<PathBuf>,
        /// Cache of compiled components [default: `cache` in the data directory].
        #[arg(long, env = "FLOH_CACHE_DIR")]
        cache_dir: Option<PathBuf>,
        /// Seconds between pings to each agent (three missed drop it).
        #[arg(long, env = "FLOH_AGENT_HEARTBEAT_SECONDS", default_value_t = 10)]
        agent_heartbeat_seconds: u64,
        /// Commands one agent may hold at once.
        #[arg(long, env = "FLOH_AGENT_MAX_IN_FLIGHT", default_value_t = 256)]
        agent_max_in_flight: usize,
        /// Host names (or host:port) under which clients reach the MCP
        /// endpoint besides loopback, e.g. the public name behind a proxy
        /// (comma-separated).
        #[arg(long, env = "FLOH_MCP_ALLOWED_HOSTS", value_delimiter = ',')]
        mcp_allowed_hosts: Vec<String>,
        /// The URL browsers reach this server at, e.g. its public origin
        /// behind a proxy: OAuth2 providers redirect to
        /// `<URL>/api/oauth/callback` [default: the listening address].
        #[arg(long, env = "FLOH_PUBLIC_URL", value_parser = parse_public_url)]
        public_url: Option<String>,
        /// Sealed values re-wrapped per write transaction after a key
        /// rotation.
        #[arg(long, env = "FLOH_REWRAP_BATCH", default_value_t = 256)]
        rewrap_batch: usize,
        /// Milliseconds between re-wrap batches (room for the API's writes).
        #[arg(long, env = "FLOH_REWRAP_PAUSE_MS", default_value_t = 2)]
        rewrap_pause_ms: u64,
        /// Requests each API token may make, sustained: RATE/s, RATE/m or
        /// RATE/h (API, MCP and web UI sessions together); 0 for no limit.
        #[arg(long, env = "FLOH_RATE_LIMIT_TOKEN", default_value = rate_limit::DEFAULT_TOKEN_RATE)]
        rate_limit_token: RateSetting,
        /// Requests each API token may make at once after a quiet spell.
        #[arg(long, env = "FLOH_RATE_LIMIT_TOKEN_BURST", default_value_t = rate_limit::DEFAULT_TOKEN_BURST,
            value_parser = clap::value_parser!(u32).range(1..))]
        rate_limit_token_burst: u32,
        /// Executions (and tests) of each connector, sustained, whoever
        /// asks: RATE/s, RATE/m or RATE/h; 0 for no limit.
        #[arg(long, env = "FLOH_RATE_LIMIT_EXECUTE", default_value = rate_limit::DEFAULT_EXECUTION_RATE)]
        rate_limit_execute: RateSetting,
        /// Executions of each connector at once after a quiet spell.
        #[arg(long, env = "FLOH_RATE_LIMIT_EXECUTE_BURST", default_value_t = rate_limit::DEFAULT_EXECUTION_BURST,
            value_parser = clap::value_parser!(u32).range(1..))]
        rate_limit_execute_burst: u32,
        /// Start script executions from a snapshot of the script taken after
        /// its top level ran (built in the background; `false` evaluates the
        /// top level at every execution).
        #[arg(long, env = "FLOH_SCRIPT_SNAPSHOTS", default_value_t = true, action = clap::ArgAction::Set)]
        script_snapshots: bool,
        /// While a core is idle, make script instances ahead of need and drop
        /// used ones on a thread of their own (`false`: every execution
        /// instantiates and tears down inline).
        #[arg(long, env = "FLOH_SCRIPT_SPARES", default_value_t = true, action = clap::ArgAction::Set)]
        script_spares: bool,
        /// Script snapshots kept loaded (least recently used unloaded first).
        #[arg(long, env = "FLOH_SCRIPT_SNAPSHOTS_LOADED", default_value_t = 512)]
        script_snapshots_loaded: usize,
        /// MiB of compiled script snapshots kept in the cache directory
        /// (least recently used removed first).
        #[arg(long, env = "FLOH_SCRIPT_SNAPSHOTS_DISK_MIB", default_value_t = 4096)]
        script_snapshots_disk_mib: u64,
        /// Keep everything in this PostgreSQL database instead of the data
        /// directory's redb file (postgres://user@host:port/db, or
        /// postgresql://user@/db?host=/socket/dir); several nodes may
        /// share one. The secret key must then be given (FLOH_SECRET_KEY or
        /// the data directory's key file), the same on every node.
        #[arg(long, env = "FLOH_DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
    },
    /// Rotate the secret key and watch the re-wrap (admin).
    Key {
        #[command(subcommand)]
        command: KeyCommand,
        #[command(flatten)]
        client: ClientOptions,
    },
    /// Take a consistent backup of a running server into FILE (admin). The
    /// secret key is NOT in the backup: keep it safe separately.
    Backup {
        /// Where to write the backup.
        file: PathBuf,
        /// Replace FILE if it exists.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        client: ClientOptions,
    },
    /// Restore a backup into a new data directory (no server may run on it).
    /// The keys come from --key-file or FLOH_SECRET_KEY and must open the
    /// backup.
    Restore {
        /// The backup file.
        file: PathBuf,
        /// The new data directory (absent or empty).
        #[arg(long)]
        data_dir: PathBuf,
        /// The key file of the server the backup came from (copied into the
        /// data directory); default: FLOH_SECRET_KEY.
        #[arg(long)]
        key_file: Option<PathBuf>,
    },
    /// Serve MCP on stdin/stdout for desktop AI clients, bridged to the
    /// running server's `/mcp` (FLOH_SERVER, FLOH_TOKEN). Logs go to stderr.
    Mcp {
        #[command(flatten)]
        client: ClientOptions,
    },
    /// Work with plugins built with the guest SDK.
    Plugin {
        #[command(subcommand)]
        command: PluginCommand,
    },
    /// Manage connectors.
    Connector {
        #[command(subcommand)]
        command: ConnectorCommand,
        #[command(flatten)]
        client: ClientOptions,
    },
    /// Execute a command of a connector.
    Exec {
        /// Connector id or name.
        name: String,
        /// The command.
        command: String,
        /// Params as JSON.
        #[arg(long)]
        params: Option<String>,
        #[command(flatten)]
        client: ClientOptions,
    },
    /// Run a connector's test.
    Test {
        /// Connector id or name.
        name: String,
        #[command(flatten)]
        client: ClientOptions,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
        #[command(flatten)]
        client: ClientOptions,
    },
    /// Run an on-premise agent (`floh agent --server … --token … --id …
    /// --connector …`), or manage agent tokens (`floh agent token …`).
    #[command(subcommand_negates_reqs = true, args_conflicts_with_subcommands = true)]
    Agent {
        #[command(subcommand)]
        command: Option<AgentCommand>,
        #[command(flatten)]
        run: Box<AgentArgs>,
    },
    /// Build step: pre-initialize a raw JavaScript engine component (used by `just guests`).
    #[command(hide = true)]
    PreinitEngine {
        /// The engine as built by cargo.
        input: PathBuf,
        /// Where to write the pre-initialized component.
        output: PathBuf,
    },
}

#[derive(Subcommand)]
enum AgentCommand {
    /// Manage agent tokens (what `floh agent` registers with).
    Token {
        #[command(subcommand)]
        command: AgentTokenCommand,
        #[command(flatten)]
        client: ClientOptions,
    },
    /// List the agents the server knows (status, connectors, in flight).
    List {
        #[command(flatten)]
        client: ClientOptions,
    },
    /// Forget an agent (admin): it is disconnected and its connectors run
    /// on the server again.
    Remove {
        /// The agent's id.
        id: String,
        #[command(flatten)]
        client: ClientOptions,
    },
}

/// Errors are one line on stderr (causes joined with `: `); the exit code
/// tells scripts what kind of failure it was (see `floh::cli`).
#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::from(cli::exit_code(&error))
        }
    }
}

/// `--public-url`: an absolute http(s) URL without query or fragment.
fn parse_public_url(text: &str) -> Result<String, String> {
    let url = url::Url::parse(text).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https")
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(
            "an http or https URL without query or fragment, e.g. https://floh.example.com".into(),
        );
    }
    Ok(text.trim_end_matches('/').to_string())
}

async fn run() -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // Structured logs for log pipelines; human-readable ones otherwise.
    if std::env::var("FLOH_LOG_FORMAT").is_ok_and(|format| format == "json") {
        logs.json().init();
    } else {
        logs.init();
    }
    match Cli::parse().command {
        Command::Serve {
            listen,
            data_dir,
            tls_cert,
            tls_key,
            open_egress,
            plugins_dir,
            cache_dir,
            agent_heartbeat_seconds,
            agent_max_in_flight,
            mcp_allowed_hosts,
            public_url,
            rewrap_batch,
            rewrap_pause_ms,
            rate_limit_token,
            rate_limit_token_burst,
            rate_limit_execute,
            rate_limit_execute_burst,
            script_snapshots,
            script_spares,
            script_snapshots_loaded,
            script_snapshots_disk_mib,
            database_url,
        } => {
            let mut options = ServeOptions::new(listen, data_dir);
            options.tls = tls_cert.zip(tls_key);
            options.admin_token = std::env::var("FLOH_ADMIN_TOKEN")
                .ok()
                .filter(|t| !t.is_empty());
            options.secret_key = std::env::var(floh::secrets::KEY_ENV)
                .ok()
                .filter(|k| !k.is_empty());
            options.database_url = database_url.filter(|url| !url.is_empty());
            options.open_egress = open_egress;
            options.plugins_dir = plugins_dir;
            options.cache_dir = cache_dir;
            options.agents.heartbeat = Duration::from_secs(agent_heartbeat_seconds.max(1));
            options.agents.max_in_flight = agent_max_in_flight.max(1);
            options.mcp.allowed_hosts = mcp_allowed_hosts;
            options.public_url = public_url;
            options.rewrap = floh::service::RewrapPace {
                batch: rewrap_batch.max(1),
                pause: Duration::from_millis(rewrap_pause_ms),
            };
            options.rate_limits = RateLimits {
                token: Quota::of(rate_limit_token, rate_limit_token_burst),
                execution: Quota::of(rate_limit_execute, rate_limit_execute_burst),
            };
            options.snapshots = floh::runtime::SnapshotOptions {
                enabled: script_snapshots,
                max_loaded: script_snapshots_loaded,
                max_disk_bytes: script_snapshots_disk_mib.saturating_mul(1024 * 1024),
                ..floh::runtime::SnapshotOptions::default()
            };
            options.script_spares = script_spares;
            server::serve(options).await
        }
        Command::Key { command, client } => cli::key(client, command).await,
        Command::Backup {
            file,
            force,
            client,
        } => cli::backup(client, &file, force).await,
        Command::Restore {
            file,
            data_dir,
            key_file,
        } => {
            let keys = floh::restore::keys_from(key_file)?;
            let restored = floh::restore::restore(&file, &data_dir, keys).await?;
            println!(
                "restored {} connectors into {} (backup taken at {} ms; key versions {:?} checked){}",
                restored.summary.connectors,
                data_dir.display(),
                restored.summary.taken_at_ms,
                restored.key_versions,
                if restored.wrote_key_file {
                    "; the key file was copied into the directory"
                } else {
                    "; start the server with the same FLOH_SECRET_KEY"
                }
            );
            Ok(())
        }
        Command::Mcp { client } => {
            let outcome = floh::mcp::stdio::run(&client.server, client.token).await;
            if let Err(error) = &outcome {
                eprintln!("Error: {error:#}");
            }
            // Tokio's stdin reader thread would hold the runtime open.
            std::process::exit(i32::from(outcome.is_err()))
        }
        Command::Plugin { command } => cli::plugin(command).await,
        Command::Connector { command, client } => cli::connector(client, command).await,
        Command::Exec {
            name,
            command,
            params,
            client,
        } => cli::exec(client, &name, &command, params.as_deref()).await,
        Command::Test { name, client } => cli::test(client, &name).await,
        Command::Token { command, client } => cli::token(client, command).await,
        Command::Agent {
            command: Some(AgentCommand::Token { command, client }),
            ..
        } => cli::agent_token(client, command).await,
        Command::Agent {
            command: Some(AgentCommand::List { client }),
            ..
        } => cli::agents(client, None).await,
        Command::Agent {
            command: Some(AgentCommand::Remove { id, client }),
            ..
        } => cli::agents(client, Some(&id)).await,
        Command::Agent { command: None, run } => agent::client::run(run.into_options()?).await,
        Command::PreinitEngine { input, output } => {
            let raw =
                std::fs::read(&input).with_context(|| format!("reading {}", input.display()))?;
            let snapshot = floh::runtime::snapshot::preinitialize(&raw).await?;
            std::fs::write(&output, &snapshot)
                .with_context(|| format!("writing {}", output.display()))?;
            println!("{} ({} bytes)", output.display(), snapshot.len());
            Ok(())
        }
    }
}

//! `floh serve`: wire store → secrets → runtime → types → service → API, in
//! one visible place, and serve until a shutdown signal.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use axum::serve::ListenerExt as _;

use crate::agent::endpoint::AgentEndpoint;
use crate::agent::hub::{AgentHub, HubSettings};
use crate::api::{self, AppParts, AppState};
use crate::auth::TokenAuth;
use crate::connectors::TypeRegistry;
use crate::metrics::Metrics;
use crate::plugins::{PluginDirectory, shipped};
use crate::rate_limit::{RateLimiter, RateLimits};
use crate::runtime::{ScriptEngine, ScriptEngineOptions};
use crate::secrets::ConfigCipher;
use crate::service::ConnectorService;
use crate::store::{Role, Store};

/// How to run the server.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Address to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Directory of the database, key file and caches.
    pub data_dir: PathBuf,
    /// PEM certificate chain and key for HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// The initial admin token, instead of a generated one.
    pub admin_token: Option<String>,
    /// The secret key (base64), instead of the key file.
    pub secret_key: Option<String>,
    /// Lift the egress policy for every connector (tests, trusted setups).
    pub open_egress: bool,
    /// The plugin directory; `plugins` beside the data directory when `None`.
    pub plugins_dir: Option<PathBuf>,
    /// Compiled-artefact cache; `cache` in the data directory when `None`.
    pub cache_dir: Option<PathBuf>,
    /// Limits and timings of the agent channel.
    pub agents: HubSettings,
    /// Host names the MCP endpoint answers besides loopback.
    pub mcp: crate::mcp::McpSettings,
    /// The URL people's browsers reach this server at (behind a proxy, its
    /// public origin): OAuth2 providers send them back to
    /// `<public URL>/api/oauth/callback`. Derived from the bound address
    /// when `None`.
    pub public_url: Option<String>,
    /// How fast sealed values move to a new key version after a rotation.
    pub rewrap: crate::service::RewrapPace,
    /// Requests per API token and executions per connector.
    pub rate_limits: RateLimits,
    /// Per-script snapshots.
    pub snapshots: crate::runtime::SnapshotOptions,
    /// Script instances made ahead of need while a core is idle.
    pub script_spares: bool,
    /// PostgreSQL instead of the data directory's redb file.
    pub database_url: Option<String>,
}

impl ServeOptions {
    /// Options for `data_dir` with every other setting at its default.
    pub fn new(listen: SocketAddr, data_dir: PathBuf) -> Self {
        Self {
            listen,
            data_dir,
            tls: None,
            admin_token: None,
            secret_key: None,
            open_egress: false,
            plugins_dir: None,
            cache_dir: None,
            agents: HubSettings::default(),
            mcp: crate::mcp::McpSettings::default(),
            public_url: None,
            rewrap: crate::service::RewrapPace::default(),
            rate_limits: RateLimits::default(),
            snapshots: crate::runtime::SnapshotOptions::default(),
            script_spares: true,
            database_url: None,
        }
    }

    /// The plugin directory in effect.
    pub fn plugins_dir(&self) -> PathBuf {
        self.plugins_dir.clone().unwrap_or_else(|| {
            let parent = self
                .data_dir
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            parent.join("plugins")
        })
    }
}

pub use crate::plugins::PLUGIN_POLL_INTERVAL;

/// Everything a running server is made of.
pub struct App {
    /// The API's shared state.
    pub state: AppState,
    /// The plugin directory (watch it with [`PluginDirectory::watch`]).
    pub plugins: Arc<PluginDirectory>,
    /// Host names the MCP endpoint answers besides loopback.
    pub mcp: crate::mcp::McpSettings,
}

/// Open the data directory and build the application.
pub async fn build(options: &ServeOptions) -> anyhow::Result<App> {
    let fresh = !options.data_dir.exists();
    std::fs::create_dir_all(&options.data_dir)
        .with_context(|| format!("creating the data directory {}", options.data_dir.display()))?;
    // The database holds sealed configs and token hashes: owner only. An
    // existing directory keeps the permissions its owner chose.
    #[cfg(unix)]
    if fresh {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&options.data_dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("restricting {}", options.data_dir.display()))?;
    }
    let store = match &options.database_url {
        Some(url) => Store::connect(url).await?,
        None => Store::open(&options.data_dir.join("floh.redb")).context("opening the database")?,
    };
    let key_checks = store.key_checks().await?;
    // A key is only ever created for a database that has no encrypted data,
    // and never for a shared one: two nodes starting at once would each
    // create their own.
    let cipher = ConfigCipher::load(
        &options.data_dir,
        options.secret_key.as_deref(),
        key_checks.is_empty() && options.database_url.is_none(),
    )?;
    crate::service::reconcile_at_start(&store, &cipher).await?;
    let cache_dir = options
        .cache_dir
        .clone()
        .unwrap_or_else(|| options.data_dir.join("cache"));
    let engine = Arc::new(ScriptEngine::new(ScriptEngineOptions {
        cache_dir: Some(cache_dir),
        snapshots: options.snapshots.clone(),
        spares: options.script_spares,
        ..ScriptEngineOptions::default()
    })?);
    let types = TypeRegistry::default();
    let shipped = shipped::register_all(&engine, &types)
        .await
        .context("loading the shipped plugins")?;
    let metrics = Arc::new(Metrics::default());
    let limits = options.rate_limits;
    let execution_limit = limits.execution.map(|quota| {
        RateLimiter::new(quota).counting_refusals(metrics.rate_limit_refusals("execution"))
    });
    let token_limit = limits.token.map(|quota| {
        Arc::new(RateLimiter::new(quota).counting_refusals(metrics.rate_limit_refusals("token")))
    });
    let remembered = store.agents().await.context("reading the known agents")?;
    let agents =
        Arc::new(AgentHub::new(options.agents.clone()).remembering(store.clone(), remembered));
    let service = Arc::new(
        ConnectorService::new(
            store.clone(),
            cipher,
            engine.clone(),
            types.clone(),
            options.open_egress,
        )
        .with_agents(agents.clone())
        .with_rewrap_pace(options.rewrap)
        .with_execution_limit(execution_limit),
    );
    let notified = Arc::downgrade(&service);
    let plugins = Arc::new(
        PluginDirectory::new(options.plugins_dir(), engine, types, move || {
            if let Some(service) = notified.upgrade() {
                service.types_changed();
            }
        })
        .with_shipped(shipped),
    );
    // Types of the directory exist before the first request is served.
    plugins.scan().await;
    let auth = TokenAuth::new(store.clone());
    if !store.has_tokens().await? {
        let issued = auth
            .issue("admin", Role::Admin, options.admin_token.clone())
            .await?;
        if options.admin_token.is_none() {
            // Printed once; only its hash is stored.
            println!("Admin token (shown once, store it now): {}", issued.token);
        }
    }
    if let Some(postgres) = store.postgres() {
        crate::coherence::follow(postgres.changes(), &service, auth.clone(), agents.clone());
    }
    if let Some(relay) = crate::agent::relay::NodeRelay::start(store.clone(), &agents) {
        agents.relay_through(relay);
    }
    let agent_tokens = crate::agent::tokens::AgentTokens::new(store.clone());
    Ok(App {
        state: AppState::new(AppParts {
            service,
            auth,
            agent_endpoint: AgentEndpoint {
                hub: agents.clone(),
                tokens: agent_tokens.clone(),
                store: store.clone(),
            },
            agent_tokens,
            agents,
            metrics,
            plugins: Some(plugins.clone()),
            token_limit,
        }),
        plugins,
        mcp: options.mcp.clone(),
    })
}

/// Every route: the JSON API under `/api`, MCP at `/mcp` and the web UI at
/// `/`. Each front end gets the same service, tokens and agents, and none
/// reaches into another; `secure` when served over TLS.
pub fn router(app: &App, secure: bool) -> axum::Router {
    let state = &app.state;
    let ui = crate::ui::Shared {
        service: state.service.clone(),
        auth: state.auth.clone(),
        agent_tokens: state.agent_tokens.clone(),
        agents: state.agents.clone(),
        metrics: state.metrics.clone(),
        plugins: state.plugins.clone(),
        token_limit: state.token_limit.clone(),
    };
    let mcp = crate::mcp::http::McpEndpoint {
        service: state.service.clone(),
        auth: state.auth.clone(),
        metrics: state.metrics.clone(),
        settings: app.mcp.clone(),
        token_limit: state.token_limit.clone(),
    };
    api::router(state.clone())
        .merge(crate::mcp::http::routes(mcp))
        .merge(crate::ui::router(ui, secure))
}

/// Serve until SIGINT/SIGTERM, then drain connections and pending writes.
pub async fn serve(options: ServeOptions) -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let app = build(&options).await?;
    let service = app.state.service.clone();
    tracing::info!(dir = %app.plugins.dir().display(), "watching the plugin directory");
    let _watcher = AbortOnDrop(app.plugins.clone().watch(PLUGIN_POLL_INTERVAL));
    let router = router(&app, options.tls.is_some());
    match &options.tls {
        None => {
            let listener = tokio::net::TcpListener::bind(options.listen)
                .await
                .with_context(|| format!("binding {}", options.listen))?;
            let addr = listener.local_addr()?;
            service.set_public_url(&public_url(&options, "http", addr));
            announce("http", addr);
            // Agent commands and API calls are small request/response
            // exchanges: Nagle's algorithm would only add latency.
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            axum::serve(listener, router)
                .with_graceful_shutdown(crate::signals::shutdown_signal())
                .await?;
        }
        Some((cert, key)) => {
            let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                .await
                .context("loading the TLS certificate and key")?;
            let handle = axum_server::Handle::new();
            let watcher = handle.clone();
            let (known, options_for_url) = (service.clone(), options.clone());
            tokio::spawn(async move {
                if let Some(addr) = watcher.listening().await {
                    known.set_public_url(&public_url(&options_for_url, "https", addr));
                    announce("https", addr);
                }
                crate::signals::shutdown_signal().await;
                watcher.graceful_shutdown(Some(std::time::Duration::from_secs(10)));
            });
            axum_server::bind_rustls(options.listen, config)
                .handle(handle)
                .serve(router.into_make_service())
                .await?;
        }
    }
    service.flush().await;
    tracing::info!("stopped");
    Ok(())
}

/// Stops a background task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The configured public URL, or the bound address (`localhost` for a
/// wildcard address, which no browser can be sent to).
fn public_url(options: &ServeOptions, scheme: &str, addr: SocketAddr) -> String {
    if let Some(url) = &options.public_url {
        return url.trim_end_matches('/').to_string();
    }
    if addr.ip().is_unspecified() {
        format!("{scheme}://localhost:{}", addr.port())
    } else {
        format!("{scheme}://{addr}")
    }
}

fn announce(scheme: &str, addr: SocketAddr) {
    // Scripts and tests read this line to find the port.
    println!("floh listening on {scheme}://{addr}");
    tracing::info!(%addr, "listening");
}

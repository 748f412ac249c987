//! The web UI, served by `floh serve` at `/`: server-rendered HTML (maud
//! templates, one module per page) with htmx for partial updates. Pages call
//! [`ConnectorService`](crate::service::ConnectorService) exactly as the
//! HTTP API does, so every rule (validation, masking, roles) lives once.
//!
//! The browser authenticates with a session cookie (see [`session`]), never
//! with the API token; the JSON API under `/api` stays bearer-only, so it
//! has no cookie and needs no CSRF defence.
//!
//! Adding a page: a module with `pub fn routes() -> Router<UiState>` whose
//! handlers take a [`session::Viewer`] and return [`layout::Page`] (or a
//! fragment for htmx), then one `.merge(module::routes())` in [`router`].
//! Routes that change something use `POST`; those that execute end in
//! `/execute` or `/test`, like the API's, so the API's role rule applies.

mod agents;
pub mod assets;
mod charts;
mod connector;
mod connectors;
pub mod error;
mod executions;
pub mod layout;
mod oauth;
mod openapi_import;
mod plugins;
mod script_editor;
pub mod session;
mod sign_in;
mod tokens;
mod trace;
mod wizard;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::response::Redirect;
use axum::routing::get;

use session::Sessions;

/// What the UI works with: the same instances every front end is given
/// (see `server::build`), and nothing of another front end.
#[derive(Clone)]
pub struct Shared {
    /// Connector operations.
    pub service: Arc<crate::service::ConnectorService>,
    /// API tokens (each browser session stands on one).
    pub auth: crate::auth::TokenAuth,
    /// Agent tokens.
    pub agent_tokens: crate::agent::tokens::AgentTokens,
    /// Connected on-premise agents.
    pub agents: Arc<crate::agent::hub::AgentHub>,
    /// Prometheus metrics (runs from the UI count like any other).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The watched plugin directory, when the server has one.
    pub plugins: Option<Arc<crate::plugins::PluginDirectory>>,
    /// Requests per API token: a session spends its token's.
    pub token_limit: Option<Arc<crate::rate_limit::RateLimiter>>,
}

/// Shared state of every UI handler.
#[derive(Clone)]
pub struct UiState {
    /// The service, tokens, agents, metrics and plugins.
    pub app: Shared,
    /// Browser sessions.
    pub sessions: Arc<Sessions>,
}

/// The UI's routes; `secure` when served over TLS (Secure cookies). Merged
/// beside the API's router, it answers every path the API does not: unknown
/// ones get an HTML 404 page (the API answers `/api/…` itself, in JSON).
pub fn router(app: Shared, secure: bool) -> Router {
    let state = UiState {
        app,
        sessions: Arc::new(Sessions::new(secure)),
    };
    let signed_in = Router::new()
        .route("/", get(|| async { Redirect::to("/connectors") }))
        .merge(connectors::routes())
        .merge(connector::routes())
        .merge(oauth::routes())
        .merge(wizard::routes())
        .merge(openapi_import::routes())
        .merge(script_editor::routes())
        .merge(executions::routes())
        .merge(agents::routes())
        .merge(plugins::routes())
        .merge(tokens::routes())
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            session::require_session,
        ));
    Router::new()
        .merge(signed_in)
        .merge(sign_in::routes())
        .route("/assets/{*path}", get(assets::serve))
        .fallback(error::not_found)
        .layer(axum::middleware::map_response(layout::add_security_headers))
        .layer(DefaultBodyLimit::max(session::MAX_FORM_BYTES))
        .with_state(state)
}

//! The HTTP API (JSON over axum/hyper). Routes are listed here, handlers
//! live by resource.

mod agents;
pub mod auth;
mod connectors;
pub mod error;
mod meta;
pub mod metrics;
mod oas;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post};
use tower_http::limit::RequestBodyLimitLayer;

use crate::service::ConnectorService;

/// The largest request body accepted, except by `parse-oas` and connector
/// create and update (scripts and configs fit many times over).
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// The largest body of `POST /api/connectors` and `PUT
/// /api/connectors/:id`: an `oas` draft carries its spec (up to the
/// parse-oas limit) and the script and schema generated from it. The
/// service refuses anything else over [`MAX_BODY_BYTES`] (413
/// `DEFINITION_TOO_LARGE`).
pub const MAX_DEFINITION_BODY_BYTES: usize =
    oas::MAX_SPEC_BODY_BYTES + crate::service::MAX_OAS_DRAFT_BYTES;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    /// Connector operations.
    pub service: Arc<ConnectorService>,
    /// Token authentication.
    pub auth: auth::TokenAuth,
    /// Agent tokens.
    pub agent_tokens: crate::agent::tokens::AgentTokens,
    /// Connected on-premise agents (the service routes through the same hub).
    pub agents: Arc<crate::agent::hub::AgentHub>,
    /// Prometheus metrics.
    pub metrics: Arc<metrics::Metrics>,
    /// The watched plugin directory, when the server has one.
    pub plugins: Option<Arc<crate::plugins::PluginDirectory>>,
    /// What the agents' WebSocket endpoint works with.
    pub agent_endpoint: crate::agent::endpoint::AgentEndpoint,
}

/// The whole API.
pub fn router(state: AppState) -> Router {
    let protected = Router::new()
        .route(
            "/connectors",
            get(connectors::list).post(connectors::create).layer(
                // The limit applies to `post` only; `get` has no body.
                DefaultBodyLimit::max(MAX_DEFINITION_BODY_BYTES),
            ),
        )
        .route(
            "/connectors/{id}",
            get(connectors::get)
                .put(connectors::update)
                .delete(connectors::delete)
                .layer(DefaultBodyLimit::max(MAX_DEFINITION_BODY_BYTES)),
        )
        .route(
            "/connectors/parse-oas",
            post(oas::parse).layer(DefaultBodyLimit::max(oas::MAX_SPEC_BODY_BYTES)),
        )
        .route("/connectors/check-script", post(connectors::check_script))
        .route("/connectors/{id}/execute", post(connectors::execute))
        .route("/connectors/{id}/test", post(connectors::test))
        .route("/connectors/{id}/executions", get(connectors::executions))
        .route("/connector-types", get(meta::connector_types))
        .route("/plugins", get(meta::plugins))
        .route("/tokens", post(meta::create_token))
        .route(
            "/agents/tokens",
            get(agents::list_tokens).post(agents::create_token),
        )
        .route("/agents/tokens/{id}", delete(agents::revoke_token))
        .route("/agents", get(agents::list))
        .route("/agents/{id}", delete(agents::remove))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ));
    let public = Router::new()
        .route("/health", get(meta::health))
        .route("/openapi.json", get(meta::openapi))
        // Agents authenticate with the token in their registration message.
        .merge(
            Router::new()
                .route(
                    "/connectors/agents/ws",
                    get(crate::agent::endpoint::upgrade),
                )
                .with_state(state.agent_endpoint.clone()),
        );
    Router::new()
        .nest("/api", protected.merge(public))
        .route("/metrics", get(meta::metrics))
        .fallback(meta::not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(RequestBodyLimitLayer::new(MAX_DEFINITION_BODY_BYTES))
        .with_state(state)
}

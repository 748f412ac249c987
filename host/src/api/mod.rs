//! The HTTP API (JSON over axum/hyper). Routes are listed here, handlers
//! live by resource.

mod agents;
pub mod auth;
mod authoring;
pub mod backup;
mod connectors;
pub mod document;
pub mod error;
mod keys;
mod meta;
mod oas;
mod oauth;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::any;
use axum::{Extension, Router};
use tower_http::limit::RequestBodyLimitLayer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

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

/// Shared state of every handler. axum clones it for every request (and
/// the authentication layer once more), so it is one reference-counted
/// allocation: a clone is one atomic increment, not one per part.
#[derive(Clone)]
pub struct AppState(Arc<AppParts>);

impl AppState {
    /// The state holding `parts`.
    pub fn new(parts: AppParts) -> Self {
        Self(Arc::new(parts))
    }
}

impl std::ops::Deref for AppState {
    type Target = AppParts;

    fn deref(&self) -> &AppParts {
        &self.0
    }
}

/// What [`AppState`] holds.
pub struct AppParts {
    /// Connector operations.
    pub service: Arc<ConnectorService>,
    /// Token authentication.
    pub auth: crate::auth::TokenAuth,
    /// Agent tokens.
    pub agent_tokens: crate::agent::tokens::AgentTokens,
    /// Connected on-premise agents (the service routes through the same hub).
    pub agents: Arc<crate::agent::hub::AgentHub>,
    /// Prometheus metrics.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The watched plugin directory, when the server has one.
    pub plugins: Option<Arc<crate::plugins::PluginDirectory>>,
    /// What the agents' WebSocket endpoint works with.
    pub agent_endpoint: crate::agent::endpoint::AgentEndpoint,
    /// Requests per API token (`None`: unlimited), shared with MCP and the
    /// web UI.
    pub token_limit: Option<Arc<crate::rate_limit::RateLimiter>>,
}

/// The whole API.
pub fn router(state: AppState) -> Router {
    let (router, openapi) = routes(&state).split_for_parts();
    let document = Arc::new(document::ApiDocument::new(openapi));
    router
        // Unknown API paths answer JSON; every other path is left to the
        // router merged beside this one (the web UI's HTML 404).
        .route("/api", any(meta::not_found))
        .route("/api/{*rest}", any(meta::not_found))
        .layer(Extension(document))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(RequestBodyLimitLayer::new(MAX_DEFINITION_BODY_BYTES))
        .with_state(state)
}

/// Every route with its documentation.
///
/// Adding an endpoint:
/// 1. write the handler in the module of its resource with
///    `#[utoipa::path(METHOD, path = "/…", tag, operation_id = "camelCase",
///    params(…), request_body = Type, responses(…))]`, listing the success
///    response and every error status the handler itself can return, with
///    `body = ErrorBody` (see `connectors::update`);
/// 2. derive `utoipa::ToSchema` (bodies) or `utoipa::IntoParams` (query
///    strings) on the serde types it reads and writes, with the constraints
///    the server enforces (`#[schema(min_length, pattern, maximum…)]`;
///    `deny_unknown_fields` becomes `additionalProperties: false`); read
///    bodies with `ApiJson` and queries with `ApiQuery`;
/// 3. add `.routes(routes!(module::handler))` below: in `protected` for
///    routes behind a bearer token, `public` otherwise.
///
/// The route and its documentation are registered by that one line. The
/// rules for groups of routes (401/403 behind the token, 400/413/415/422 for
/// JSON bodies, 400 for query strings, links) are added in `document`; the
/// contract test (`tests/e2e/contract.rs`, schemathesis) checks the result
/// against the running server.
fn routes(state: &AppState) -> OpenApiRouter<AppState> {
    let specs = OpenApiRouter::new()
        .routes(routes!(oas::parse))
        .routes(routes!(authoring::reimport_preview))
        .layer(DefaultBodyLimit::max(oas::MAX_SPEC_BODY_BYTES));
    // An `oas` draft carries its spec; the service refuses other
    // definitions over `MAX_BODY_BYTES`.
    let definitions = OpenApiRouter::new()
        .routes(routes!(connectors::list, connectors::create))
        .routes(routes!(
            connectors::get,
            connectors::update,
            connectors::delete
        ))
        .layer(DefaultBodyLimit::max(MAX_DEFINITION_BODY_BYTES));
    let mut protected = OpenApiRouter::new()
        .routes(routes!(connectors::check_script))
        .routes(routes!(authoring::script_template))
        .routes(routes!(authoring::probe_external))
        .routes(routes!(connectors::execute))
        .routes(routes!(connectors::test))
        .routes(routes!(connectors::executions))
        .routes(routes!(connectors::execution))
        .routes(routes!(connectors::recent))
        .routes(routes!(connectors::activity))
        .routes(routes!(meta::connector_types))
        .routes(routes!(meta::plugins))
        .routes(routes!(meta::list_tokens, meta::create_token))
        .routes(routes!(meta::revoke_token))
        .routes(routes!(agents::list_tokens, agents::create_token))
        .routes(routes!(agents::revoke_token))
        .routes(routes!(agents::list))
        .routes(routes!(agents::remove))
        .routes(routes!(oauth::authorize))
        .routes(routes!(oauth::disconnect))
        .routes(routes!(keys::status))
        .routes(routes!(keys::rotate))
        .routes(routes!(keys::retire))
        .routes(routes!(backup::take))
        .merge(specs)
        .merge(definitions)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ));
    document::protect(protected.get_openapi_mut());
    let public = OpenApiRouter::new()
        .routes(routes!(meta::health))
        .routes(routes!(meta::openapi))
        // The provider sends a person's browser here; `state` is the capability.
        .routes(routes!(oauth::callback))
        // Agents authenticate with the token in their registration message.
        .routes(routes!(agents::socket));
    OpenApiRouter::with_openapi(document::base())
        .nest("/api", protected.merge(public))
        .routes(routes!(meta::metrics))
}

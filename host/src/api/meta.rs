//! Health, metrics, the host's own OpenAPI document, connector types,
//! plugins and token issuing.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::document::ApiDocument;
use super::error::{ApiError, ApiJson, ErrorBody};
use crate::auth::IssuedToken;
use crate::connectors::TypeDescriptor;
use crate::plugins::PluginStatus;
use crate::store::Role;

/// The answer of `GET /api/health`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    /// Always `ok`.
    #[schema(value_type = String, pattern = "^ok$")]
    status: &'static str,
    /// The server's version.
    #[schema(value_type = String)]
    version: &'static str,
}

/// Liveness.
#[utoipa::path(get, path = "/health", tag = "meta", operation_id = "health",
    responses((status = 200, description = "The server is up", body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
}

/// Prometheus metrics (OpenMetrics text): executions by connector, model and
/// outcome, latency by model, agents.
#[utoipa::path(get, path = "/metrics", tag = "meta", operation_id = "metrics",
    responses((status = 200, description = "The text exposition format", body = String,
        content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8")))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state
            .metrics
            .render(&state.agents.list(), state.service.script_stats()),
    )
}

/// The registered built-in types (native and plugins) and their schemas.
#[utoipa::path(get, path = "/connector-types", tag = "meta", operation_id = "listConnectorTypes",
    responses((status = 200, description = "Every registered type", body = Vec<TypeDescriptor>)))]
pub async fn connector_types(State(state): State<AppState>) -> Json<Vec<TypeDescriptor>> {
    Json(state.service.types().descriptors())
}

/// Every file of the plugin directory, loaded or refused (with the reason).
#[utoipa::path(get, path = "/plugins", tag = "meta", operation_id = "listPlugins",
    responses((status = 200, description = "Plugin files and their state", body = Vec<PluginStatus>)))]
pub async fn plugins(State(state): State<AppState>) -> Json<Vec<PluginStatus>> {
    match &state.plugins {
        Some(directory) => Json(directory.statuses()),
        None => Json(Vec::new()),
    }
}

/// An API token to issue.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// A label (not blank).
    #[schema(min_length = 1, pattern = r"\S")]
    name: String,
    /// What it may do (default `executor`).
    #[serde(default = "default_role")]
    #[schema(default = "executor")]
    role: Role,
}

fn default_role() -> Role {
    Role::Executor
}

/// Every API token (never its secret), newest first.
#[utoipa::path(get, path = "/tokens", tag = "meta", operation_id = "listTokens",
    responses(
        (status = 200, description = "Newest first", body = Vec<crate::store::TokenRecord>),
    ))]
pub async fn list_tokens(
    State(state): State<AppState>,
) -> Result<Json<Vec<crate::store::TokenRecord>>, ApiError> {
    Ok(Json(state.auth.list().await?))
}

/// Revoke an API token: it stops authenticating at once, and the browser
/// sessions signed in with it end.
#[utoipa::path(delete, path = "/tokens/{tokenId}", tag = "meta", operation_id = "revokeToken",
    params(("tokenId" = String, Path, description = "The token's id (not its secret)")),
    responses(
        (status = 200, description = "The revoked token", body = crate::store::TokenRecord),
        (status = 404, description = "`TOKEN_NOT_FOUND`", body = ErrorBody),
        (status = 409, description = "`LAST_ADMIN_TOKEN`: the only admin token cannot be revoked", body = ErrorBody),
    ))]
pub async fn revoke_token(
    State(state): State<AppState>,
    axum::extract::Path(token_id): axum::extract::Path<String>,
) -> Result<Json<crate::store::TokenRecord>, ApiError> {
    Ok(Json(state.auth.revoke(&token_id).await?))
}

/// Issue an API token; the secret is shown this once.
#[utoipa::path(post, path = "/tokens", tag = "meta", operation_id = "createToken",
    request_body = TokenRequest,
    responses(
        (status = 201, description = "Issued", body = IssuedToken),
        (status = 400, description = "`VALIDATION_ERROR`: blank name", body = ErrorBody),
    ))]
pub async fn create_token(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<TokenRequest>,
) -> Result<(StatusCode, Json<IssuedToken>), ApiError> {
    if request.name.trim().is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            "`name` must not be empty",
        ));
    }
    let issued = state.auth.issue(&request.name, request.role, None).await?;
    Ok((StatusCode::CREATED, Json(issued)))
}

pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", "no such route")
}

/// This document (OpenAPI 3.1), generated from the handlers and their types.
#[utoipa::path(get, path = "/openapi.json", tag = "meta", operation_id = "apiDocument",
    responses((status = 200, description = "The API document", body = Object)))]
pub async fn openapi(Extension(document): Extension<Arc<ApiDocument>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        document.json.clone(),
    )
}

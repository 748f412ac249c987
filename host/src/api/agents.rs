//! Agents and their tokens: list and remove agents; issue (admin), list and
//! revoke (admin) tokens. Revoking a token disconnects its agents at once.

use axum::Json;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};

use super::AppState;
use super::error::{ApiError, ApiJson, ErrorBody};
use crate::agent::hub::AgentStatus;
use crate::agent::tokens::IssuedAgentToken;
use crate::store::AgentTokenRecord;

/// The longest an agent token can be issued for: ten years.
const MAX_TOKEN_LIFETIME_SECONDS: u64 = 10 * 365 * 24 * 60 * 60;

/// An agent token to issue.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentTokenRequest {
    /// A label (not blank).
    #[schema(min_length = 1, pattern = r"\S")]
    name: String,
    /// After this many seconds (at most ten years) the token no longer
    /// registers agents.
    #[serde(default, deserialize_with = "crate::model::whole_number::optional_u64")]
    #[schema(minimum = 0, maximum = 315_360_000)]
    expires_in_seconds: Option<u64>,
    /// The only connectors agents registering with it may claim (any when
    /// absent).
    #[serde(default)]
    #[schema(schema_with = connector_names)]
    connectors: Option<Vec<String>>,
}

/// At least one connector name, none blank; or null.
fn connector_names() -> utoipa::openapi::schema::Array {
    ArrayBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
            Type::Array,
            Type::Null,
        ]))
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .pattern(Some(r"\S")),
        )
        .min_items(Some(1))
        .description(Some(
            "The only connectors agents registering with this token may claim (any when absent).",
        ))
        .build()
}

/// Issue an agent token for `floh agent --token`; the secret is shown
/// this once.
#[utoipa::path(post, path = "/agents/tokens", tag = "agents", operation_id = "createAgentToken",
    request_body = AgentTokenRequest,
    responses(
        (status = 201, description = "Issued", body = IssuedAgentToken),
        (status = 400, description = "`VALIDATION_ERROR`: blank name or connector names", body = ErrorBody),
    ))]
pub async fn create_token(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<AgentTokenRequest>,
) -> Result<(StatusCode, Json<IssuedAgentToken>), ApiError> {
    if request.name.trim().is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            "`name` must not be empty",
        ));
    }
    if request
        .expires_in_seconds
        .is_some_and(|seconds| seconds > MAX_TOKEN_LIFETIME_SECONDS)
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            format!("`expiresInSeconds` must be at most {MAX_TOKEN_LIFETIME_SECONDS} (ten years)"),
        ));
    }
    if let Some(connectors) = &request.connectors
        && (connectors.is_empty() || connectors.iter().any(|c| c.trim().is_empty()))
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            "`connectors` must list connector names (omit it to allow any)",
        ));
    }
    let issued = state
        .agent_tokens
        .issue(
            &request.name,
            request.expires_in_seconds,
            request.connectors,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(issued)))
}

/// Agent tokens, without their secrets.
#[utoipa::path(get, path = "/agents/tokens", tag = "agents", operation_id = "listAgentTokens",
    responses((status = 200, description = "Every agent token", body = Vec<AgentTokenRecord>)))]
pub async fn list_tokens(
    State(state): State<AppState>,
) -> Result<Json<Vec<AgentTokenRecord>>, ApiError> {
    Ok(Json(state.agent_tokens.list().await?))
}

/// Revoke an agent token; its agents are disconnected at once.
#[utoipa::path(delete, path = "/agents/tokens/{id}", tag = "agents", operation_id = "revokeAgentToken",
    params(("id" = String, Path, description = "Agent token id")),
    responses(
        (status = 200, description = "Revoked", body = AgentTokenRecord),
        (status = 404, description = "`TOKEN_NOT_FOUND`", body = ErrorBody),
    ))]
pub async fn revoke_token(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<AgentTokenRecord>, ApiError> {
    let revoked = state.agent_tokens.revoke(&id).await?;
    if revoked.is_some() {
        let closed = state.agents.evict_token(&id);
        tracing::info!(token = %id, closed, "agent token revoked");
    }
    revoked.map(Json).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "TOKEN_NOT_FOUND",
            format!("no agent token with id `{id}`"),
        )
    })
}

/// On-premise agents: status, connectors, version, last heartbeat, commands
/// in flight.
#[utoipa::path(get, path = "/agents", tag = "agents", operation_id = "listAgents",
    responses((status = 200, description = "Connected and recently connected agents", body = Vec<AgentStatus>)))]
pub async fn list(State(state): State<AppState>) -> Json<Vec<AgentStatus>> {
    Json(state.agents.list())
}

/// Forget an agent: it is disconnected and its connectors run on the server
/// again.
#[utoipa::path(delete, path = "/agents/{id}", tag = "agents", operation_id = "removeAgent",
    params(("id" = String, Path, description = "Agent id")),
    responses(
        (status = 204, description = "Forgotten"),
        (status = 404, description = "`AGENT_NOT_FOUND`", body = ErrorBody),
    ))]
pub async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let removed =
        crate::agent::hub::remove_anywhere(&state.agents, &state.agent_endpoint.store, &id).await?;
    if removed {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "AGENT_NOT_FOUND",
            format!("no agent with id `{id}`"),
        ))
    }
}

/// The agent WebSocket. Agents authenticate with the agent token in their
/// registration message (see the README), not with a bearer token.
#[utoipa::path(get, path = "/connectors/agents/ws", tag = "agents", operation_id = "agentSocket",
    responses(
        (status = 101, description = "Switching to the agent protocol"),
        (status = 400, description = "`NOT_A_WEBSOCKET`: not a WebSocket upgrade request", body = ErrorBody),
        (status = 426, description = "`NOT_A_WEBSOCKET`: the connection cannot be upgraded", body = ErrorBody),
    ))]
pub async fn socket(
    State(state): State<AppState>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let upgrade =
        upgrade.map_err(|e| ApiError::new(e.status(), "NOT_A_WEBSOCKET", e.body_text()))?;
    Ok(crate::agent::endpoint::upgrade(State(state.agent_endpoint.clone()), upgrade).await)
}

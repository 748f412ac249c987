//! Agents and their tokens: list and remove agents; issue (admin), list and
//! revoke (admin) tokens. Revoking a token disconnects its agents at once.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::AppState;
use super::error::{ApiError, ApiJson};
use crate::agent::hub::AgentStatus;
use crate::agent::tokens::{IssuedAgentToken, check_request, revoke_and_disconnect};
use crate::store::AgentTokenRecord;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentTokenRequest {
    name: String,
    #[serde(default)]
    expires_in_seconds: Option<u64>,
    #[serde(default)]
    connectors: Option<Vec<String>>,
}

pub async fn create_token(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<AgentTokenRequest>,
) -> Result<(StatusCode, Json<IssuedAgentToken>), ApiError> {
    check_request(&request.name, request.connectors.as_deref())
        .map_err(|message| ApiError::new(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", message))?;
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

pub async fn list_tokens(
    State(state): State<AppState>,
) -> Result<Json<Vec<AgentTokenRecord>>, ApiError> {
    Ok(Json(state.agent_tokens.list().await?))
}

pub async fn revoke_token(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<AgentTokenRecord>, ApiError> {
    let revoked = revoke_and_disconnect(&state.agent_tokens, &state.agents, &id).await?;
    revoked.map(Json).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "TOKEN_NOT_FOUND",
            format!("no agent token with id `{id}`"),
        )
    })
}

pub async fn list(State(state): State<AppState>) -> Json<Vec<AgentStatus>> {
    Json(state.agents.list())
}

pub async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if state.agents.remove(&id) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "AGENT_NOT_FOUND",
            format!("no agent with id `{id}`"),
        ))
    }
}

//! `/api/connectors` handlers.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::AppState;
use super::error::{ApiError, ApiJson};
use crate::model::{ConnectorDefinition, ConnectorPatch};
use crate::service::{
    ConnectorView, ExecuteRequest, ExecutionResponse, ListFilter, RecentExecution, ScriptCheck,
    ScriptCheckRequest,
};
use crate::store::{ExecutionRecord, ExecutionSummary};

type ApiResult<T> = Result<T, ApiError>;

pub async fn list(
    State(state): State<AppState>,
    filter: Result<Query<ListFilter>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Vec<ConnectorView>>> {
    let Query(filter) = filter
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "INVALID_QUERY", e.body_text()))?;
    Ok(Json(state.service.list(&filter).await?))
}

pub async fn create(
    State(state): State<AppState>,
    ApiJson(definition): ApiJson<ConnectorDefinition>,
) -> ApiResult<(StatusCode, Json<ConnectorView>)> {
    let view = state.service.create(definition).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// `POST /api/connectors/check-script`: compile a script and list what is
/// wrong with it, saving nothing.
pub async fn check_script(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<ScriptCheckRequest>,
) -> ApiResult<Json<ScriptCheck>> {
    Ok(Json(state.service.check_script(&request).await?))
}

pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<ConnectorView>> {
    Ok(Json(state.service.get(&id).await?))
}

pub async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<ConnectorPatch>,
) -> ApiResult<Json<ConnectorView>> {
    Ok(Json(state.service.update(&id, patch).await?))
}

pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.service.delete(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn execute(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<ExecuteRequest>,
) -> ApiResult<Json<ExecutionResponse>> {
    let response = state.service.execute(&id, request).await?;
    state.metrics.observe(&response);
    Ok(Json(response))
}

pub async fn test(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<ExecutionResponse>> {
    let response = state.service.test(&id).await?;
    state.metrics.observe(&response);
    Ok(Json(response))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    limit: Option<usize>,
}

pub async fn executions(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HistoryQuery>,
) -> ApiResult<Json<Vec<ExecutionRecord>>> {
    let limit = query
        .limit
        .unwrap_or(50)
        .min(crate::service::HISTORY_PER_CONNECTOR);
    Ok(Json(state.service.executions(&id, limit).await?))
}

/// `GET /api/connectors/{id}/executions/{executionId}`: one execution of the
/// history, with its logs and HTTP calls.
pub async fn execution(
    State(state): State<AppState>,
    Path((id, execution_id)): Path<(String, String)>,
) -> ApiResult<Json<ExecutionRecord>> {
    Ok(Json(state.service.execution(&id, &execution_id).await?))
}

/// `GET /api/executions`: the newest executions across connectors.
pub async fn recent(
    State(state): State<AppState>,
    Query(query): Query<HistoryQuery>,
) -> ApiResult<Json<Vec<RecentExecution>>> {
    let limit = query.limit.unwrap_or(50).min(crate::store::RECENT_KEPT);
    Ok(Json(state.service.recent_executions(limit).await?))
}

/// `GET /api/activity`: each connector's latest outcomes, oldest first.
pub async fn activity(
    State(state): State<AppState>,
) -> ApiResult<Json<std::collections::HashMap<String, Vec<ExecutionSummary>>>> {
    Ok(Json(state.service.activity().await?))
}

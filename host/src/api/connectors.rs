//! `/api/connectors` handlers.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::AppState;
use super::error::{ApiError, ApiJson, ApiQuery, ErrorBody};
use crate::model::{ConnectorDefinition, ConnectorPatch};
use crate::service::{
    ConnectorSummary, ConnectorView, ExecuteRequest, ExecutionResponse, ListFilter,
    RecentExecution, ScriptCheck, ScriptCheckRequest,
};
use crate::store::{ExecutionRecord, ExecutionSummary};

type ApiResult<T> = Result<T, ApiError>;

/// List connectors by name: a summary of each (id, name, type, model,
/// description, category, tags, command names, whether a config is
/// stored) with its newest execution (`lastExecution`). Configs, scripts and
/// specs are not listed: get one connector for its whole definition.
#[utoipa::path(get, path = "/connectors", tag = "connectors", operation_id = "listConnectors",
    params(ListFilter),
    responses((status = 200, description = "The matching connectors", body = Vec<ConnectorSummary>)))]
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(filter): ApiQuery<ListFilter>,
) -> ApiResult<Json<Vec<ConnectorSummary>>> {
    Ok(Json(state.service.list(&filter).await?))
}

/// Create a connector. Scripts are compiled, configs checked against the
/// schema and encrypted; secrets come back masked.
#[utoipa::path(post, path = "/connectors", tag = "connectors", operation_id = "createConnector",
    request_body = ConnectorDefinition,
    responses(
        (status = 201, description = "Created", body = ConnectorView),
        (status = 400, description = "Invalid definition: `VALIDATION_ERROR`, `SCRIPT_SYNTAX_ERROR` (with `line` and `column`), `UNKNOWN_TYPE` (with `registeredTypes`)", body = ErrorBody),
        (status = 409, description = "`NAME_TAKEN`: another connector has this name", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    ApiJson(definition): ApiJson<ConnectorDefinition>,
) -> ApiResult<(StatusCode, Json<ConnectorView>)> {
    let view = state.service.create(definition).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Compile a script and list what is wrong with it (syntax errors with line
/// and column, declared commands it does not define), saving nothing.
#[utoipa::path(post, path = "/connectors/check-script", tag = "connectors", operation_id = "checkScript",
    request_body = ScriptCheckRequest,
    responses((status = 200, description = "The diagnostics; `ok` when none is an error", body = ScriptCheck)))]
pub async fn check_script(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<ScriptCheckRequest>,
) -> ApiResult<Json<ScriptCheck>> {
    Ok(Json(state.service.check_script(&request).await?))
}

/// One connector, by id or name (secrets masked).
#[utoipa::path(get, path = "/connectors/{id}", tag = "connectors", operation_id = "getConnector",
    params(("id" = String, Path, description = "Connector id or name")),
    responses(
        (status = 200, description = "The connector", body = ConnectorView),
        (status = 404, description = "`CONNECTOR_NOT_FOUND`", body = ErrorBody),
    ))]
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<ConnectorView>> {
    Ok(Json(state.service.get(&id).await?))
}

/// Update the fields given; a config field sent as the mask (`***`) keeps
/// its stored secret. A new `openapiSpec` regenerates an `oas` connector.
#[utoipa::path(put, path = "/connectors/{id}", tag = "connectors", operation_id = "updateConnector",
    params(("id" = String, Path, description = "Connector id or name")),
    request_body = ConnectorPatch,
    responses(
        (status = 200, description = "Updated", body = ConnectorView),
        (status = 400, description = "The updated definition is invalid (as for create)", body = ErrorBody),
        (status = 404, description = "`CONNECTOR_NOT_FOUND`", body = ErrorBody),
        (status = 409, description = "`NAME_TAKEN`", body = ErrorBody),
    ))]
pub async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<ConnectorPatch>,
) -> ApiResult<Json<ConnectorView>> {
    Ok(Json(state.service.update(&id, patch).await?))
}

/// Delete a connector and its execution history.
#[utoipa::path(delete, path = "/connectors/{id}", tag = "connectors", operation_id = "deleteConnector",
    params(("id" = String, Path, description = "Connector id or name")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "`CONNECTOR_NOT_FOUND`", body = ErrorBody),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.service.delete(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Run a command. A command that ran answers 200 whether it succeeded or
/// not: see `success`, `error` and `errorCode`.
#[utoipa::path(post, path = "/connectors/{id}/execute", tag = "connectors", operation_id = "executeCommand",
    params(("id" = String, Path, description = "Connector id or name")),
    request_body = ExecuteRequest,
    responses(
        (status = 200, description = "The command ran (or failed while running)", body = ExecutionResponse),
        (status = 400, description = "`INVALID_PARAMS`: params do not fit the command's `paramSchema`; `UNKNOWN_COMMAND` (with `knownCommands`): the connector has no such command", body = ErrorBody),
        (status = 404, description = "`CONNECTOR_NOT_FOUND`", body = ErrorBody),
        (status = 409, description = "`TYPE_UNAVAILABLE`: the connector's built-in type is not registered any more", body = ErrorBody),
        (status = 429, description = "`RATE_LIMITED`: the connector's executions are over their rate limit (`--rate-limit-execute`)", body = ErrorBody),
    ))]
pub async fn execute(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<ExecuteRequest>,
) -> ApiResult<Json<ExecutionResponse>> {
    let response = state.service.execute(&id, request).await?;
    state.metrics.observe(&response);
    Ok(Json(response))
}

/// Run the connector's `test` command (an external service's `/health`).
#[utoipa::path(post, path = "/connectors/{id}/test", tag = "connectors", operation_id = "testConnector",
    params(("id" = String, Path, description = "Connector id or name")),
    responses(
        (status = 200, description = "The test ran (or failed while running)", body = ExecutionResponse),
        (status = 400, description = "`INVALID_PARAMS`: the `test` command requires params; `UNKNOWN_COMMAND`: the connector has no `test` command", body = ErrorBody),
        (status = 404, description = "`CONNECTOR_NOT_FOUND`", body = ErrorBody),
        (status = 409, description = "`TYPE_UNAVAILABLE`", body = ErrorBody),
        (status = 429, description = "`RATE_LIMITED`: the connector's executions are over their rate limit (`--rate-limit-execute`)", body = ErrorBody),
    ))]
pub async fn test(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<ExecutionResponse>> {
    let response = state.service.test(&id).await?;
    state.metrics.observe(&response);
    Ok(Json(response))
}

/// Which executions to list.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// How many, newest first (default 50; at most the 100 kept).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<usize>,
}

/// A connector's recent executions, newest first.
#[utoipa::path(get, path = "/connectors/{id}/executions", tag = "connectors", operation_id = "listExecutions",
    params(("id" = String, Path, description = "Connector id or name"), HistoryQuery),
    responses(
        (status = 200, description = "Newest first", body = Vec<ExecutionRecord>),
        (status = 404, description = "`CONNECTOR_NOT_FOUND`", body = ErrorBody),
    ))]
pub async fn executions(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> ApiResult<Json<Vec<ExecutionRecord>>> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=crate::service::HISTORY_PER_CONNECTOR).contains(&limit) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_QUERY",
            format!(
                "`limit` must be between 1 and {}",
                crate::service::HISTORY_PER_CONNECTOR
            ),
        ));
    }
    Ok(Json(state.service.executions(&id, limit).await?))
}

/// One execution of a connector's history, with its logs and HTTP calls.
#[utoipa::path(get, path = "/connectors/{id}/executions/{executionId}", tag = "connectors", operation_id = "getExecution",
    params(
        ("id" = String, Path, description = "Connector id or name"),
        ("executionId" = String, Path, description = "Execution id"),
    ),
    responses(
        (status = 200, description = "The execution", body = ExecutionRecord),
        (status = 404, description = "`CONNECTOR_NOT_FOUND` or `EXECUTION_NOT_FOUND`", body = ErrorBody),
    ))]
pub async fn execution(
    State(state): State<AppState>,
    Path((id, execution_id)): Path<(String, String)>,
) -> ApiResult<Json<ExecutionRecord>> {
    Ok(Json(state.service.execution(&id, &execution_id).await?))
}

/// How many recent executions to list.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RecentQuery {
    /// How many, newest first (default 50; at most the 500 kept).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<usize>,
}

/// The newest executions across connectors (summaries: no logs or HTTP
/// calls), newest first.
#[utoipa::path(get, path = "/executions", tag = "connectors", operation_id = "listRecentExecutions",
    params(RecentQuery),
    responses(
        (status = 200, description = "Newest first", body = Vec<RecentExecution>),
    ))]
pub async fn recent(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<RecentQuery>,
) -> ApiResult<Json<Vec<RecentExecution>>> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=crate::store::RECENT_KEPT).contains(&limit) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_QUERY",
            format!(
                "`limit` must be between 1 and {}",
                crate::store::RECENT_KEPT
            ),
        ));
    }
    Ok(Json(state.service.recent_executions(limit).await?))
}

/// Each connector's latest execution outcomes (up to 30, oldest first), by
/// connector name.
#[utoipa::path(get, path = "/activity", tag = "connectors", operation_id = "getActivity",
    responses(
        (status = 200, description = "Outcomes by connector name", body = std::collections::HashMap<String, Vec<ExecutionSummary>>),
    ))]
pub async fn activity(
    State(state): State<AppState>,
) -> ApiResult<Json<std::collections::HashMap<String, Vec<ExecutionSummary>>>> {
    Ok(Json(state.service.activity().await?))
}

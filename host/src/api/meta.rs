//! Health, metrics, the host's own OpenAPI document, connector types and
//! token issuing.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::auth::IssuedToken;
use super::error::{ApiError, ApiJson};
use crate::connectors::TypeDescriptor;
use crate::plugins::PluginStatus;
use crate::store::Role;

pub async fn health() -> Json<Value> {
    Json(json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}))
}

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(&state.agents.list()),
    )
}

pub async fn connector_types(State(state): State<AppState>) -> Json<Vec<TypeDescriptor>> {
    Json(state.service.types().descriptors())
}

/// `GET /api/plugins`: every file of the plugin directory, loaded or refused.
pub async fn plugins(State(state): State<AppState>) -> Json<Vec<PluginStatus>> {
    match &state.plugins {
        Some(directory) => Json(directory.statuses()),
        None => Json(Vec::new()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    name: String,
    #[serde(default = "default_role")]
    role: Role,
}

fn default_role() -> Role {
    Role::Executor
}

pub async fn create_token(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<TokenRequest>,
) -> Result<(StatusCode, Json<IssuedToken>), ApiError> {
    let issued = state.auth.issue(&request.name, request.role, None).await?;
    Ok((StatusCode::CREATED, Json(issued)))
}

/// `GET /api/tokens`: every API token (never its secret), newest first.
pub async fn list_tokens(
    State(state): State<AppState>,
) -> Result<Json<Vec<crate::store::TokenRecord>>, ApiError> {
    Ok(Json(state.auth.list().await?))
}

/// `DELETE /api/tokens/{id}`: revoke an API token; its browser sessions end
/// with it.
pub async fn revoke_token(
    State(state): State<AppState>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Json<crate::store::TokenRecord>, ApiError> {
    Ok(Json(state.auth.revoke(&id).await?))
}

pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", "no such route")
}

pub async fn openapi() -> Json<Value> {
    Json(api_document())
}

/// The host's own API description (OpenAPI 3.1).
fn api_document() -> Value {
    let error = json!({"$ref": "#/components/schemas/Error"});
    let id = json!({"name": "id", "in": "path", "required": true, "description": "connector id or name", "schema": {"type": "string"}});
    let errors = json!({
        "400": {"description": "invalid request", "content": {"application/json": {"schema": error}}},
        "401": {"description": "missing or invalid token", "content": {"application/json": {"schema": error}}},
        "403": {"description": "the token's role does not allow this", "content": {"application/json": {"schema": error}}},
        "404": {"description": "no such connector or command", "content": {"application/json": {"schema": error}}}
    });
    let json_body = |schema: &str| json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}});
    let ok = |schema: Value| json!({"description": "OK", "content": {"application/json": {"schema": schema}}});
    let with_errors = |mut responses: Value| {
        if let (Some(target), Some(source)) = (responses.as_object_mut(), errors.as_object()) {
            target.extend(source.clone());
        }
        responses
    };
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Floh connector host", "version": env!("CARGO_PKG_VERSION")},
        "security": [{"bearer": []}],
        "paths": {
            "/api/health": {"get": {"security": [], "summary": "Liveness", "responses": {"200": ok(json!({"type": "object"}))}}},
            "/api/connectors": {
                "get": {"summary": "List connectors", "parameters": [
                    {"name": "category", "in": "query", "schema": {"type": "string"}},
                    {"name": "tag", "in": "query", "schema": {"type": "string"}},
                    {"name": "model", "in": "query", "schema": {"enum": ["built_in", "script", "external", "oas"]}},
                    {"name": "q", "in": "query", "schema": {"type": "string"}}
                ], "responses": with_errors(json!({"200": ok(json!({"type": "array", "items": {"$ref": "#/components/schemas/Connector"}}))}))},
                "post": {"summary": "Create a connector", "requestBody": json_body("ConnectorDefinition"),
                    "responses": with_errors(json!({"201": ok(json!({"$ref": "#/components/schemas/Connector"})), "409": {"description": "name taken"}}))}
            },
            "/api/connectors/{id}": {
                "parameters": [id],
                "get": {"summary": "Get a connector (secrets masked)", "responses": with_errors(json!({"200": ok(json!({"$ref": "#/components/schemas/Connector"}))}))},
                "put": {"summary": "Update a connector (fields given; a masked secret keeps its value)", "requestBody": json_body("ConnectorDefinition"),
                    "responses": with_errors(json!({"200": ok(json!({"$ref": "#/components/schemas/Connector"}))}))},
                "delete": {"summary": "Delete a connector", "responses": with_errors(json!({"204": {"description": "deleted"}}))}
            },
            "/api/connectors/check-script": {"post": {"summary": "Compile a script and report syntax errors and declared commands it does not define; saves nothing (admin)",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["scriptSource"], "additionalProperties": false, "properties": {"scriptSource": {"type": "string"}, "commands": {"type": "array", "items": {"type": "string"}}}}}}},
                "responses": with_errors(json!({"200": ok(json!({"type": "object", "required": ["ok", "diagnostics"], "properties": {"ok": {"type": "boolean"}, "diagnostics": {"type": "array", "items": {"type": "object", "required": ["severity", "code", "message"], "properties": {"severity": {"enum": ["error", "warning"]}, "code": {"type": "string"}, "message": {"type": "string"}, "line": {"type": "integer"}, "column": {"type": "integer"}}}}}}))}))}},
            "/api/connectors/script-template": {"post": {"summary": "A script defining every declared command, to start editing from; saves nothing (admin)",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false, "properties": {"name": {"type": "string"}, "configSchema": {"type": "object"}}}}}},
                "responses": with_errors(json!({"200": ok(json!({"type": "object", "required": ["scriptSource"], "properties": {"scriptSource": {"type": "string"}}}))}))}},
            "/api/connectors/probe-external": {"post": {"summary": "Ask an external service for GET /schema and GET /health before registering it (admin)",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["endpointUrl"], "additionalProperties": false, "properties": {"endpointUrl": {"type": "string"}, "allowedNetworks": {"type": "array", "items": {"type": "string"}}}}}}},
                "responses": with_errors(json!({"200": ok(json!({"type": "object", "properties": {"schema": {"type": "object", "description": "its configSchema, when /schema answered one"}, "health": {"type": "object", "description": "the /health result; absent when it has none"}}}))}))}},
            "/api/connectors/{id}/reimport-preview": {"parameters": [id], "post": {"summary": "What re-importing an OpenAPI description into an oas connector would change (added, removed, changed commands); replaces nothing (admin)",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["spec"], "additionalProperties": false, "properties": {"spec": {"description": "object or JSON/YAML text"}, "select": {"type": "object"}}}}}},
                "responses": with_errors(json!({"200": ok(json!({"type": "object", "required": ["added", "removed", "changed", "unchanged"], "properties": {"added": {"type": "array", "items": {"type": "string"}}, "removed": {"type": "array", "items": {"type": "string"}}, "changed": {"type": "array", "items": {"type": "object"}}, "unchanged": {"type": "array", "items": {"type": "string"}}, "configFieldsAdded": {"type": "array"}, "configFieldsRemoved": {"type": "array"}, "select": {"type": "object"}, "operations": {"type": "array"}, "skipped": {"type": "array"}}}))}))}},
            "/api/connectors/{id}/execute": {"parameters": [id], "post": {"summary": "Execute a command", "requestBody": json_body("ExecuteRequest"),
                "responses": with_errors(json!({"200": ok(json!({"$ref": "#/components/schemas/Execution"}))}))}},
            "/api/connectors/{id}/test": {"parameters": [id], "post": {"summary": "Run the connector's test", "responses": with_errors(json!({"200": ok(json!({"$ref": "#/components/schemas/Execution"}))}))}},
            "/api/connectors/{id}/executions": {"parameters": [id], "get": {"summary": "Recent executions", "responses": with_errors(json!({"200": ok(json!({"type": "array"}))}))}},
            "/api/connector-types": {"get": {"summary": "Registered built-in types", "responses": with_errors(json!({"200": ok(json!({"type": "array"}))}))}},
            "/api/plugins": {"get": {"summary": "Files of the plugin directory: loaded or refused, with the reason", "responses": with_errors(json!({"200": ok(json!({"type": "array"}))}))}},
            "/api/tokens": {"post": {"summary": "Issue an API token (admin)", "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}, "role": {"enum": ["admin", "executor"]}}}}}},
                "responses": with_errors(json!({"201": ok(json!({"type": "object"}))}))}},
            "/api/agents/tokens": {
                "get": {"summary": "List agent tokens (no secrets)", "responses": with_errors(json!({"200": ok(json!({"type": "array", "items": {"type": "object"}}))}))},
                "post": {"summary": "Issue an agent token (admin; shown once)", "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}, "expiresInSeconds": {"type": "integer", "minimum": 0}, "connectors": {"type": "array", "items": {"type": "string"}, "minItems": 1, "description": "the only connectors the token may claim"}}}}}},
                    "responses": with_errors(json!({"201": ok(json!({"type": "object"}))}))}
            },
            "/api/agents/tokens/{tokenId}": {
                "delete": {"summary": "Revoke an agent token (admin); its agents are disconnected", "parameters": [{"name": "tokenId", "in": "path", "required": true, "schema": {"type": "string"}}],
                    "responses": with_errors(json!({"200": ok(json!({"type": "object"}))}))}
            },
            "/api/agents": {"get": {"summary": "On-premise agents: status, connectors, version, last heartbeat, commands in flight", "responses": with_errors(json!({"200": ok(json!({"type": "array", "items": {"type": "object"}}))}))}},
            "/api/agents/{agentId}": {
                "delete": {"summary": "Forget an agent (admin): disconnects it; its connectors run on the server again", "parameters": [{"name": "agentId", "in": "path", "required": true, "schema": {"type": "string"}}],
                    "responses": with_errors(json!({"204": {"description": "forgotten"}}))}
            },
            "/api/connectors/agents/ws": {"get": {"security": [], "summary": "The agent WebSocket (upgrade); authenticated by the agent token in the registration message (see the README)",
                "responses": {"101": {"description": "switching protocols"}}}}
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
                "ConnectorDefinition": {"type": "object", "required": ["name", "executionModel"], "properties": {
                    "name": {"type": "string"}, "type": {"type": "string"}, "description": {"type": "string"}, "version": {"type": "string"},
                    "executionModel": {"enum": ["built_in", "script", "external", "oas"]}, "category": {"type": "string"},
                    "tags": {"type": "array", "items": {"type": "string"}}, "configSchema": {"type": "object"}, "config": {"type": "object"},
                    "scriptSource": {"type": "string"}, "endpointUrl": {"type": "string"}, "logLevel": {"enum": ["trace", "debug", "info", "warn", "error"]},
                    "allowedNetworks": {"type": "array", "items": {"type": "string"}},
                    "openapiSpec": {"description": "oas connectors: the OpenAPI description (object or JSON/YAML text)"}, "openapiSelect": {"type": "object"}
                }},
                "Connector": {"allOf": [{"$ref": "#/components/schemas/ConnectorDefinition"}, {"type": "object", "properties": {"id": {"type": "string"}, "createdAtMs": {"type": "integer"}, "updatedAtMs": {"type": "integer"}}}]},
                "ExecuteRequest": {"type": "object", "required": ["command"], "properties": {"command": {"type": "string"}, "params": {"type": "object"}, "variables": {"type": "object"},
                    "metadata": {"type": "object", "properties": {"stepId": {"type": "string"}, "runId": {"type": "string"}, "timeout": {"type": "integer", "description": "milliseconds"}}}}},
                "Execution": {"type": "object", "properties": {"executionId": {"type": "string"}, "success": {"type": "boolean"}, "data": {}, "outputVariables": {"type": "object"},
                    "error": {"type": "string"}, "errorCode": {"type": "string"}, "durationMs": {"type": "integer"}, "logs": {"type": "array"}, "httpCalls": {"type": "array"}}}
            }
        }
    })
}

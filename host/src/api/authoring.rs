//! Helping people write connectors before anything is saved: a script
//! template for declared commands, what an external service says about
//! itself, and what re-importing an OpenAPI description would change. The
//! web UI's wizard and import pages call the same service functions.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::{ApiError, ApiJson, ErrorBody};
use crate::model::{ConfigSchema, OpenApiSpec};
use crate::oas::Selection;
use crate::service::{ConnectorService, ExternalProbe, ReimportPreview};

/// The connector a script template is for.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({
    "name": "my-crm",
    "configSchema": {
        "connectionConfig": {
            "baseUrl": {"type": "string", "required": true},
            "apiKey": {"type": "string", "required": true, "secret": true}
        },
        "commands": {"listContacts": {"params": ["limit"], "outputs": ["contacts", "total"]}}
    }
}))]
pub struct ScriptTemplateRequest {
    /// The connector's name (named in the script's header comment).
    #[serde(default)]
    pub name: String,
    /// Its connection-config fields and commands.
    #[serde(default)]
    pub config_schema: ConfigSchema,
}

/// A script to start from.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScriptTemplate {
    /// JavaScript defining one global function per declared command; it
    /// compiles and passes `POST /api/connectors/check-script` as it is.
    pub script_source: String,
}

/// Start a script from the declared commands: one function per command
/// that calls the configured base URL (sending the first secret field as a
/// bearer token) and returns the documented result shape. Saves nothing.
#[utoipa::path(post, path = "/connectors/script-template", tag = "connectors", operation_id = "scriptTemplate",
    request_body = ScriptTemplateRequest,
    responses((status = 200, description = "The script", body = ScriptTemplate)))]
pub async fn script_template(
    ApiJson(request): ApiJson<ScriptTemplateRequest>,
) -> Result<Json<ScriptTemplate>, ApiError> {
    let name = if request.name.trim().is_empty() {
        "connector"
    } else {
        request.name.as_str()
    };
    Ok(Json(ScriptTemplate {
        script_source: ConnectorService::script_template(name, &request.config_schema),
    }))
}

/// An external service to ask about itself.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"endpointUrl": "https://connectors.example.com/crm"}))]
pub struct ProbeRequest {
    /// The service's base URL (`/schema` and `/health` are asked below it).
    #[schema(pattern = "^https?://")]
    pub endpoint_url: String,
    /// Private networks (CIDR) the connector would be allowed to reach, as
    /// in its definition's `allowedNetworks`.
    #[serde(default)]
    pub allowed_networks: Vec<String>,
}

/// Ask an external service for its `GET /schema` (its commands and config
/// fields, to prefill a definition) and `GET /health`, under the egress
/// policy the connector would have. Saves nothing; a service that does not
/// answer gives a `health` with the cause and no `schema`.
#[utoipa::path(post, path = "/connectors/probe-external", tag = "connectors", operation_id = "probeExternal",
    request_body = ProbeRequest,
    responses(
        (status = 200, description = "What the service answered", body = ExternalProbe),
        (status = 400, description = "`VALIDATION_ERROR`: not an absolute http(s) URL, or a network that is not CIDR", body = ErrorBody),
    ))]
pub async fn probe_external(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<ProbeRequest>,
) -> Result<Json<ExternalProbe>, ApiError> {
    let probe = state
        .service
        .probe_external(&request.endpoint_url, &request.allowed_networks)
        .await?;
    Ok(Json(probe))
}

/// A new version of an `oas` connector's OpenAPI description.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({
    "spec": {
        "openapi": "3.0.3",
        "info": {"title": "Things", "version": "2.0.0"},
        "servers": [{"url": "https://api.example.com"}],
        "paths": {"/things": {"get": {"operationId": "listThings", "responses": {"200": {"description": "The things"}}}}}
    }
}))]
pub struct ReimportRequest {
    /// The new description: an object, or JSON or YAML text.
    pub spec: OpenApiSpec,
    /// The operations to import; by default the connector's own selection
    /// plus every operation the new description adds.
    #[serde(default)]
    pub select: Option<Selection>,
}

/// What re-importing a new OpenAPI description into an `oas` connector
/// would change: commands added, removed and changed, config fields added
/// and removed. Nothing is replaced; apply it with `PUT
/// /api/connectors/{id}` and `openapiSpec` + `openapiSelect` (the
/// connection config is kept).
#[utoipa::path(post, path = "/connectors/{id}/reimport-preview", tag = "connectors", operation_id = "reimportPreview",
    params(("id" = String, Path, description = "Connector id or name")),
    request_body = ReimportRequest,
    responses(
        (status = 200, description = "The differences", body = ReimportPreview),
        (status = 400, description = "`INVALID_SPEC`: not a usable OpenAPI description; `VALIDATION_ERROR`: the connector was not imported from OpenAPI", body = ErrorBody),
        (status = 404, description = "`CONNECTOR_NOT_FOUND`", body = ErrorBody),
    ))]
pub async fn reimport_preview(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<ReimportRequest>,
) -> Result<Json<ReimportPreview>, ApiError> {
    let preview = state
        .service
        .reimport_preview(&id, request.spec, request.select)
        .await?;
    Ok(Json(preview))
}

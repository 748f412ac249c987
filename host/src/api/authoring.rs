//! Authoring help that saves nothing: a script template for declared
//! commands, probing an external service, previewing an OpenAPI re-import.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::AppState;
use super::error::{ApiError, ApiJson};
use crate::model::ConfigSchema;
use crate::oas::Selection;
use crate::service::{ConnectorService, ExternalProbe, ReimportPreview};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TemplateRequest {
    /// The connector's name (for the header comment).
    #[serde(default)]
    name: String,
    /// The declared commands and connection config.
    #[serde(default)]
    config_schema: ConfigSchema,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateResponse {
    script_source: String,
}

/// `POST /api/connectors/script-template`.
pub async fn script_template(ApiJson(request): ApiJson<TemplateRequest>) -> Json<TemplateResponse> {
    Json(TemplateResponse {
        script_source: ConnectorService::script_template(&request.name, &request.config_schema),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProbeRequest {
    endpoint_url: String,
    #[serde(default)]
    allowed_networks: Vec<String>,
}

/// `POST /api/connectors/probe-external`.
pub async fn probe_external(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<ProbeRequest>,
) -> Result<Json<ExternalProbe>, ApiError> {
    Ok(Json(
        state
            .service
            .probe_external(&request.endpoint_url, &request.allowed_networks)
            .await?,
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReimportRequest {
    spec: Value,
    #[serde(default)]
    select: Option<Selection>,
}

/// `POST /api/connectors/{id}/reimport-preview`.
pub async fn reimport_preview(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<ReimportRequest>,
) -> Result<Json<ReimportPreview>, ApiError> {
    Ok(Json(
        state
            .service
            .reimport_preview(&id, request.spec, request.select)
            .await?,
    ))
}

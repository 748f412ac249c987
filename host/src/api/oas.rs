//! `POST /api/connectors/parse-oas`: a spec in, a draft connector out.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::Value;

use super::AppState;
use super::error::{ApiError, ApiJson};
use crate::oas::{Draft, Selection};
use crate::service::OpenApiParse;

/// Specs can be large (GitHub's is ~13 MB of JSON).
pub const MAX_SPEC_BODY_BYTES: usize = 64 * 1024 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParseRequest {
    /// The spec: an object, or JSON/YAML text.
    spec: Value,
    /// Optional subset of operations.
    #[serde(default)]
    select: Selection,
    /// Where a spec with relative server URLs is served (e.g.
    /// `https://api.example.com`): the draft's `baseUrl` becomes this base
    /// joined with the server's path.
    #[serde(default, rename = "baseUrl")]
    base_url: Option<String>,
}

pub async fn parse(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<ParseRequest>,
) -> Result<Json<Draft>, ApiError> {
    let draft = state
        .service
        .parse_openapi(OpenApiParse {
            spec: request.spec,
            select: request.select,
            base_url: request.base_url,
        })
        .await?;
    Ok(Json(draft))
}

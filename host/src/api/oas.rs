//! `POST /api/connectors/parse-oas`: a spec in, a draft connector out.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;

use super::AppState;
use super::error::{ApiError, ApiJson, ErrorBody};
use crate::model::OpenApiSpec;
use crate::oas::{Draft, Selection};
use crate::service::OpenApiParse;

/// Specs can be large (GitHub's is ~13 MB of JSON).
pub const MAX_SPEC_BODY_BYTES: usize = 64 * 1024 * 1024;

/// A spec to import.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(example = json!({
    "spec": {
        "openapi": "3.0.3",
        "info": {"title": "Things", "version": "1.0.0"},
        "servers": [{"url": "/v1"}],
        "paths": {"/things/{id}": {"get": {
            "operationId": "getThing",
            "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
            "responses": {"200": {"description": "The thing"}}
        }}}
    },
    "baseUrl": "https://api.example.com"
}))]
#[serde(deny_unknown_fields)]
pub struct ParseRequest {
    /// The spec: an object, or JSON/YAML text.
    spec: OpenApiSpec,
    /// Optional subset of operations.
    #[serde(default, deserialize_with = "crate::model::json_shape::object")]
    select: Selection,
    /// Where a spec with relative server URLs is served (e.g.
    /// `https://api.example.com`): the draft's `baseUrl` becomes this base
    /// joined with the server's path.
    #[serde(default, rename = "baseUrl")]
    #[schema(pattern = "^https?://")]
    base_url: Option<String>,
}

/// Import an OpenAPI description: a draft connector (ready for
/// `POST /api/connectors` unchanged) and the operations that were skipped.
#[utoipa::path(post, path = "/connectors/parse-oas", tag = "connectors", operation_id = "parseOpenApi",
    request_body = ParseRequest,
    responses(
        (status = 200, description = "The draft", body = Draft),
        (status = 400, description = "`INVALID_SPEC`: not a usable OpenAPI description; `VALIDATION_ERROR`: bad `baseUrl`", body = ErrorBody),
    ))]
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

//! `POST /api/connectors/parse-oas`: a spec in, a draft connector out.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::Value;

use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};

use super::AppState;
use super::error::{ApiError, ApiJson, ErrorBody};
use crate::oas::{Draft, Selection};
use crate::service::{ImportSelection, OpenApiImport};

/// Specs can be large (GitHub's is ~13 MB of JSON).
pub const MAX_SPEC_BODY_BYTES: usize = 64 * 1024 * 1024;

/// A spec to import.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ParseRequest {
    /// The spec: an object, or JSON/YAML text.
    #[schema(schema_with = spec_schema)]
    spec: Value,
    /// Optional subset of operations.
    #[serde(default)]
    select: Selection,
    /// Where a spec with relative server URLs is served (e.g.
    /// `https://api.example.com`): the draft's `baseUrl` becomes this base
    /// joined with the server's path.
    #[serde(default, rename = "baseUrl")]
    #[schema(pattern = "^https?://")]
    base_url: Option<String>,
}

/// An OpenAPI 2.0/3.x document as an object, or its JSON or YAML text.
fn spec_schema() -> Schema {
    let one_of = OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::Object))
        .item(ObjectBuilder::new().schema_type(Type::String))
        .description(Some(
            "The OpenAPI (2.0, 3.0 or 3.1) description: an object, or JSON or YAML text.",
        ))
        .build();
    Schema::OneOf(one_of)
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
    let import = OpenApiImport {
        spec: request.spec,
        select: Some(ImportSelection {
            operation_ids: request.select.operation_ids,
            tags: request.select.tags,
            paths: request.select.paths,
        }),
        base_url: request.base_url,
    };
    Ok(Json(state.service.parse_openapi(import).await?))
}

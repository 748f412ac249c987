//! `POST /api/connectors/parse-oas`: a spec in, a draft connector out.

use axum::Json;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;

use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};

use super::error::{ApiError, ApiJson, ErrorBody};
use crate::oas::{Draft, Selection};

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
pub async fn parse(ApiJson(request): ApiJson<ParseRequest>) -> Result<Json<Draft>, ApiError> {
    if let Some(base) = &request.base_url
        && !(base.starts_with("http://") || base.starts_with("https://"))
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            "`baseUrl` must be an absolute http(s) URL",
        ));
    }
    // Large specs take real CPU time: keep it off the async workers.
    let draft = tokio::task::spawn_blocking(move || {
        let mut draft = crate::oas::draft(request.spec, &request.select)?;
        if let Some(base) = &request.base_url {
            crate::oas::draft::apply_base_url(&mut draft, base);
        }
        Ok::<_, crate::oas::OasError>(draft)
    })
    .await
    .map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            e.to_string(),
        )
    })?
    .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "INVALID_SPEC", e.to_string()))?;
    Ok(Json(draft))
}

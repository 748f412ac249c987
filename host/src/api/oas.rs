//! `POST /api/connectors/parse-oas`: a spec in, a draft connector out.

use axum::Json;
use axum::http::StatusCode;
use serde::Deserialize;

use super::error::{ApiError, ApiJson};
use crate::model::OpenApiSpec;
use crate::oas::{Draft, Selection};

/// Specs can be large (GitHub's is ~13 MB of JSON).
pub const MAX_SPEC_BODY_BYTES: usize = 64 * 1024 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParseRequest {
    /// The spec: an object, or JSON/YAML text.
    spec: OpenApiSpec,
    /// Optional subset of operations.
    #[serde(default)]
    select: Selection,
    /// Where a spec with relative server URLs is served (e.g.
    /// `https://api.example.com`): the draft's `baseUrl` becomes this base
    /// joined with the server's path.
    #[serde(default, rename = "baseUrl")]
    base_url: Option<String>,
}

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
        let mut draft = crate::oas::draft_from(request.spec, &request.select)?;
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

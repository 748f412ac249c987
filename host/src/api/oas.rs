//! `POST /api/connectors/parse-oas`: a spec in, a draft connector out.

use axum::Json;
use axum::extract::State;

use super::AppState;
use super::error::{ApiError, ApiJson};
use crate::oas::Draft;
use crate::service::OpenApiImport;

/// Specs can be large (GitHub's is ~13 MB of JSON).
pub const MAX_SPEC_BODY_BYTES: usize = 64 * 1024 * 1024;

pub async fn parse(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<OpenApiImport>,
) -> Result<Json<Draft>, ApiError> {
    Ok(Json(state.service.parse_openapi(request).await?))
}

//! Secret-key rotation: status, rotate, retire (admins; see
//! `service::keys`).

use axum::Json;
use axum::extract::{Path, State};

use super::AppState;
use super::error::{ApiError, ErrorBody};
use crate::service::KeyStatus;

/// The key versions, how many sealed values each still holds, and the
/// background re-wrap's progress.
#[utoipa::path(get, path = "/keys", tag = "keys", operation_id = "keyStatus",
    responses((status = 200, description = "The keys and the re-wrap", body = KeyStatus)))]
pub async fn status(State(state): State<AppState>) -> Result<Json<KeyStatus>, ApiError> {
    Ok(Json(state.service.key_status().await?))
}

/// Create a new key version: it seals every new value at once, and a
/// background re-wrap moves the stored ones to it (watch `GET /api/keys`).
/// The key file is rewritten first; keys from `FLOH_SECRET_KEY` cannot be
/// rotated by the server.
#[utoipa::path(post, path = "/keys/rotate", tag = "keys", operation_id = "rotateKey",
    responses(
        (status = 200, description = "Rotated; the re-wrap is under way", body = KeyStatus),
        (status = 409, description = "`KEYS_READ_ONLY`: the keys come from `FLOH_SECRET_KEY`", body = ErrorBody),
    ))]
pub async fn rotate(State(state): State<AppState>) -> Result<Json<KeyStatus>, ApiError> {
    Ok(Json(state.service.rotate_key().await?))
}

/// Retire a key version nothing is sealed with any more: it leaves the key
/// file and its number is never reused.
#[utoipa::path(delete, path = "/keys/{version}", tag = "keys", operation_id = "retireKey",
    params(("version" = u32, Path, description = "The key version", minimum = 1)),
    responses(
        (status = 200, description = "Retired", body = KeyStatus),
        (status = 400, description = "`INVALID_PATH`: the version is not a number", body = ErrorBody),
        (status = 404, description = "`KEY_NOT_FOUND`", body = ErrorBody),
        (status = 409, description = "`KEY_ACTIVE`, `KEY_IN_USE` (values still sealed with it) or `KEYS_READ_ONLY`", body = ErrorBody),
    ))]
pub async fn retire(
    State(state): State<AppState>,
    Path(version): Path<String>,
) -> Result<Json<KeyStatus>, ApiError> {
    let version: u32 = version.parse().map_err(|_| {
        ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "INVALID_PATH",
            format!("`{version}` is not a key version (a positive number)"),
        )
    })?;
    Ok(Json(state.service.retire_key(version).await?))
}

//! Online backups (admins): the database as one consistent redb file,
//! streamed while the server keeps serving. `floh backup FILE` calls this;
//! `floh restore` puts a backup in place. The secret key is never included.

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;

/// The header naming the key versions a restore of this backup needs.
pub const KEY_VERSIONS_HEADER: &str = "floh-key-versions";
/// The header with the number of connectors in the backup.
pub const CONNECTORS_HEADER: &str = "floh-backup-connectors";

/// Take a backup: every write acknowledged before the request began is in
/// it. It holds sealed values only; keep the key file (or
/// `FLOH_SECRET_KEY`) safe separately: without it a backup cannot be
/// restored.
#[utoipa::path(post, path = "/backup", tag = "backup", operation_id = "takeBackup",
    responses((status = 200, description = "The backup (a redb database file)",
        content_type = "application/octet-stream", body = Vec<u8>,
        headers(
            ("floh-key-versions" = String, description = "Key versions a restore needs, comma-separated"),
            ("floh-backup-connectors" = u64, description = "Connectors in the backup"),
        )),
        (status = 409, description = "`NOT_SUPPORTED`: the server keeps its data in PostgreSQL (back it up with pg_dump)",
            body = crate::api::error::ErrorBody)))]
pub async fn take(State(state): State<AppState>) -> Result<Response, ApiError> {
    let backup = state.service.backup().await?;
    let versions = backup
        .key_versions
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let stream = tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(backup.file));
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_LENGTH, backup.size.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"floh-backup-{}.redb\"",
                    backup.summary.taken_at_ms
                ),
            ),
            (
                header::HeaderName::from_static(KEY_VERSIONS_HEADER),
                versions,
            ),
            (
                header::HeaderName::from_static(CONNECTORS_HEADER),
                backup.summary.connectors.to_string(),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

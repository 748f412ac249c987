//! Bearer-token authentication of API requests, with [`crate::auth`]:
//! missing or unknown tokens get 401; a valid token whose role does not
//! allow the operation gets 403.

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use super::AppState;
use super::error::ApiError;
use crate::auth::{AuthError, RevokeError, access_of};
use crate::store::Role;

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Storage(error) => error.into(),
            unauthenticated => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "UNAUTHORIZED",
                unauthenticated.to_string(),
            ),
        }
    }
}

impl From<RevokeError> for ApiError {
    fn from(error: RevokeError) -> Self {
        let message = error.to_string();
        match error {
            RevokeError::NotFound(_) => {
                ApiError::new(StatusCode::NOT_FOUND, "TOKEN_NOT_FOUND", message)
            }
            RevokeError::LastAdmin(_) => {
                ApiError::new(StatusCode::CONFLICT, "LAST_ADMIN_TOKEN", message)
            }
            RevokeError::Storage(error) => error.into(),
        }
    }
}

/// Middleware: authenticate, then authorize by method (reads and executions
/// for executors; everything for admins).
pub async fn require_token(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let record = state.auth.authenticate(request.headers()).await?;
    if !record
        .role
        .allows(access_of(request.method(), request.uri().path()))
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            format!(
                "token `{}` has role `executor`, which may read and execute but not change anything",
                record.name
            ),
        ));
    }
    request.extensions_mut().insert(record);
    Ok(next.run(request).await)
}

/// Whether an executor token may call `method` on `path`: reads, executions
/// and tests. (The API document states the same rule for each operation.)
pub(super) fn executor_may(method: &Method, path: &str) -> bool {
    Role::Executor.allows(access_of(method, path))
}

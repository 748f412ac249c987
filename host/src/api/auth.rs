//! Bearer-token authentication of API requests, with [`crate::auth`]:
//! missing or unknown tokens get 401; a valid token whose role does not
//! allow the operation gets 403.

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;
use crate::auth::{AuthError, RevokeError, access_of};
use crate::rate_limit;
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

/// Middleware: authenticate, take the request from the token's rate limit,
/// then authorize by method (reads and executions for executors; everything
/// for admins). Every answer past authentication carries the token's
/// `RateLimit-*` fields.
pub async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let record = state.auth.authenticate(request.headers()).await?;
    let standing = match &state.token_limit {
        None => None,
        Some(limit) => Some(limit.check(&record.id).map_err(|refusal| {
            ApiError::rate_limited(format!("token `{}` is {refusal}", record.name), &refusal)
        })?),
    };
    let mut response = authorized(record, request, next)
        .await
        .unwrap_or_else(IntoResponse::into_response);
    if let Some(standing) = &standing {
        rate_limit::headers::add_standing(response.headers_mut(), standing);
    }
    Ok(response)
}

/// The role check, then the route.
async fn authorized(
    record: crate::store::TokenRecord,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
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

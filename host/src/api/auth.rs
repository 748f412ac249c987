//! Bearer-token authentication. Tokens are random, shown once, and stored
//! only as SHA-256 hashes. Missing or unknown tokens get 401; a valid token
//! whose role does not allow the operation gets 403.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::OsRng;
use chacha20poly1305::aead::rand_core::RngCore;
use sha2::{Digest, Sha256};

use super::AppState;
use super::error::ApiError;
use crate::clock::now_ms;
use crate::ids::new_id;
use crate::store::{Role, Store, StoreError, TokenRecord};

/// Looks tokens up, caching known ones (a token cannot change once issued).
#[derive(Clone)]
pub struct TokenAuth {
    store: Store,
    known: Arc<Mutex<HashMap<String, TokenRecord>>>,
}

/// A freshly issued token: the secret is in `token`, shown this once.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuedToken {
    /// The bearer token.
    pub token: String,
    /// Its record.
    #[serde(flatten)]
    pub record: TokenRecord,
}

impl TokenAuth {
    /// Authentication over `store`'s tokens.
    pub fn new(store: Store) -> Self {
        Self {
            store,
            known: Arc::default(),
        }
    }

    /// Issue a token with `role`; when `secret` is given (the admin token
    /// from the environment) it is used instead of a random one.
    pub async fn issue(
        &self,
        name: &str,
        role: Role,
        secret: Option<String>,
    ) -> Result<IssuedToken, StoreError> {
        let token = secret.unwrap_or_else(|| {
            let mut bytes = [0u8; 32];
            OsRng.fill_bytes(&mut bytes);
            format!("floh_{}", URL_SAFE_NO_PAD.encode(bytes))
        });
        let record = TokenRecord {
            id: new_id("tok"),
            name: name.to_string(),
            role,
            created_at_ms: now_ms(),
        };
        self.store
            .insert_token(hash(&token), record.clone())
            .await?;
        Ok(IssuedToken { token, record })
    }

    async fn lookup(&self, token: &str) -> Result<Option<TokenRecord>, StoreError> {
        let digest = hash(token);
        if let Some(record) = self
            .known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&digest)
        {
            return Ok(Some(record.clone()));
        }
        let record = self.store.token(digest.clone()).await?;
        if let Some(record) = &record {
            self.known
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(digest, record.clone());
        }
        Ok(record)
    }
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Middleware: authenticate, then authorize by method (reads and executions
/// for executors; everything for admins).
pub async fn require_token(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let unauthorized =
        |message: &str| ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message);
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| unauthorized("send `Authorization: Bearer <token>`"))?;
    let record = state
        .auth
        .lookup(token)
        .await?
        .ok_or_else(|| unauthorized("the token is not valid"))?;
    if record.role != Role::Admin && !executor_may(request.method(), request.uri().path()) {
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

fn executor_may(method: &Method, path: &str) -> bool {
    method == Method::GET
        || (method == Method::POST && (path.ends_with("/execute") || path.ends_with("/test")))
}

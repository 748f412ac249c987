//! API tokens, below every front end: issuing, listing and revoking them,
//! authenticating a bearer token, and what a role may do with a request.
//! The HTTP API checks bearer tokens with it and the web UI checks the token
//! behind each browser session with it; each front end turns its errors
//! into its own responses. Tokens are random, shown once, and stored only
//! as SHA-256 hashes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::http::{Method, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::OsRng;
use chacha20poly1305::aead::rand_core::RngCore;
use sha2::{Digest, Sha256};

use crate::clock::now_ms;
use crate::ids::new_id;
use crate::store::{Access, Role, Store, StoreError, TokenRecord};

/// How long a looked-up token is trusted before it is read again: a
/// revocation on another node arrives as a notification, and this bounds
/// how long a missed one could let a revoked token in.
const KNOWN_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(30);

/// Looks tokens up, caching known ones (a token cannot change once issued).
#[derive(Clone)]
pub struct TokenAuth {
    store: Store,
    known: Arc<Mutex<HashMap<String, (TokenRecord, std::time::Instant)>>>,
    /// Bumped by every revocation: a lookup that read the store before a
    /// revocation must not put the revoked token back into `known`.
    revocations: Arc<std::sync::atomic::AtomicU64>,
}

/// A freshly issued token: the secret is in `token`, shown this once.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
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
            revocations: Arc::default(),
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
            .insert_token(token_hash(&token), record.clone())
            .await?;
        Ok(IssuedToken { token, record })
    }

    /// The token record of a request's `Authorization: Bearer` header.
    pub async fn authenticate(
        &self,
        headers: &header::HeaderMap,
    ) -> Result<TokenRecord, AuthError> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or(AuthError::NoToken)?;
        self.lookup(token).await?.ok_or(AuthError::InvalidToken)
    }

    /// Every API token (without secrets), newest first.
    pub async fn list(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let mut tokens: Vec<TokenRecord> = self
            .store
            .tokens()
            .await?
            .into_iter()
            .map(|(_, record)| record)
            .collect();
        tokens.sort_by_key(|t| std::cmp::Reverse(t.created_at_ms));
        Ok(tokens)
    }

    /// Revoke the token with id `id`: it stops authenticating at once (API
    /// calls and the browser sessions started with it). The last admin
    /// token cannot be revoked.
    pub async fn revoke(&self, id: &str) -> Result<TokenRecord, RevokeError> {
        let tokens = self.store.tokens().await?;
        let (digest, record) = tokens
            .iter()
            .find(|(_, record)| record.id == id)
            .cloned()
            .ok_or_else(|| RevokeError::NotFound(id.to_string()))?;
        let admins = tokens.iter().filter(|(_, r)| r.role == Role::Admin).count();
        if record.role == Role::Admin && admins <= 1 {
            return Err(RevokeError::LastAdmin(record.name));
        }
        self.store.delete_token(digest.clone()).await?;
        self.revocations
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&digest);
        tracing::info!(token = %record.id, name = %record.name, "API token revoked");
        Ok(record)
    }

    /// Forget every cached token: another node revoked one, or revocations
    /// may have been missed.
    pub fn forget_cached(&self) {
        self.revocations
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.known.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// The record of the token `token`, if it is valid.
    pub async fn lookup(&self, token: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.lookup_hash(&token_hash(token)).await
    }

    /// The record of the token whose SHA-256 (hex) is `digest`, if valid.
    pub async fn lookup_hash(&self, digest: &str) -> Result<Option<TokenRecord>, StoreError> {
        if let Some(record) = self
            .known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(digest)
            .filter(|(_, looked_up)| looked_up.elapsed() < KNOWN_MAX_AGE)
        {
            return Ok(Some(record.0.clone()));
        }
        let before = self.revocations.load(std::sync::atomic::Ordering::SeqCst);
        let record = self.store.token(digest.to_string()).await?;
        if let Some(record) = &record {
            let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
            if self.revocations.load(std::sync::atomic::Ordering::SeqCst) == before {
                known.insert(
                    digest.to_string(),
                    (record.clone(), std::time::Instant::now()),
                );
            }
        }
        Ok(record)
    }
}

/// Why a token could not be revoked.
#[derive(Debug, thiserror::Error)]
pub enum RevokeError {
    /// No token has that id.
    #[error("no API token with id `{0}`")]
    NotFound(String),
    /// It is the only admin token: revoking it would lock every admin out.
    #[error("`{0}` is the last admin token: issue another admin token before revoking this one")]
    LastAdmin(String),
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StoreError),
}

/// Why a request is not authenticated.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization: Bearer` header.
    #[error("send `Authorization: Bearer <token>`")]
    NoToken,
    /// A token that was never issued or was revoked.
    #[error("the token is not valid")]
    InvalidToken,
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StoreError),
}

/// The value of cookie `name` in a request's headers (the web UI's session,
/// the OAuth2 callback's browser binding).
pub fn cookie<'a>(headers: &'a header::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// The SHA-256 (hex) of a token: the only form in which tokens are kept.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}
/// What a request does, from its method and path: reads are `GET`/`HEAD`,
/// executions are `POST …/execute` and `POST …/test`, everything else
/// changes something. The web UI's routes follow the same shape, so every
/// front end checks roles with this one function and [`Role::allows`].
pub fn access_of(method: &Method, path: &str) -> Access {
    if method == Method::GET || method == Method::HEAD {
        Access::Read
    } else if method == Method::POST && (path.ends_with("/execute") || path.ends_with("/test")) {
        Access::Execute
    } else {
        Access::Change
    }
}

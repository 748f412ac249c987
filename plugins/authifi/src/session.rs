//! Requests to the tenant's API with a bearer token: the cached token while
//! it lasts, a new one otherwise, and one retry with a fresh token when the
//! API answers 401 (a token revoked or rotated before its expiry).

use floh_sdk::http::Response;

use crate::config::AuthifiConfig;
use floh_sdk::oauth2::{self, ClientAuth, TokenCache};
use floh_sdk::transport::{Call, Transport};

/// One execution's view of the tenant.
pub struct Session<'a> {
    config: &'a AuthifiConfig,
    transport: &'a mut dyn Transport,
    cache: &'a dyn TokenCache,
}

impl<'a> Session<'a> {
    /// A session over `transport`, keeping tokens in `cache`.
    pub fn new(
        config: &'a AuthifiConfig,
        transport: &'a mut dyn Transport,
        cache: &'a dyn TokenCache,
    ) -> Self {
        Self {
            config,
            transport,
            cache,
        }
    }

    /// The connection config.
    pub fn config(&self) -> &AuthifiConfig {
        self.config
    }

    /// An access token: the cached one unless `refresh`.
    pub fn token(&mut self, refresh: bool) -> Result<String, String> {
        let request = oauth2::token_call(
            &self.config.token_url(),
            &self.config.client_id,
            &self.config.client_secret,
            None,
            ClientAuth::FormBody,
        );
        oauth2::token(&request, self.transport, self.cache, refresh)
    }

    /// Send `call` with the token; on 401, once more with a new one.
    pub fn send(&mut self, call: Call) -> Result<Response, String> {
        let token = self.token(false)?;
        let response = self.transport.send(&with_bearer(call.clone(), &token))?;
        if response.status != 401 {
            return Ok(response);
        }
        self.transport
            .note("authifi answered 401; fetching a new access token");
        self.cache.forget();
        let token = self.token(true)?;
        self.transport.send(&with_bearer(call, &token))
    }
}

fn with_bearer(mut call: Call, token: &str) -> Call {
    call.headers
        .push(("authorization".into(), format!("Bearer {token}")));
    call
}

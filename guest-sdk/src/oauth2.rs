//! OAuth2 client-credentials tokens that outlive one execution. Each
//! execution is a fresh instance, so the token lives in the host's
//! per-connector cache; there is no clock in the guest, so "until shortly
//! before it expires" is the cache entry's TTL.

use serde::Deserialize;

use crate::http::{Response, encode_component};
use crate::transport::{Call, Method, Transport};

/// The cache key. The host scopes the cache to the connector and its
/// config, so a changed secret or token URL never reuses an old token.
pub const TOKEN_CACHE_KEY: &str = "oauth2-token";

/// A token is dropped this many seconds before the endpoint says it expires.
pub const EXPIRY_MARGIN_SECONDS: u64 = 30;

/// Lifetime assumed when the endpoint does not say (`expires_in` missing).
pub const DEFAULT_LIFETIME_SECONDS: u64 = 300;

/// Where tokens are kept between executions.
pub trait TokenCache {
    /// The cached token, if any.
    fn get(&self) -> Option<String>;
    /// Keep `token` for `ttl_seconds`.
    fn set(&self, token: &str, ttl_seconds: u32) -> Result<(), String>;
    /// Forget the token (the API refused it).
    fn forget(&self);
}

/// The host's cache (`floh_sdk::cache`).
pub struct HostTokenCache;

impl TokenCache for HostTokenCache {
    fn get(&self) -> Option<String> {
        crate::cache::get(TOKEN_CACHE_KEY)
    }

    fn set(&self, token: &str, ttl_seconds: u32) -> Result<(), String> {
        crate::cache::set(TOKEN_CACHE_KEY, token, ttl_seconds)
    }

    fn forget(&self) {
        crate::cache::delete(TOKEN_CACHE_KEY);
    }
}

/// A cache in memory, for native unit tests of plugin logic: it records the
/// TTL it was given (expiry is not simulated).
#[derive(Debug, Default)]
pub struct MemoryTokenCache {
    /// The token kept and its TTL in seconds.
    pub token: std::cell::RefCell<Option<(String, u32)>>,
}

impl TokenCache for MemoryTokenCache {
    fn get(&self) -> Option<String> {
        self.token.borrow().as_ref().map(|(token, _)| token.clone())
    }

    fn set(&self, token: &str, ttl_seconds: u32) -> Result<(), String> {
        *self.token.borrow_mut() = Some((token.to_string(), ttl_seconds));
        Ok(())
    }

    fn forget(&self) {
        *self.token.borrow_mut() = None;
    }
}

/// How long to cache a token the endpoint says lives `expires_in` seconds:
/// `None` when it would expire within the margin (then it is used once and
/// not kept).
pub fn cache_ttl(expires_in: Option<u64>) -> Option<u32> {
    let lifetime = expires_in.unwrap_or(DEFAULT_LIFETIME_SECONDS);
    let ttl = lifetime.saturating_sub(EXPIRY_MARGIN_SECONDS);
    (ttl > 0).then(|| u32::try_from(ttl).unwrap_or(u32::MAX))
}

/// The parts of a token response we use.
#[derive(Debug, Deserialize)]
struct TokenResponse {
    access_token: Option<String>,
    expires_in: Option<u64>,
}

/// The token and its cache TTL from the endpoint's answer.
pub fn parse_token_response(response: &Response) -> Result<(String, Option<u32>), String> {
    if !response.is_success() {
        let reason = response
            .reason()
            .map(|reason| format!(": {reason}"))
            .unwrap_or_default();
        return Err(format!(
            "the token endpoint answered HTTP {}{reason}",
            response.status
        ));
    }
    let body: TokenResponse = serde_json::from_slice(&response.body)
        .map_err(|_| "the token endpoint did not answer JSON".to_string())?;
    let token = body
        .access_token
        .ok_or_else(|| "the token endpoint's answer has no access_token".to_string())?;
    Ok((token, cache_ttl(body.expires_in)))
}

/// How the client authenticates to the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// HTTP Basic with the client id and secret (`client_secret_basic`).
    Basic,
    /// Client id and secret in the form body (`client_secret_post`).
    FormBody,
}

/// The client-credentials request: a form body (with `scope` when given),
/// the client authenticated as `auth` says.
pub fn token_call(
    token_url: &str,
    client_id: &str,
    client_secret: &str,
    scope: Option<&str>,
    auth: ClientAuth,
) -> Call {
    let mut form = String::from("grant_type=client_credentials");
    if auth == ClientAuth::FormBody {
        form.push_str("&client_id=");
        form.push_str(&encode_component(client_id));
        form.push_str("&client_secret=");
        form.push_str(&encode_component(client_secret));
    }
    if let Some(scope) = scope {
        form.push_str("&scope=");
        form.push_str(&encode_component(scope));
    }
    let mut call = Call::new(Method::Post, token_url);
    call.headers = vec![
        (
            "content-type".into(),
            "application/x-www-form-urlencoded".into(),
        ),
        ("accept".into(), "application/json".into()),
    ];
    if auth == ClientAuth::Basic {
        call.basic = Some((client_id.to_string(), client_secret.to_string()));
    }
    call.body = Some(form.into_bytes());
    call
}

/// A token: the cached one unless `refresh`, else a new one from
/// `request`, cached for its lifetime minus the margin.
pub fn token(
    request: &Call,
    transport: &mut dyn Transport,
    cache: &dyn TokenCache,
    refresh: bool,
) -> Result<String, String> {
    if !refresh && let Some(token) = cache.get() {
        return Ok(token);
    }
    let response = transport
        .send(request)
        .map_err(|e| format!("token request: {e}"))?;
    let (token, ttl) = parse_token_response(&response)?;
    match ttl {
        Some(ttl) => {
            transport.note(&format!("obtained an OAuth2 token, reused for {ttl} s"));
            if let Err(reason) = cache.set(&token, ttl) {
                transport.note(&format!("the OAuth2 token cannot be cached: {reason}"));
            }
        }
        None => transport.note("obtained an OAuth2 token too short-lived to reuse"),
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_kept_until_shortly_before_they_expire() {
        assert_eq!(cache_ttl(Some(3600)), Some(3570));
        assert_eq!(cache_ttl(None), Some(270));
        assert_eq!(cache_ttl(Some(30)), None);
        assert_eq!(cache_ttl(Some(0)), None);
        assert_eq!(cache_ttl(Some(u64::MAX)), Some(u32::MAX));
    }

    #[test]
    fn token_answers_are_checked() {
        let answer = |status: u16, body: &str| Response {
            status,
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        };
        assert_eq!(
            parse_token_response(&answer(200, r#"{"access_token":"t","expires_in":60}"#)),
            Ok(("t".to_string(), Some(30)))
        );
        for (status, body, expected) in [
            (401, "{}", "HTTP 401"),
            (
                401,
                r#"{"error":"invalid_client","error_description":"bad secret"}"#,
                "HTTP 401: invalid_client: bad secret",
            ),
            (200, "<html>", "did not answer JSON"),
            (200, "{}", "no access_token"),
        ] {
            let error = parse_token_response(&answer(status, body)).expect_err(body);
            assert!(error.contains(expected), "{error}");
        }
    }

    #[test]
    fn the_token_request_authenticates_the_client_either_way() {
        let call = token_call(
            "https://idp/token",
            "cid",
            "sec",
            Some("read write"),
            ClientAuth::Basic,
        );
        assert_eq!(call.method, Method::Post);
        assert_eq!(call.basic, Some(("cid".into(), "sec".into())));
        assert_eq!(
            call.body.as_deref(),
            Some(&b"grant_type=client_credentials&scope=read%20write"[..])
        );
        let call = token_call(
            "https://idp/token",
            "cid",
            "s&c",
            None,
            ClientAuth::FormBody,
        );
        assert_eq!(call.basic, None);
        assert_eq!(
            call.body.as_deref(),
            Some(&b"grant_type=client_credentials&client_id=cid&client_secret=s%26c"[..])
        );
    }
}

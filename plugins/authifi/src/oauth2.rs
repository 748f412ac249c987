//! OAuth2 client-credentials tokens that outlive one execution. Each
//! execution is a fresh instance, so the token lives in the host's
//! per-connector cache; there is no clock in the guest, so "until shortly
//! before it expires" is the cache entry's TTL.

use floh_sdk::http::{Response, encode_component};
use serde::Deserialize;

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
        floh_sdk::cache::get(TOKEN_CACHE_KEY)
    }

    fn set(&self, token: &str, ttl_seconds: u32) -> Result<(), String> {
        floh_sdk::cache::set(TOKEN_CACHE_KEY, token, ttl_seconds)
    }

    fn forget(&self) {
        floh_sdk::cache::delete(TOKEN_CACHE_KEY);
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
        return Err(format!(
            "the authifi token endpoint answered HTTP {}{}",
            response.status,
            crate::errors::reason_suffix(response)
        ));
    }
    let body: TokenResponse = serde_json::from_slice(&response.body)
        .map_err(|_| "the token endpoint did not answer JSON".to_string())?;
    let token = body
        .access_token
        .ok_or_else(|| "the token endpoint's answer has no access_token".to_string())?;
    Ok((token, cache_ttl(body.expires_in)))
}

/// The client-credentials request against the tenant's token endpoint:
/// client id and secret in the form body (`client_secret_post`).
pub fn token_call(token_url: &str, client_id: &str, client_secret: &str) -> Call {
    let form = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}",
        encode_component(client_id),
        encode_component(client_secret)
    );
    let mut call = Call::new(Method::Post, token_url);
    call.headers = vec![
        (
            "content-type".into(),
            "application/x-www-form-urlencoded".into(),
        ),
        ("accept".into(), "application/json".into()),
    ];
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
    fn the_token_request_posts_the_client_credentials() {
        let call = token_call("https://idp/t/oauth2/token", "cid", "s&c");
        assert_eq!(call.method, Method::Post);
        assert_eq!(call.basic, None);
        assert_eq!(
            call.body.as_deref(),
            Some(&b"grant_type=client_credentials&client_id=cid&client_secret=s%26c"[..])
        );
    }
}

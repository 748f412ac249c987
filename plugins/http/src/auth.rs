//! Credentials on requests, per `authType`, and the one retry OAuth2 gets:
//! a 401 drops the cached token and the request is sent again with a new one.

use floh_sdk::http::Response;

use crate::config::{ApiKeyIn, AuthType, HttpConfig};
use floh_sdk::http::append_query;
use floh_sdk::oauth2::{self, ClientAuth, TokenCache};
use floh_sdk::transport::{Call, Transport};

/// Send `call` with the configured credentials.
pub fn send_authenticated(
    config: &HttpConfig,
    call: Call,
    transport: &mut dyn Transport,
    cache: &dyn TokenCache,
) -> Result<Response, String> {
    let attempt = authorize(config, call.clone(), transport, cache, false)?;
    let response = transport.send(&attempt)?;
    if response.status == 401 && config.auth_type == AuthType::Oauth2 {
        transport.note("the API answered 401; fetching a new OAuth2 token");
        cache.forget();
        let attempt = authorize(config, call, transport, cache, true)?;
        return transport.send(&attempt);
    }
    Ok(response)
}

fn authorize(
    config: &HttpConfig,
    mut call: Call,
    transport: &mut dyn Transport,
    cache: &dyn TokenCache,
    refresh: bool,
) -> Result<Call, String> {
    let missing = |field: &str| {
        format!(
            "authType `{:?}` needs `{field}` in the config",
            config.auth_type
        )
    };
    match config.auth_type {
        AuthType::None => {}
        AuthType::ApiKey => {
            let key = config.api_key.as_deref().ok_or_else(|| missing("apiKey"))?;
            match config.api_key_in {
                ApiKeyIn::Header => call
                    .headers
                    .push((config.api_key_name.clone(), key.to_string())),
                ApiKeyIn::Query => {
                    call.url =
                        append_query(&call.url, &[(config.api_key_name.clone(), key.to_string())]);
                }
            }
        }
        AuthType::Bearer => {
            let token = config
                .bearer_token
                .as_deref()
                .ok_or_else(|| missing("bearerToken"))?;
            call.headers
                .push(("authorization".into(), format!("Bearer {token}")));
        }
        AuthType::Basic => {
            let username = config
                .username
                .as_deref()
                .ok_or_else(|| missing("username"))?;
            let password = config.password.as_deref().unwrap_or_default();
            call.basic = Some((username.to_string(), password.to_string()));
        }
        AuthType::Oauth2 => {
            let missing = |field: &str| format!("authType `oauth2` needs `{field}` in the config");
            let request = oauth2::token_call(
                config
                    .token_url
                    .as_deref()
                    .ok_or_else(|| missing("tokenUrl"))?,
                config
                    .client_id
                    .as_deref()
                    .ok_or_else(|| missing("clientId"))?,
                config
                    .client_secret
                    .as_deref()
                    .ok_or_else(|| missing("clientSecret"))?,
                config.scope.as_deref(),
                ClientAuth::Basic,
            );
            let token = oauth2::token(&request, transport, cache, refresh)?;
            call.headers
                .push(("authorization".into(), format!("Bearer {token}")));
        }
    }
    Ok(call)
}

#[cfg(test)]
pub(crate) mod fakes {
    //! A scripted API and an in-memory cache, standing in for the host.

    use floh_sdk::http::Response;

    use floh_sdk::transport::{Call, Transport};

    /// Answers token requests (to URLs ending in `/token`) with `t-N` and
    /// API requests with 200, except that an API request carrying a token
    /// other than the newest gets 401. Records every call.
    #[derive(Default)]
    pub struct FakeApi {
        pub issued: u32,
        pub calls: Vec<Call>,
    }

    impl Transport for FakeApi {
        fn send(&mut self, call: &Call) -> Result<Response, String> {
            self.calls.push(call.clone());
            let answer = |status: u16, body: String| Response {
                status,
                headers: vec![("content-type".into(), "application/json".into())],
                body: body.into_bytes(),
            };
            if call.url.ends_with("/token") {
                self.issued += 1;
                return Ok(answer(
                    200,
                    format!(
                        r#"{{"access_token":"t-{}","expires_in":3600}}"#,
                        self.issued
                    ),
                ));
            }
            let auth = call
                .headers
                .iter()
                .find(|(k, _)| k == "authorization")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            if auth.starts_with("Bearer t-") && auth != format!("Bearer t-{}", self.issued) {
                return Ok(answer(401, "{}".into()));
            }
            Ok(answer(200, format!(r#"{{"auth":"{auth}"}}"#)))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::fakes::FakeApi;
    use super::*;
    use floh_sdk::oauth2::MemoryTokenCache as MemoryCache;
    use floh_sdk::transport::Method;

    fn config(value: serde_json::Value) -> HttpConfig {
        HttpConfig::from_json(value).expect("config")
    }

    fn sent(config: &HttpConfig) -> Call {
        let mut api = FakeApi::default();
        let call = Call::new(Method::Get, "https://api/v1/echo");
        send_authenticated(config, call, &mut api, &MemoryCache::default()).expect("response");
        api.calls.pop().expect("a call")
    }

    #[test]
    fn each_static_scheme_sets_its_credentials() {
        let call = sent(&config(
            json!({"baseUrl": "https://api", "authType": "apiKey", "apiKey": "k1"}),
        ));
        assert!(call.headers.contains(&("X-API-Key".into(), "k1".into())));
        let call = sent(&config(
            json!({"baseUrl": "https://api", "authType": "apiKey", "apiKeyIn": "query", "apiKeyName": "api_key", "apiKey": "k 2"}),
        ));
        assert_eq!(call.url, "https://api/v1/echo?api_key=k%202");
        let call = sent(&config(
            json!({"baseUrl": "https://api", "authType": "bearer", "bearerToken": "b1"}),
        ));
        assert!(
            call.headers
                .contains(&("authorization".into(), "Bearer b1".into()))
        );
        let call = sent(&config(
            json!({"baseUrl": "https://api", "authType": "basic", "username": "u", "password": "p"}),
        ));
        assert_eq!(call.basic, Some(("u".into(), "p".into())));
    }

    #[test]
    fn missing_credentials_are_named() {
        let mut api = FakeApi::default();
        let error = send_authenticated(
            &config(json!({"baseUrl": "https://api", "authType": "bearer"})),
            Call::new(Method::Get, "https://api/x"),
            &mut api,
            &MemoryCache::default(),
        )
        .expect_err("no token");
        assert!(error.contains("bearerToken"), "{error}");
        assert!(api.calls.is_empty());
    }

    #[test]
    fn oauth2_tokens_are_reused_and_refreshed_once_after_a_401() {
        let config = config(
            json!({"baseUrl": "https://api", "authType": "oauth2", "clientId": "cid", "clientSecret": "cs", "tokenUrl": "https://idp/token"}),
        );
        let cache = MemoryCache::default();
        let mut api = FakeApi::default();
        for _ in 0..2 {
            let response = send_authenticated(
                &config,
                Call::new(Method::Get, "https://api/x"),
                &mut api,
                &cache,
            )
            .expect("response");
            assert_eq!(response.text(), r#"{"auth":"Bearer t-1"}"#);
        }
        assert_eq!(api.issued, 1, "the token was not reused");
        assert_eq!(cache.token.borrow().clone(), Some(("t-1".into(), 3570)));
        // The API rotates its accepted token: the cached one now gets a 401.
        api.issued += 1;
        let response = send_authenticated(
            &config,
            Call::new(Method::Get, "https://api/x"),
            &mut api,
            &cache,
        )
        .expect("response");
        assert_eq!(response.status, 200);
        assert_eq!(response.text(), r#"{"auth":"Bearer t-3"}"#);
        assert_eq!(cache.get().as_deref(), Some("t-3"));
    }
}

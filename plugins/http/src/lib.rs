//! The `http` connector type as a WASM plugin: generic REST calls against a
//! base URL with API key, bearer, basic or OAuth2 client-credentials auth.
//! A port of the native type (`host/src/connectors/http_type.rs`) to the
//! guest SDK, with the same name, config fields and commands, so it can
//! replace it; `README.md` lists where it differs.
//!
//! The logic lives in modules that take a [`floh_sdk::transport::Transport`] and an
//! [`floh_sdk::oauth2::TokenCache`], so it is unit-tested natively with fakes; only
//! this file talks to the host.

pub mod address;
pub mod auth;
pub mod config;
pub mod response;
pub mod schema;

use std::collections::BTreeMap;

use floh_sdk::{Connector, Error, Output, Request, TypeInfo};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::config::HttpConfig;
use floh_sdk::oauth2::{HostTokenCache, TokenCache};
use floh_sdk::transport::{Call, HostTransport, Method, Transport};

/// The `http` type.
pub struct HttpType;

impl Connector for HttpType {
    fn describe() -> TypeInfo {
        schema::type_info()
    }

    fn execute(request: &Request) -> Result<Output, Error> {
        let config = HttpConfig::from_json(request.config_json()).map_err(Error::new)?;
        let data = match request.command() {
            "request" => {
                let params: RequestParams =
                    serde_json::from_value(request.params_json().clone())
                        .map_err(|e| Error::new(format!("invalid params: {e}")))?;
                send_request(&config, params, &mut HostTransport, &HostTokenCache)
            }
            "test" => test(&config, &mut HostTransport, &HostTokenCache),
            other => return Err(Error::unknown_command(other)),
        };
        data.map(Output::data).map_err(Error::new)
    }
}

floh_sdk::export_connector!(HttpType);

/// The params of the `request` command.
#[derive(Debug, Deserialize)]
pub struct RequestParams {
    #[serde(default = "default_method")]
    method: String,
    path: String,
    #[serde(default)]
    query: Map<String, Value>,
    #[serde(default)]
    headers: BTreeMap<String, Value>,
    #[serde(default)]
    body: Option<Value>,
}

fn default_method() -> String {
    "GET".into()
}

/// The `request` command: `{status, headers, body}`.
pub fn send_request(
    config: &HttpConfig,
    params: RequestParams,
    transport: &mut dyn Transport,
    cache: &dyn TokenCache,
) -> Result<Value, String> {
    let call = request_call(config, params)?;
    let response = auth::send_authenticated(config, call, transport, cache)?;
    response::response_data(&response)
}

/// The call the `request` command sends, before credentials: default
/// headers, then the request's own; a non-string body as JSON.
pub fn request_call(config: &HttpConfig, params: RequestParams) -> Result<Call, String> {
    let method = Method::parse(&params.method).ok_or_else(|| {
        format!(
            "`{}` is not a supported method (supported: {})",
            params.method,
            schema::METHODS.join(", ")
        )
    })?;
    let url = address::build_url(&config.base_url, &params.path, &params.query)?;
    let mut call = Call::new(method, url);
    call.headers = config.default_headers.clone().into_iter().collect();
    call.headers.extend(
        params
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), address::text(v))),
    );
    call.body = match params.body {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(text.into_bytes()),
        Some(other) => {
            if !call.has_header("content-type") {
                call.headers
                    .push(("content-type".into(), "application/json".into()));
            }
            Some(other.to_string().into_bytes())
        }
    };
    Ok(call)
}

/// The `test` command: GET the base URL with the credentials; refused
/// credentials (401, 403) and server errors fail, anything else passes.
pub fn test(
    config: &HttpConfig,
    transport: &mut dyn Transport,
    cache: &dyn TokenCache,
) -> Result<Value, String> {
    let call = Call::new(Method::Get, config.base_url.clone());
    let response = auth::send_authenticated(config, call, transport, cache)?;
    match response.status {
        401 | 403 => Err(format!(
            "the API refused the credentials (HTTP {})",
            response.status
        )),
        status if status >= 500 => Err(format!("the API answered HTTP {status}")),
        status => Ok(json!({ "status": status })),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::auth::fakes::FakeApi;
    use super::*;
    use floh_sdk::oauth2::MemoryTokenCache as MemoryCache;

    fn config(value: Value) -> HttpConfig {
        HttpConfig::from_json(value).expect("config")
    }

    fn params(value: Value) -> RequestParams {
        serde_json::from_value(value).expect("params")
    }

    #[test]
    fn requests_carry_default_headers_then_their_own_and_a_json_body() {
        let config =
            config(json!({"baseUrl": "https://api/v1", "defaultHeaders": {"x-tenant": "a"}}));
        let call = request_call(
            &config,
            params(
                json!({"method": "post", "path": "items", "headers": {"x-n": 1}, "body": {"a": 1}}),
            ),
        )
        .expect("call");
        assert_eq!(call.method, Method::Post);
        assert_eq!(call.url, "https://api/v1/items");
        assert_eq!(
            call.headers,
            [
                ("x-tenant".to_string(), "a".to_string()),
                ("x-n".into(), "1".into()),
                ("content-type".into(), "application/json".into())
            ]
        );
        assert_eq!(call.body.as_deref(), Some(&br#"{"a":1}"#[..]));
        let call = request_call(
            &config,
            params(json!({"method": "PUT", "path": "raw", "body": "a=b"})),
        )
        .expect("call");
        assert_eq!(call.body.as_deref(), Some(&b"a=b"[..]));
        assert!(!call.has_header("content-type"));
    }

    #[test]
    fn unsupported_methods_are_named() {
        for method in ["FETCH", "TRACE"] {
            let error = request_call(
                &config(json!({"baseUrl": "https://api"})),
                params(json!({"method": method, "path": "/x"})),
            )
            .expect_err(method);
            assert!(error.contains(method), "{error}");
        }
    }

    #[test]
    fn request_returns_status_headers_and_parsed_body() {
        let data = send_request(
            &config(json!({"baseUrl": "https://api", "authType": "bearer", "bearerToken": "b"})),
            params(json!({"path": "/echo"})),
            &mut FakeApi::default(),
            &MemoryCache::default(),
        )
        .expect("data");
        assert_eq!(data["status"], 200);
        assert_eq!(data["body"]["auth"], "Bearer b");
    }

    #[test]
    fn test_reports_refused_credentials() {
        let mut api = FakeApi {
            issued: 5,
            ..FakeApi::default()
        };
        let error = test(
            &config(json!({"baseUrl": "https://api/echo", "authType": "bearer", "bearerToken": "t-999"})),
            &mut api,
            &MemoryCache::default(),
        )
        .expect_err("refused");
        assert!(error.contains("401"), "{error}");
        let data = test(
            &config(json!({"baseUrl": "https://api"})),
            &mut api,
            &MemoryCache::default(),
        )
        .expect("passes");
        assert_eq!(data, json!({"status": 200}));
    }
}

//! The native `http` built-in type: generic REST calls against a base URL
//! with the auth schemes APIs commonly use.
//!
//! Every request goes through [`HostCalls`], so the egress policy, limits,
//! redirects and redaction that sandboxes get apply here too. OAuth2 client
//! credentials tokens are cached per token endpoint and client, reused until
//! shortly before they expire, and refreshed once when an API answers 401.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{BoxFuture, BuiltinType, HostCalls, TypeDescriptor};
use crate::bindings::http::{Method, Request, Response};
use crate::imports::LogLevel;
use crate::imports::http::describe;
use crate::model::ConfigSchema;
use crate::runtime::{ConnectorResult, ExecutionContext, ExecutionError, Invocation};

/// A cached token is refreshed this long before it expires.
const TOKEN_EXPIRY_MARGIN: Duration = Duration::from_secs(30);

/// The `http` type.
#[derive(Default)]
pub struct HttpType {
    tokens: Mutex<HashMap<String, CachedToken>>,
}

#[derive(Clone)]
struct CachedToken {
    access_token: String,
    expires_at: Instant,
}

/// The connection config of an `http` instance.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HttpConfig {
    base_url: String,
    #[serde(default)]
    auth_type: AuthType,
    #[serde(default = "default_api_key_name")]
    api_key_name: String,
    #[serde(default)]
    api_key_in: ApiKeyIn,
    api_key: Option<String>,
    bearer_token: Option<String>,
    username: Option<String>,
    password: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    token_url: Option<String>,
    scope: Option<String>,
    #[serde(default)]
    default_headers: BTreeMap<String, String>,
}

fn default_api_key_name() -> String {
    "X-API-Key".into()
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
enum AuthType {
    #[default]
    None,
    ApiKey,
    Bearer,
    Basic,
    Oauth2,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum ApiKeyIn {
    #[default]
    Header,
    Query,
}

/// The params of the `request` command.
#[derive(Debug, Deserialize)]
struct RequestParams {
    #[serde(default = "default_method")]
    method: String,
    path: String,
    #[serde(default)]
    query: BTreeMap<String, Value>,
    #[serde(default)]
    headers: BTreeMap<String, Value>,
    #[serde(default)]
    body: Option<Value>,
}

fn default_method() -> String {
    "GET".into()
}

fn failed(message: impl Into<String>) -> ConnectorResult {
    ConnectorResult {
        success: false,
        data: None,
        output_variables: None,
        error: Some(message.into()),
    }
}

impl BuiltinType for HttpType {
    fn descriptor(&self) -> TypeDescriptor {
        TypeDescriptor {
            name: "http".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Generic REST calls against a base URL, with API key, bearer, basic or OAuth2 client-credentials auth".into(),
            config_schema: schema(),
            source: "native",
        }
    }

    fn execute<'a>(
        &'a self,
        invocation: &'a Invocation,
        context: &'a ExecutionContext,
        calls: &'a mut HostCalls,
    ) -> BoxFuture<'a, Result<ConnectorResult, ExecutionError>> {
        Box::pin(async move {
            let config: HttpConfig = match serde_json::from_value(context.config.clone()) {
                Ok(config) => config,
                Err(error) => {
                    return Ok(failed(format!(
                        "the connection config is incomplete: {error}"
                    )));
                }
            };
            match invocation.command.as_str() {
                "request" => {
                    let params: RequestParams =
                        match serde_json::from_value(invocation.params.clone()) {
                            Ok(params) => params,
                            Err(error) => return Ok(failed(format!("invalid params: {error}"))),
                        };
                    Ok(self.request(&config, params, calls).await)
                }
                "test" => Ok(self.test(&config, calls).await),
                other => Err(ExecutionError::UnknownCommand(other.to_string())),
            }
        })
    }
}

impl HttpType {
    async fn request(
        &self,
        config: &HttpConfig,
        params: RequestParams,
        calls: &mut HostCalls,
    ) -> ConnectorResult {
        let Some(method) = method(&params.method) else {
            return failed(format!("`{}` is not a supported method", params.method));
        };
        let url = match build_url(&config.base_url, &params.path, &params.query) {
            Ok(url) => url,
            Err(message) => return failed(message),
        };
        let mut headers: Vec<(String, String)> =
            config.default_headers.clone().into_iter().collect();
        headers.extend(
            params
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), value_text(v))),
        );
        let body = params.body.as_ref().map(|body| match body {
            Value::String(text) => text.clone().into_bytes(),
            other => {
                if !headers
                    .iter()
                    .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                {
                    headers.push(("content-type".into(), "application/json".into()));
                }
                other.to_string().into_bytes()
            }
        });
        let request = Request {
            method,
            url,
            headers,
            body,
        };
        match self.send_authenticated(config, request, calls).await {
            Ok(response) => response_result(response),
            Err(message) => failed(message),
        }
    }

    async fn test(&self, config: &HttpConfig, calls: &mut HostCalls) -> ConnectorResult {
        let request = Request {
            method: Method::Get,
            url: config.base_url.clone(),
            headers: Vec::new(),
            body: None,
        };
        match self.send_authenticated(config, request, calls).await {
            Ok(response) if matches!(response.status, 401 | 403) => failed(format!(
                "the API refused the credentials (HTTP {})",
                response.status
            )),
            Ok(response) if response.status >= 500 => {
                failed(format!("the API answered HTTP {}", response.status))
            }
            Ok(response) => ConnectorResult {
                success: true,
                data: Some(json!({"status": response.status})),
                output_variables: None,
                error: None,
            },
            Err(message) => failed(message),
        }
    }

    /// Send with the configured auth; with OAuth2, a 401 on a cached token
    /// drops it and retries once with a fresh one.
    async fn send_authenticated(
        &self,
        config: &HttpConfig,
        request: Request,
        calls: &mut HostCalls,
    ) -> Result<Response, String> {
        let mut attempt = self
            .authorize(config, request.clone(), calls, false)
            .await?;
        let response = calls.send(attempt).await.map_err(|e| describe(&e))?;
        if response.status == 401 && config.auth_type == AuthType::Oauth2 {
            calls.log(
                LogLevel::Info,
                "the API answered 401; fetching a new OAuth2 token",
            );
            attempt = self.authorize(config, request, calls, true).await?;
            return calls.send(attempt).await.map_err(|e| describe(&e));
        }
        Ok(response)
    }

    async fn authorize(
        &self,
        config: &HttpConfig,
        mut request: Request,
        calls: &mut HostCalls,
        refresh: bool,
    ) -> Result<Request, String> {
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
                    ApiKeyIn::Header => request
                        .headers
                        .push((config.api_key_name.clone(), key.to_string())),
                    ApiKeyIn::Query => {
                        let mut url = url::Url::parse(&request.url).map_err(|e| e.to_string())?;
                        url.query_pairs_mut().append_pair(&config.api_key_name, key);
                        request.url = url.into();
                    }
                }
            }
            AuthType::Bearer => {
                let token = config
                    .bearer_token
                    .as_deref()
                    .ok_or_else(|| missing("bearerToken"))?;
                request
                    .headers
                    .push(("authorization".into(), format!("Bearer {token}")));
            }
            AuthType::Basic => {
                let username = config
                    .username
                    .as_deref()
                    .ok_or_else(|| missing("username"))?;
                let password = config.password.as_deref().unwrap_or_default();
                let encoded = BASE64.encode(format!("{username}:{password}"));
                request
                    .headers
                    .push(("authorization".into(), format!("Basic {encoded}")));
            }
            AuthType::Oauth2 => {
                let token = self.oauth2_token(config, calls, refresh).await?;
                request
                    .headers
                    .push(("authorization".into(), format!("Bearer {token}")));
            }
        }
        Ok(request)
    }

    async fn oauth2_token(
        &self,
        config: &HttpConfig,
        calls: &mut HostCalls,
        refresh: bool,
    ) -> Result<String, String> {
        let missing = |field: &str| format!("authType `oauth2` needs `{field}` in the config");
        let token_url = config
            .token_url
            .as_deref()
            .ok_or_else(|| missing("tokenUrl"))?;
        let client_id = config
            .client_id
            .as_deref()
            .ok_or_else(|| missing("clientId"))?;
        let client_secret = config
            .client_secret
            .as_deref()
            .ok_or_else(|| missing("clientSecret"))?;
        // The secret is part of the key so that a changed secret never
        // reuses a token obtained with the old one.
        let cache_key = hex::encode(Sha256::digest(format!(
            "{token_url}\n{client_id}\n{client_secret}"
        )));
        if !refresh && let Some(token) = self.cached_token(&cache_key) {
            return Ok(token);
        }
        // The serializer is not `Send`; it must not live across an await.
        let form = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "client_credentials");
            if let Some(scope) = &config.scope {
                form.append_pair("scope", scope);
            }
            form.finish()
        };
        let credentials = BASE64.encode(format!("{client_id}:{client_secret}"));
        let request = Request {
            method: Method::Post,
            url: token_url.to_string(),
            headers: vec![
                (
                    "content-type".into(),
                    "application/x-www-form-urlencoded".into(),
                ),
                ("accept".into(), "application/json".into()),
                ("authorization".into(), format!("Basic {credentials}")),
            ],
            body: Some(form.into_bytes()),
        };
        let response = calls
            .send(request)
            .await
            .map_err(|e| format!("token request: {}", describe(&e)))?;
        if !(200..300).contains(&response.status) {
            return Err(format!(
                "the token endpoint answered HTTP {}",
                response.status
            ));
        }
        let body: Value = serde_json::from_slice(&response.body)
            .map_err(|_| "the token endpoint did not answer JSON".to_string())?;
        let access_token = body["access_token"]
            .as_str()
            .ok_or_else(|| "the token endpoint's answer has no access_token".to_string())?
            .to_string();
        let lifetime = Duration::from_secs(body["expires_in"].as_u64().unwrap_or(300));
        calls.log(
            LogLevel::Debug,
            &format!(
                "obtained an OAuth2 token valid for {} s",
                lifetime.as_secs()
            ),
        );
        let cached = CachedToken {
            access_token: access_token.clone(),
            expires_at: Instant::now() + lifetime.saturating_sub(TOKEN_EXPIRY_MARGIN),
        };
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(cache_key, cached);
        Ok(access_token)
    }

    fn cached_token(&self, key: &str) -> Option<String> {
        let tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        tokens
            .get(key)
            .filter(|token| token.expires_at > Instant::now())
            .map(|token| token.access_token.clone())
    }
}

fn method(name: &str) -> Option<Method> {
    Some(match name.to_ascii_uppercase().as_str() {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "PATCH" => Method::Patch,
        "DELETE" => Method::Delete,
        "OPTIONS" => Method::Options,
        _ => return None,
    })
}

/// `base` + relative `path` + query. The path may not leave the base URL
/// (no absolute URLs, no `..`), so an instance only ever reaches its API.
fn build_url(base: &str, path: &str, query: &BTreeMap<String, Value>) -> Result<String, String> {
    if path.contains("://") || path.starts_with("//") {
        return Err("`path` must be relative to the connector's baseUrl".into());
    }
    if path.split('/').any(|segment| segment == "..") {
        return Err("`path` may not contain `..`".into());
    }
    let mut url = url::Url::parse(&format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    ))
    .map_err(|e| format!("baseUrl and path do not form a URL: {e}"))?;
    if !query.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for (key, value) in query {
            match value {
                Value::Array(items) => {
                    for item in items {
                        pairs.append_pair(key, &value_text(item));
                    }
                }
                Value::Null => {}
                other => {
                    pairs.append_pair(key, &value_text(other));
                }
            }
        }
    }
    Ok(url.into())
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn response_result(response: Response) -> ConnectorResult {
    let mut headers = serde_json::Map::new();
    let mut is_json = false;
    for (name, value) in &response.headers {
        is_json |= name == "content-type" && value.to_ascii_lowercase().contains("json");
        headers.insert(name.clone(), Value::String(value.clone()));
    }
    let text = String::from_utf8_lossy(&response.body);
    let body = if is_json {
        serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.into_owned()))
    } else {
        Value::String(text.into_owned())
    };
    let success = response.status < 400;
    ConnectorResult {
        success,
        data: Some(json!({"status": response.status, "headers": headers, "body": body})),
        output_variables: None,
        error: (!success).then(|| format!("HTTP {}", response.status)),
    }
}

fn schema() -> ConfigSchema {
    let schema = json!({
        "connectionConfig": {
            "baseUrl": {"type": "string", "required": true, "description": "Base URL every request path is relative to"},
            "authType": {"type": "string", "enum": ["none", "apiKey", "bearer", "basic", "oauth2"], "default": "none", "description": "How requests authenticate"},
            "apiKeyName": {"type": "string", "default": "X-API-Key", "description": "Header or query parameter carrying the API key"},
            "apiKeyIn": {"type": "string", "enum": ["header", "query"], "default": "header", "description": "Where the API key goes"},
            "apiKey": {"type": "string", "secret": true, "description": "API key (authType apiKey)"},
            "bearerToken": {"type": "string", "secret": true, "description": "Bearer token (authType bearer)"},
            "username": {"type": "string", "description": "User (authType basic)"},
            "password": {"type": "string", "secret": true, "description": "Password (authType basic)"},
            "clientId": {"type": "string", "description": "OAuth2 client id (authType oauth2)"},
            "clientSecret": {"type": "string", "secret": true, "description": "OAuth2 client secret (authType oauth2)"},
            "tokenUrl": {"type": "string", "description": "OAuth2 token endpoint (client credentials)"},
            "scope": {"type": "string", "description": "OAuth2 scope"},
            "defaultHeaders": {"type": "object", "description": "Headers sent with every request"}
        },
        "commands": {
            "request": {
                "params": ["method", "path", "query", "headers", "body"],
                "description": "Send one request; the path is relative to baseUrl",
                "outputs": ["status", "headers", "body"],
                "paramSchema": {
                    "method": {"type": "string", "default": "GET", "enum": ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]},
                    "path": {"type": "string", "required": true},
                    "query": {"type": "object"},
                    "headers": {"type": "object"},
                    "body": {}
                }
            },
            "test": {"params": [], "description": "Check that the API answers and accepts the credentials", "outputs": ["status"]}
        }
    });
    serde_json::from_value(schema).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex as StdMutex};

    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::{get, post};

    use super::*;
    use crate::egress::EgressPolicy;
    use crate::runtime::{PoolSizing, ScriptEngine, ScriptEngineOptions};

    fn engine() -> ScriptEngine {
        ScriptEngine::new(ScriptEngineOptions {
            cache_dir: Some(std::env::temp_dir().join("floh-unit-artefacts")),
            pool: PoolSizing {
                max_instances: 4,
                ..PoolSizing::default()
            },
            ..ScriptEngineOptions::default()
        })
        .expect("engine")
    }

    async fn run(
        http: &HttpType,
        engine: &ScriptEngine,
        config: Value,
        command: &str,
        params: Value,
    ) -> ConnectorResult {
        let context = ExecutionContext {
            config,
            egress: EgressPolicy::unrestricted(),
            ..ExecutionContext::new("http-test")
        };
        let invocation = Invocation {
            command: command.into(),
            params,
            ..Invocation::default()
        };
        let mut calls = engine
            .host_calls(&context, Instant::now() + Duration::from_secs(5))
            .expect("calls");
        http.execute(&invocation, &context, &mut calls)
            .await
            .expect("result")
    }

    async fn serve(router: axum::Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });
        format!("http://{addr}")
    }

    /// An API echoing what authenticated it, and a token endpoint counting
    /// the tokens it issued (token N is `t-N`; only the newest is accepted).
    async fn api() -> (String, Arc<StdMutex<u32>>) {
        let issued: Arc<StdMutex<u32>> = Arc::default();
        let counter = issued.clone();
        let accepted = issued.clone();
        let router = axum::Router::new()
            .route(
                "/token",
                post(move |headers: HeaderMap, body: String| {
                    let counter = counter.clone();
                    async move {
                        let basic = format!("Basic {}", BASE64.encode("cid:csecret"));
                        if headers.get("authorization").and_then(|v| v.to_str().ok())
                            != Some(basic.as_str())
                            || !body.contains("grant_type=client_credentials")
                        {
                            return (StatusCode::UNAUTHORIZED, axum::Json(json!({})));
                        }
                        let mut n = counter.lock().expect("lock");
                        *n += 1;
                        (
                            StatusCode::OK,
                            axum::Json(
                                json!({"access_token": format!("t-{n}"), "expires_in": 3600}),
                            ),
                        )
                    }
                }),
            )
            .route(
                "/v1/echo",
                get(move |headers: HeaderMap, uri: axum::http::Uri| {
                    let accepted = accepted.clone();
                    async move {
                        let auth = headers
                            .get("authorization")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_string();
                        let newest = format!("Bearer t-{}", accepted.lock().expect("lock"));
                        if auth.starts_with("Bearer t-") && auth != newest {
                            return (StatusCode::UNAUTHORIZED, axum::Json(json!({})));
                        }
                        let key = headers
                            .get("x-api-key")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_string);
                        (
                            StatusCode::OK,
                            axum::Json(json!({"auth": auth, "key": key, "query": uri.query()})),
                        )
                    }
                }),
            );
        (serve(router).await, issued)
    }

    fn request(query: Value) -> Value {
        json!({"method": "GET", "path": "/v1/echo", "query": query})
    }

    #[tokio::test]
    async fn each_auth_scheme_reaches_the_api() {
        let (base, _) = api().await;
        let engine = engine();
        let http = HttpType::default();
        let cases = [
            (
                json!({"baseUrl": base, "authType": "apiKey", "apiKey": "k1"}),
                "key",
                json!("k1"),
            ),
            (
                json!({"baseUrl": base, "authType": "apiKey", "apiKeyIn": "query", "apiKeyName": "api_key", "apiKey": "k2"}),
                "query",
                json!("api_key=k2"),
            ),
            (
                json!({"baseUrl": base, "authType": "bearer", "bearerToken": "b1"}),
                "auth",
                json!("Bearer b1"),
            ),
            (
                json!({"baseUrl": base, "authType": "basic", "username": "u", "password": "p"}),
                "auth",
                json!(format!("Basic {}", BASE64.encode("u:p"))),
            ),
        ];
        for (config, field, expected) in cases {
            let result = run(
                &http,
                &engine,
                config.clone(),
                "request",
                request(json!({})),
            )
            .await;
            assert!(result.success, "{config}: {result:?}");
            assert_eq!(
                result.data.expect("data")["body"][field],
                expected,
                "{config}"
            );
        }
    }

    #[tokio::test]
    async fn oauth2_tokens_are_reused_and_refreshed_after_a_401() {
        let (base, issued) = api().await;
        let engine = engine();
        let http = HttpType::default();
        let config = json!({"baseUrl": base, "authType": "oauth2", "clientId": "cid", "clientSecret": "csecret", "tokenUrl": format!("{base}/token")});
        for _ in 0..2 {
            let result = run(
                &http,
                &engine,
                config.clone(),
                "request",
                request(json!({})),
            )
            .await;
            assert_eq!(result.data.expect("data")["body"]["auth"], "Bearer t-1");
        }
        assert_eq!(*issued.lock().expect("lock"), 1, "the token was not reused");
        // The API rotates its accepted token: the cached one now gets a 401.
        *issued.lock().expect("lock") += 1;
        let result = run(&http, &engine, config, "request", request(json!({}))).await;
        assert!(result.success, "{result:?}");
        assert_eq!(result.data.expect("data")["body"]["auth"], "Bearer t-3");
    }

    #[tokio::test]
    async fn query_arrays_json_bodies_and_escaping_paths() {
        assert_eq!(
            build_url(
                "https://api.example.com/v1/",
                "/items",
                &serde_json::from_value(json!({"id": [1, 2], "q": "a b"})).expect("query")
            )
            .expect("url"),
            "https://api.example.com/v1/items?id=1&id=2&q=a+b"
        );
        for path in [
            "https://evil.example/x",
            "//evil.example/x",
            "/a/../../admin",
        ] {
            assert!(
                build_url("https://api.example.com/v1", path, &BTreeMap::new()).is_err(),
                "{path}"
            );
        }
        let (base, _) = api().await;
        let result = run(
            &HttpType::default(),
            &engine(),
            json!({"baseUrl": base}),
            "request",
            json!({"method": "FETCH", "path": "/x"}),
        )
        .await;
        assert!(!result.success && result.error.expect("error").contains("FETCH"));
    }

    #[tokio::test]
    async fn test_reports_refused_credentials() {
        let (base, _) = api().await;
        let engine = engine();
        let config = json!({"baseUrl": format!("{base}/v1/echo"), "authType": "bearer", "bearerToken": "t-999"});
        let result = run(&HttpType::default(), &engine, config, "test", json!({})).await;
        assert!(!result.success);
        assert!(result.error.expect("error").contains("401"));
    }
}

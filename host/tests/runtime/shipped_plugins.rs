//! The shipped `http` plugin (which replaced the native type) against a real
//! API: every auth scheme, OAuth2 token reuse across executions through the
//! host cache and refresh after a 401, bad input, and `test`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use floh::connectors::BuiltinType;
use floh::plugins::PluginType;
use floh::plugins::shipped::SHIPPED;
use floh::runtime::{ConnectorResult, ExecutionContext, Invocation, ScriptEngine};
use serde_json::{Value, json};

use crate::support::{Upstream, engine, open_context};

async fn shipped(engine: &Arc<ScriptEngine>, name: &str) -> PluginType {
    let plugin = SHIPPED
        .iter()
        .find(|p| p.name == name)
        .expect("shipped plugin");
    PluginType::load(engine.clone(), name, plugin.wasm.to_vec())
        .await
        .expect("shipped plugin loads")
}

async fn run(
    plugin: &PluginType,
    engine: &ScriptEngine,
    config: Value,
    command: &str,
    params: Value,
) -> ConnectorResult {
    let context: ExecutionContext = open_context(config, &[]);
    let invocation = Invocation {
        command: command.into(),
        params,
        ..Invocation::default()
    };
    let mut calls = engine
        .host_calls(&context, Instant::now() + Duration::from_secs(5))
        .expect("calls");
    plugin
        .execute(&invocation, &context, &mut calls)
        .await
        .expect("a connector result")
}

/// An API echoing what authenticated it, and a token endpoint counting the
/// tokens it issued (token N is `t-N`; only the newest is accepted).
async fn api() -> (Upstream, Arc<Mutex<u32>>) {
    let issued: Arc<Mutex<u32>> = Arc::default();
    let counter = issued.clone();
    let accepted = issued.clone();
    let router = axum::Router::new()
        .route(
            "/token",
            post(move |headers: HeaderMap, body: String| {
                let counter = counter.clone();
                async move {
                    let basic = format!("Basic {}", BASE64.encode("cid:csecret"));
                    let by_header = headers.get("authorization").and_then(|v| v.to_str().ok())
                        == Some(basic.as_str());
                    let by_form = body.contains("client_secret=csecret");
                    if !(by_header || by_form) || !body.contains("grant_type=client_credentials") {
                        return (StatusCode::UNAUTHORIZED, axum::Json(json!({})));
                    }
                    let mut n = counter.lock().expect("lock");
                    *n += 1;
                    let token = json!({"access_token": format!("t-{n}"), "expires_in": 3600});
                    (StatusCode::OK, axum::Json(token))
                }
            }),
        )
        .route(
            "/v1/echo",
            get(move |headers: HeaderMap, uri: Uri| {
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
                    let echo = json!({"auth": auth, "key": key, "query": uri.query()});
                    (StatusCode::OK, axum::Json(echo))
                }
            }),
        );
    (Upstream::start(router).await, issued)
}

fn echo() -> Value {
    json!({"method": "GET", "path": "/v1/echo"})
}

#[tokio::test]
async fn each_auth_scheme_reaches_the_api() {
    let (api, _) = api().await;
    let base = api.url();
    let engine = Arc::new(engine());
    let http = shipped(&engine, "http").await;
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
        let result = run(&http, &engine, config.clone(), "request", echo()).await;
        assert!(result.success, "{config}: {result:?}");
        let body = &result.data.expect("data")["body"];
        assert_eq!(body[field], expected, "{config}");
    }
}

#[tokio::test]
async fn oauth2_tokens_are_reused_across_executions_and_refreshed_after_a_401() {
    let (api, issued) = api().await;
    let base = api.url();
    let engine = Arc::new(engine());
    let http = shipped(&engine, "http").await;
    let config = json!({"baseUrl": base, "authType": "oauth2", "clientId": "cid", "clientSecret": "csecret", "tokenUrl": format!("{base}/token")});
    for _ in 0..2 {
        let result = run(&http, &engine, config.clone(), "request", echo()).await;
        assert!(result.success, "{result:?}");
        assert_eq!(result.data.expect("data")["body"]["auth"], "Bearer t-1");
    }
    assert_eq!(*issued.lock().expect("lock"), 1, "the token was not reused");
    // The API rotates its accepted token: the cached one now gets a 401.
    *issued.lock().expect("lock") += 1;
    let result = run(&http, &engine, config, "request", echo()).await;
    assert!(result.success, "{result:?}");
    assert_eq!(result.data.expect("data")["body"]["auth"], "Bearer t-3");
}

#[tokio::test]
async fn unusable_requests_and_refused_credentials_are_failures_with_reasons() {
    let (api, _) = api().await;
    let base = api.url();
    let engine = Arc::new(engine());
    let http = shipped(&engine, "http").await;
    let config =
        json!({"baseUrl": format!("{base}/v1/echo"), "authType": "bearer", "bearerToken": "t-999"});
    let result = run(&http, &engine, config, "test", json!({})).await;
    assert!(!result.success);
    assert!(result.error.expect("error").contains("401"));

    let mut calls = 0;
    for path in [
        "https://evil.example/x",
        "//evil.example/x",
        "/a/../../admin",
    ] {
        let params = json!({"method": "GET", "path": path});
        let config = json!({"baseUrl": format!("{base}/v1")});
        let context = open_context(config, &[]);
        let invocation = Invocation {
            command: "request".into(),
            params,
            ..Invocation::default()
        };
        let mut host = engine
            .host_calls(&context, Instant::now() + Duration::from_secs(5))
            .expect("calls");
        let outcome = http.execute(&invocation, &context, &mut host).await;
        // Refused before any request: as a failed result or invalid input.
        match outcome {
            Ok(result) => assert!(!result.success, "{path}: {result:?}"),
            Err(error) => assert_eq!(error.code(), "INVALID_INPUT", "{path}: {error}"),
        }
        calls += 1;
    }
    assert_eq!(calls, 3);
    assert!(
        api.seen()
            .iter()
            .all(|seen| seen.method != "GET" || seen.query.is_none())
    );
}

#[tokio::test]
async fn head_requests_and_untyped_bodies_are_sent() {
    let router = axum::Router::new().route(
        "/v1/items",
        get(|| async { "listed" }).post(|body: String| async move { body }),
    );
    let api = Upstream::start(router).await;
    let engine = Arc::new(engine());
    let http = shipped(&engine, "http").await;
    let config = json!({"baseUrl": format!("{}/v1", api.url())});
    let head = json!({"method": "HEAD", "path": "/items"});
    let result = run(&http, &engine, config.clone(), "request", head).await;
    assert!(result.success, "{result:?}");
    assert_eq!(result.data.expect("data")["status"], 200);
    for (body, sent) in [(json!("a=b"), "a=b"), (json!([1, 2]), "[1,2]")] {
        let post = json!({"method": "POST", "path": "/items", "body": body});
        let result = run(&http, &engine, config.clone(), "request", post).await;
        assert!(result.success, "{result:?}");
        assert_eq!(result.data.expect("data")["body"], sent);
    }
    let methods: Vec<String> = api.seen().into_iter().map(|seen| seen.method).collect();
    assert_eq!(methods, ["HEAD", "POST", "POST"]);
}

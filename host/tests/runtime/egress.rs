//! `floh.http` under the egress policy, and its request/response mapping.

use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use floh::egress::{EgressPolicy, IpNetwork};
use floh::runtime::ExecutionContext;
use serde_json::{Value, json};

use crate::support::{Upstream, engine, open_context, run};

const FETCH: &str = r#"
function fetch() {
    try {
        var resp = floh.http.get(floh.params.url);
        return {success: true, data: {status: resp.status, body: resp.body}};
    } catch (e) {
        return {success: false, error: e.message, data: {code: e.code}};
    }
}
"#;

async fn fetch(context: &ExecutionContext, url: &str) -> (bool, Value, Option<String>) {
    let engine = engine();
    let result = run(&engine, FETCH, "fetch", json!({"url": url}), context)
        .await
        .outcome
        .expect("result");
    (
        result.success,
        result.data.unwrap_or(Value::Null),
        result.error,
    )
}

fn default_policy() -> ExecutionContext {
    ExecutionContext::new("egress-test")
}

#[tokio::test]
async fn private_and_metadata_destinations_are_refused_by_default() {
    let upstream = Upstream::start(axum::Router::new().route("/", get(|| async { "hello" }))).await;
    let port = upstream.addr.port();
    let urls = [
        format!("http://127.0.0.1:{port}/"),
        format!("http://localhost:{port}/"),
        format!("http://[::1]:{port}/"),
        "http://10.0.0.1/".to_string(),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "http://[::ffff:127.0.0.1]/".to_string(),
    ];
    for url in &urls {
        let (success, data, error) = fetch(&default_policy(), url).await;
        assert!(!success, "{url} was allowed");
        assert_eq!(data["code"], "EGRESS_DENIED", "{url}: {error:?}");
    }
    assert!(
        upstream.seen().is_empty(),
        "a refused request reached the server"
    );
}

#[tokio::test]
async fn a_redirect_from_an_allowed_host_to_a_refused_one_is_refused() {
    let router = axum::Router::new()
        .route(
            "/to-metadata",
            get(|| async { Redirect::temporary("http://169.254.169.254/latest/meta-data/") }),
        )
        .route(
            "/to-loopback-v6",
            get(|| async { Redirect::temporary("http://[::1]/") }),
        )
        .route("/to-self", get(|| async { Redirect::to("/final") }))
        .route(
            "/final",
            get(|| async { axum::Json(json!({"landed": true})) }),
        );
    let upstream = Upstream::start(router).await;
    let only_v4_loopback: IpNetwork = "127.0.0.1/32".parse().expect("network");
    let context = ExecutionContext {
        egress: EgressPolicy::allowing_networks([only_v4_loopback]),
        ..default_policy()
    };
    for path in ["/to-metadata", "/to-loopback-v6"] {
        let (success, data, error) = fetch(&context, &format!("{}{path}", upstream.url())).await;
        assert!(!success, "{path}");
        assert_eq!(data["code"], "EGRESS_DENIED", "{path}: {error:?}");
    }
    let (success, data, _) = fetch(&context, &format!("{}/to-self", upstream.url())).await;
    assert!(success);
    assert_eq!(data["body"], json!({"landed": true}));
}

#[tokio::test]
async fn bodies_headers_and_text_responses_map_as_documented() {
    let router = axum::Router::new()
        .route(
            "/echo",
            post(|headers: axum::http::HeaderMap, body: String| async move {
                let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                axum::Json(json!({"contentType": content_type, "body": body, "custom": headers.get("x-custom").and_then(|v| v.to_str().ok())}))
            }),
        )
        .route("/text", get(|| async { ([("x-reply", "yes")], "plain words").into_response() }));
    let upstream = Upstream::start(router).await;
    let source = r#"
        function c() {
            var base = floh.params.base;
            var objectBody = floh.http.post(base + '/echo', {a: 1}, {'X-Custom': 'v'});
            var textBody = floh.http.put(base + '/echo', 'raw text', {'Content-Type': 'text/plain'});
            var text = floh.http.get(base + '/text');
            return {success: true, data: {object: objectBody.body, text: text.body, header: text.headers['x-reply'], status: textBody.status}};
        }
    "#;
    let engine = engine();
    let context = open_context(json!({}), &[]);
    let result = run(
        &engine,
        source,
        "c",
        json!({"base": upstream.url()}),
        &context,
    )
    .await
    .outcome
    .expect("ok");
    let data = result.data.expect("data");
    assert_eq!(
        data["object"],
        json!({"contentType": "application/json", "body": "{\"a\":1}", "custom": "v"})
    );
    assert_eq!(data["text"], "plain words");
    assert_eq!(data["header"], "yes");
    assert_eq!(
        data["status"], 405,
        "PUT is not routed: the status comes through"
    );
}

//! The published script API declarations (`floh.d.ts`) match the `floh`
//! global a live engine installs, member for member.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::support::{engine, open_context, run};

/// Lists every own member of `floh`, one level of nesting deep, with its type.
const ENUMERATE: &str = r#"
function members() {
  var found = {};
  Object.keys(floh).forEach(function (name) {
    var value = floh[name];
    found[name] = typeof value;
    if (value && typeof value === 'object' && ['config', 'params', 'variables'].indexOf(name) < 0) {
      Object.keys(value).forEach(function (inner) { found[name + '.' + inner] = typeof value[inner]; });
    }
  });
  return { success: true, data: found };
}
"#;

#[tokio::test]
async fn floh_d_ts_declares_exactly_what_the_engine_installs() {
    let engine = engine();
    let execution = run(
        &engine,
        ENUMERATE,
        "members",
        json!({}),
        &open_context(json!({}), &[]),
    )
    .await;
    let data = execution.outcome.expect("runs").data.expect("data");
    let installed: BTreeSet<String> = data.as_object().expect("object").keys().cloned().collect();
    assert_eq!(floh::script_api::declared_members(), installed);
    // Every method is a function, every namespace an object.
    for (name, kind) in data.as_object().expect("test value") {
        let expected = if name.contains('.') {
            "function"
        } else {
            "object"
        };
        assert_eq!(kind, &Value::from(expected), "floh.{name}");
    }
}

/// `floh.http.head`, `floh.http.options` and `floh.http.request` reach a
/// real server with the method they name; an unknown method is a TypeError
/// before anything is sent.
#[tokio::test]
async fn head_options_and_request_send_their_methods() {
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::any;

    let router = axum::Router::new().route(
        "/thing",
        any(|method: axum::http::Method, body: String| async move {
            let mut headers = HeaderMap::new();
            headers.insert("x-method", method.as_str().parse().expect("header"));
            headers.insert("content-type", "application/json".parse().expect("header"));
            if method == axum::http::Method::OPTIONS {
                headers.insert(
                    "allow",
                    "GET, HEAD, OPTIONS, PATCH".parse().expect("header"),
                );
            }
            (
                StatusCode::OK,
                headers,
                format!("{{\"method\": \"{method}\", \"body\": {body:?}}}"),
            )
        }),
    );
    let upstream = crate::support::Upstream::start(router).await;
    let script = r#"
function calls() {
  var url = floh.config.baseUrl + '/thing';
  var head = floh.http.head(url, { 'X-Probe': '1' });
  var options = floh.http.options(url);
  var patch = floh.http.request('PATCH', url, { done: true }, { 'If-Match': '"v1"' });
  var lower = floh.http.request('get', url);
  var refused;
  try {
    floh.http.request('TRACE', url);
  } catch (error) {
    refused = (error instanceof TypeError) + ': ' + error.message;
  }
  return { success: true, data: {
    head: { status: head.status, method: head.headers['x-method'], body: head.body },
    options: { allow: options.headers['allow'] },
    patch: patch.body,
    lower: lower.headers['x-method'],
    refused: refused
  } };
}
"#;
    let execution = run(
        &engine(),
        script,
        "calls",
        json!({}),
        &open_context(json!({"baseUrl": upstream.url()}), &[]),
    )
    .await;
    let data = execution.outcome.expect("runs").data.expect("data");
    assert_eq!(
        data["head"],
        json!({"status": 200, "method": "HEAD", "body": ""})
    );
    assert_eq!(data["options"]["allow"], "GET, HEAD, OPTIONS, PATCH");
    assert_eq!(data["patch"]["method"], "PATCH");
    assert_eq!(data["patch"]["body"], "{\"done\":true}");
    assert_eq!(data["lower"], "GET");
    let refused = data["refused"].as_str().expect("refused");
    assert!(refused.starts_with("true: floh.http.request:"), "{refused}");
    assert!(refused.contains("\"TRACE\""), "{refused}");
    let seen: Vec<_> = upstream
        .seen()
        .iter()
        .map(|request| request.method.clone())
        .collect();
    assert_eq!(seen, ["HEAD", "OPTIONS", "PATCH", "GET"]);
    let patch = &upstream.seen()[2];
    assert_eq!(patch.headers["if-match"], "\"v1\"");
    assert_eq!(patch.headers["content-type"], "application/json");
    assert_eq!(upstream.seen()[0].headers["x-probe"], "1");
}

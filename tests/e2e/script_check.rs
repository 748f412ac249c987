//! `POST /api/connectors/check-script`: the compiler's verdict before
//! anything is saved, for the editor and the MCP tools.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::routing::get;
use floh_e2e::{Api, Server, upstream};
use serde_json::json;

#[tokio::test]
async fn check_script_reports_syntax_errors_and_missing_commands_and_saves_nothing() {
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start(data.path());
    let api = server.admin();

    let (status, body) = api
        .post(
            "/api/connectors/check-script",
            json!({"scriptSource": "function ping() {\n  return { success: true ;\n}"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ok"], false, "{body}");
    let syntax = &body["diagnostics"][0];
    assert_eq!(syntax["code"], "SCRIPT_SYNTAX", "{body}");
    assert_eq!(syntax["severity"], "error", "{body}");
    assert_eq!(syntax["line"], 2, "{body}");
    assert!(syntax["column"].as_u64().is_some_and(|c| c > 1), "{body}");

    let (status, body) = api
        .post(
            "/api/connectors/check-script",
            json!({
                "scriptSource": "var helper = function () {};\nfunction ping() { return { success: true }; }",
                "commands": ["ping", "helper", "pong"]
            }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ok"], false, "{body}");
    let codes: Vec<_> = body["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .map(|d| {
            (
                d["code"].clone(),
                d["message"].as_str().unwrap_or("").contains("`pong`"),
            )
        })
        .collect();
    assert_eq!(codes, vec![(json!("COMMAND_NOT_DEFINED"), true)], "{body}");

    let (status, body) = api
        .post(
            "/api/connectors/check-script",
            json!({"scriptSource": "throw new Error('boom at load');", "commands": ["ping"]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["diagnostics"][0]["code"], "SCRIPT_ERROR", "{body}");
    assert!(
        body["diagnostics"][0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("boom at load")
    );

    // The top level may not reach the network during a check, even though
    // this test server allows every destination to its connectors.
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let upstream = upstream(Router::new().route(
        "/",
        get(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async { "hello" }
        }),
    ))
    .await;
    let (status, body) = api
        .post(
            "/api/connectors/check-script",
            json!({
                "scriptSource": format!("var r = floh.http.get('{upstream}/');\nfunction ping() {{ return {{ success: true }}; }}"),
                "commands": ["ping"]
            }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ok"], false, "{body}");
    assert_eq!(hits.load(Ordering::SeqCst), 0);

    let (status, body) = api
        .post(
            "/api/connectors/check-script",
            json!({"scriptSource": "function ping() { return { success: true }; }", "commands": ["ping"]}),
        )
        .await;
    assert_eq!((status, body["ok"].clone()), (200, json!(true)), "{body}");

    let (status, listed) = api.get("/api/connectors").await;
    assert_eq!((status, listed), (200, json!([])));

    let (status, body) = api
        .post("/api/connectors/check-script", json!({"source": "x"}))
        .await;
    assert_eq!(status, 422, "{body}");
}

#[tokio::test]
async fn executors_may_not_check_scripts() {
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start(data.path());
    let (status, issued) = server
        .admin()
        .post("/api/tokens", json!({"name": "runner", "role": "executor"}))
        .await;
    assert_eq!(status, 201, "{issued}");
    let executor = Api::new(&server.url, issued["token"].as_str());
    let (status, body) = executor
        .post(
            "/api/connectors/check-script",
            json!({"scriptSource": "function ping() {}"}),
        )
        .await;
    assert_eq!(status, 403, "{body}");
}

//! WASM plugins built with the guest SDK, dropped into a running server's
//! plugin directory: appear, execute, get replaced, disappear; and plugins
//! that are broken or hostile are refused or contained.

use std::time::Duration;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::get;
use floh_e2e::{Api, Server, build_plugin, eventually, install_plugin, upstream};
use serde_json::{Value, json};

const SECRET: &str = "sk-sample-7f3a9c1e5b";

/// The type's version as listed by the server, if it is registered.
async fn listed_version(api: &Api, type_name: &str) -> Option<String> {
    let (_, types) = api.get("/api/connector-types").await;
    types
        .as_array()?
        .iter()
        .find(|t| t["name"] == type_name)
        .and_then(|t| t["version"].as_str().map(str::to_string))
}

async fn wait_for_version(api: &Api, version: &str) {
    let seen = eventually(Duration::from_secs(20), || async {
        (listed_version(api, "sample").await.as_deref() == Some(version)).then_some(())
    })
    .await;
    assert!(seen.is_some(), "type `sample` {version} never appeared");
}

/// An upstream that requires the bearer secret; `?slow` answers after a second.
async fn greeting_upstream() -> String {
    upstream(Router::new().route(
        "/greeting",
        get(|headers: HeaderMap, uri: axum::http::Uri| async move {
            if uri.query() == Some("slow") {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            let authorized = headers
                .get("authorization")
                .is_some_and(|v| v == format!("Bearer {SECRET}").as_str());
            if authorized {
                (
                    axum::http::StatusCode::OK,
                    axum::Json(json!({"from": "upstream"})),
                )
            } else {
                (
                    axum::http::StatusCode::UNAUTHORIZED,
                    axum::Json(json!({"error": "no"})),
                )
            }
        }),
    ))
    .await
}

#[tokio::test]
async fn a_dropped_plugin_is_served_replaced_and_removed_while_the_server_runs() {
    let v1 = build_plugin("floh-sample-plugin", &[]);
    let v2 = build_plugin("floh-sample-plugin", &["v2"]);
    let upstream_url = greeting_upstream().await;
    let data = tempfile::tempdir().expect("data dir");
    let plugins = data.path().join("plugins");
    let server = Server::start(data.path());
    let api = server.admin();
    assert_eq!(listed_version(&api, "sample").await, None);

    install_plugin(&plugins, "sample.wasm", &v1);
    wait_for_version(&api, "1.0.0").await;
    let (status, created) = api
        .post(
            "/api/connectors",
            json!({
                "name": "greeter",
                "executionModel": "built_in",
                "type": "sample",
                "config": {"baseUrl": upstream_url, "apiKey": SECRET},
            }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["config"]["apiKey"], "***", "{created}");

    let greet = json!({"command": "greet", "params": {"name": "Ada"}});
    let (status, result) = api
        .post("/api/connectors/greeter/execute", greet.clone())
        .await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["success"], true, "{result}");
    assert_eq!(result["data"]["greeting"], "Hello, Ada!");
    assert_eq!(result["data"]["upstream"]["from"], "upstream");
    assert_eq!(result["outputVariables"]["greeted"], "Ada");
    assert_eq!(result["httpCalls"][0]["status"], 200, "{result}");
    let text = result.to_string();
    assert!(!text.contains(SECRET), "secret leaked: {text}");
    assert!(text.contains("with key ***"), "{text}");

    // Replaced while an execution is in flight: that one finishes on the
    // old version, later ones run the new.
    let in_flight = {
        let api = api.clone();
        let slow = json!({"command": "greet", "params": {"name": "Ada", "slow": true}});
        tokio::spawn(async move { api.post("/api/connectors/greeter/execute", slow).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    install_plugin(&plugins, "sample.wasm", &v2);
    wait_for_version(&api, "2.0.0").await;
    let (_, result) = api
        .post("/api/connectors/greeter/execute", greet.clone())
        .await;
    assert_eq!(result["data"]["greeting"], "Howdy, Ada!", "{result}");
    assert_eq!(result["data"]["version"], "2.0.0");
    let (status, finished) = in_flight.await.expect("in-flight request");
    assert_eq!(status, 200, "{finished}");
    assert_eq!(finished["data"]["greeting"], "Hello, Ada!", "{finished}");
    assert_eq!(finished["data"]["version"], "1.0.0");

    std::fs::remove_file(plugins.join("sample.wasm")).expect("remove plugin");
    let gone = eventually(Duration::from_secs(20), || async {
        listed_version(&api, "sample").await.is_none().then_some(())
    })
    .await;
    assert!(gone.is_some(), "type `sample` is still listed");
    let (status, result) = api.post("/api/connectors/greeter/execute", greet).await;
    assert_eq!(status, 409, "{result}");
    assert_eq!(result["error"]["code"], "TYPE_UNAVAILABLE", "{result}");
    let message = result["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("sample"), "{message}");
    assert!(!server.printed().contains(SECRET));
}

async fn execute(api: &Api, command: &str, timeout_ms: u64) -> Value {
    let body = json!({"command": command, "metadata": {"timeout": timeout_ms}});
    let (status, result) = api.post("/api/connectors/misbehaving/execute", body).await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["success"], false, "{result}");
    result
}

#[tokio::test]
async fn runaway_hungry_and_panicking_plugins_are_contained() {
    let plugin = build_plugin("floh-sample-plugin", &[]);
    let upstream_url = greeting_upstream().await;
    let data = tempfile::tempdir().expect("data dir");
    install_plugin(&data.path().join("plugins"), "sample.wasm", &plugin);
    let server = Server::start(data.path());
    let api = server.admin();
    let (status, created) = api
        .post(
            "/api/connectors",
            json!({
                "name": "misbehaving",
                "executionModel": "built_in",
                "type": "sample",
                "config": {"baseUrl": upstream_url, "apiKey": SECRET},
            }),
        )
        .await;
    assert_eq!(status, 201, "{created}");

    let spun = execute(&api, "spin", 300).await;
    assert_eq!(spun["errorCode"], "TIMEOUT", "{spun}");
    let hogged = execute(&api, "hog", 10_000).await;
    assert_eq!(hogged["errorCode"], "MEMORY_LIMIT", "{hogged}");
    let panicked = execute(&api, "panic", 10_000).await;
    assert_eq!(panicked["errorCode"], "PLUGIN_PANICKED", "{panicked}");
    let message = panicked["error"].as_str().unwrap_or_default();
    assert!(
        message.contains("the sample plugin was asked to panic"),
        "{message}"
    );

    // The server is unharmed and the plugin still works.
    let (status, _) = api.get("/api/health").await;
    assert_eq!(status, 200);
    let body = json!({"command": "greet", "params": {"name": "Bo"}});
    let (_, result) = api.post("/api/connectors/misbehaving/execute", body).await;
    assert_eq!(result["success"], true, "{result}");
}

/// A component importing `imports` (instances with no functions); enough
/// for the host's checks, which run before anything is compiled.
fn component_importing(imports: &[&str]) -> Vec<u8> {
    let imports: String = imports
        .iter()
        .map(|name| format!("(import \"{name}\" (instance))\n"))
        .collect();
    wat::parse_str(format!("(component {imports})")).expect("valid WAT")
}

#[tokio::test]
async fn broken_and_hostile_plugins_are_refused_with_clear_reasons() {
    let good = build_plugin("floh-sample-plugin", &[]);
    let data = tempfile::tempdir().expect("data dir");
    let plugins = data.path().join("plugins");
    let server = Server::start(data.path());
    let api = server.admin();

    let core_module = wat::parse_str("(module (func (export \"run\")))").expect("WAT");
    let files: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "garbage.wasm",
            b"this is not webassembly".to_vec(),
            "not a valid WebAssembly component",
        ),
        (
            "truncated.wasm",
            good[..good.len() / 2].to_vec(),
            "not a valid WebAssembly component",
        ),
        ("core.wasm", core_module, "floh plugin pack"),
        (
            "future.wasm",
            component_importing(&["floh:connector/log@0.7.0"]),
            "rebuild it with floh-sdk 0.1",
        ),
        (
            "sockets.wasm",
            component_importing(&["wasi:sockets/tcp@0.2.0"]),
            "imports `wasi:sockets/tcp@0.2.0`",
        ),
        (
            "files.wasm",
            component_importing(&["wasi:filesystem/preopens@0.2.0"]),
            "imports `wasi:filesystem/preopens@0.2.0`",
        ),
        (
            "exportless.wasm",
            component_importing(&["floh:connector/log@0.1.0"]),
            "does not compile or link",
        ),
    ];
    for (name, bytes, _) in &files {
        install_plugin(&plugins, name, bytes);
    }
    let statuses = eventually(Duration::from_secs(20), || async {
        let (_, listed) = api.get("/api/plugins").await;
        // Files only: the shipped plugins are listed too.
        let listed: Vec<Value> = listed
            .as_array()?
            .iter()
            .filter(|s| {
                !s["file"]
                    .as_str()
                    .unwrap_or_default()
                    .starts_with("shipped:")
            })
            .cloned()
            .collect();
        (listed.len() == files.len()).then_some(listed)
    })
    .await
    .expect("every file reported");
    for (name, _, reason) in &files {
        let status = statuses
            .iter()
            .find(|s| s["file"] == *name)
            .unwrap_or_else(|| panic!("{name} not reported"));
        assert_eq!(status["status"], "refused", "{status}");
        let error = status["error"].as_str().unwrap_or_default();
        assert!(error.contains(reason), "{name}: {error}");
    }
    assert_eq!(listed_version(&api, "sample").await, None);

    // A good plugin still loads next to them, and the server is healthy.
    install_plugin(&plugins, "sample.wasm", &good);
    wait_for_version(&api, "1.0.0").await;
    let (status, _) = api.get("/api/health").await;
    assert_eq!(status, 200);

    // A broken replacement leaves the working version serving.
    install_plugin(&plugins, "sample.wasm", &good[..good.len() - 10]);
    let refused = eventually(Duration::from_secs(20), || async {
        let (_, listed) = api.get("/api/plugins").await;
        listed
            .as_array()?
            .iter()
            .find(|s| s["file"] == "sample.wasm" && s["status"] == "refused")
            .cloned()
    })
    .await
    .expect("the broken replacement is reported");
    let error = refused["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("previously loaded version keeps serving"),
        "{error}"
    );
    assert_eq!(
        listed_version(&api, "sample").await.as_deref(),
        Some("1.0.0")
    );
}

#[tokio::test]
async fn plugin_http_obeys_the_connector_egress_policy() {
    let plugin = build_plugin("floh-sample-plugin", &[]);
    let upstream_url = greeting_upstream().await;
    let data = tempfile::tempdir().expect("data dir");
    install_plugin(&data.path().join("plugins"), "sample.wasm", &plugin);
    let settings = floh_e2e::ServerSettings {
        default_egress: true,
        ..Default::default()
    };
    let server = Server::start_with(data.path(), settings).expect("server starts");
    let api = server.admin();
    let definition = |name: &str, networks: Value| {
        json!({
            "name": name,
            "executionModel": "built_in",
            "type": "sample",
            "config": {"baseUrl": upstream_url, "apiKey": SECRET},
            "allowedNetworks": networks,
        })
    };
    let greet = json!({"command": "greet", "params": {"name": "Ada"}});

    // Loopback is private: refused under the default (public-only) policy.
    let (status, _) = api
        .post("/api/connectors", definition("fenced", json!([])))
        .await;
    assert_eq!(status, 201);
    let (_, result) = api
        .post("/api/connectors/fenced/execute", greet.clone())
        .await;
    assert_eq!(result["success"], false, "{result}");
    let error = result["error"].as_str().unwrap_or_default();
    assert!(error.contains("egress policy"), "{error}");

    // Allowed when the connector's allowedNetworks include it.
    let (status, _) = api
        .post(
            "/api/connectors",
            definition("allowed", json!(["127.0.0.0/8"])),
        )
        .await;
    assert_eq!(status, 201);
    let (_, result) = api.post("/api/connectors/allowed/execute", greet).await;
    assert_eq!(result["success"], true, "{result}");
}

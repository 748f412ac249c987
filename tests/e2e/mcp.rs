//! The MCP server end to end: one real `floh serve` (refusing private
//! destinations, like production), a local "Acme CRM" upstream, an
//! on-premise agent, and the official TypeScript SDK as the client, over
//! Streamable HTTP (`/mcp`) and over stdio (`floh mcp`). The scenarios live
//! in `tests/mcp/scenarios.mjs`; the npm packages come from `just
//! e2e-deps`, like Prism's.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path as UrlPath, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use floh_e2e::{ADMIN_TOKEN, AgentProcess, Server, ServerSettings, floh_binary, upstream};
use serde_json::{Value, json};

use crate::agent::{LOOPBACK, fetcher, issue_token};

/// The upstream's API key: it must never appear in a tool result, a
/// resource or the server's output.
const SECRET: &str = "sk-acme-mcp-7f3a91c2";

fn npm_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("node_modules")
}

/// The MCP SDKs, or `None` (with a note) when they are not installed and
/// the environment does not require them (CI sets FLOH_REQUIRE_NPM_TESTS).
fn mcp_sdk() -> Option<PathBuf> {
    let dir = npm_dir();
    if dir.join("@modelcontextprotocol/sdk/package.json").exists()
        && dir
            .join("@modelcontextprotocol/client/package.json")
            .exists()
    {
        return Some(dir);
    }
    let message = "@modelcontextprotocol/sdk and @modelcontextprotocol/client are not installed: run `just e2e-deps`";
    assert!(
        std::env::var_os("FLOH_REQUIRE_NPM_TESTS").is_none(),
        "{message}"
    );
    eprintln!("skipping: {message}");
    None
}

const SPEC: &str = r#"openapi: 3.0.3
info:
  title: Acme CRM
  version: 2.1.0
  description: Contacts of the Acme CRM.
servers:
  - url: /
components:
  securitySchemes:
    bearerAuth: {type: http, scheme: bearer}
security:
  - bearerAuth: []
paths:
  /contacts:
    get:
      operationId: listContacts
      parameters:
        - {name: limit, in: query, schema: {type: integer}}
      responses: {'200': {description: ok}}
    post:
      operationId: createContact
      requestBody:
        content:
          application/json:
            schema: {type: object, required: [name], properties: {name: {type: string}, email: {type: string}}}
      responses: {'201': {description: created}}
    trace:
      operationId: traceContacts
      responses: {'200': {description: ok}}
  /contacts/{id}:
    get:
      operationId: getContact
      parameters:
        - {name: id, in: path, required: true, schema: {type: string}}
      responses: {'200': {description: ok}, '404': {description: missing}}
"#;

fn authorized(headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {SECRET}"))
}

/// A small CRM on loopback: contacts behind a bearer token, its OpenAPI
/// description, and a slow endpoint for progress and cancellation.
async fn acme_crm() -> String {
    let contacts = || json!([{"id": 1, "name": "Ada Lovelace"}, {"id": 2, "name": "Grace Hopper"}]);
    let router = axum::Router::new()
        .route("/openapi.yaml", get(|| async { SPEC }))
        .route(
            "/contacts",
            get(
                move |headers: HeaderMap, Query(query): Query<Value>| async move {
                    if !authorized(&headers) {
                        return (StatusCode::UNAUTHORIZED, Json(json!({"message": "no"})));
                    }
                    let limit = query["limit"]
                        .as_str()
                        .and_then(|l| l.parse::<usize>().ok())
                        .unwrap_or(100);
                    let all = contacts();
                    let list: Vec<Value> = all
                        .as_array()
                        .into_iter()
                        .flatten()
                        .take(limit)
                        .cloned()
                        .collect();
                    (StatusCode::OK, Json(json!(list)))
                },
            )
            .post(|headers: HeaderMap, Json(body): Json<Value>| async move {
                if !authorized(&headers) {
                    return (StatusCode::UNAUTHORIZED, Json(json!({"message": "no"})));
                }
                let mut created = json!({"id": 3});
                if let (Some(object), Some(fields)) = (created.as_object_mut(), body.as_object()) {
                    object.extend(fields.clone());
                }
                (StatusCode::CREATED, Json(created))
            }),
        )
        .route(
            "/contacts/{id}",
            get(
                move |headers: HeaderMap, UrlPath(id): UrlPath<String>| async move {
                    if !authorized(&headers) {
                        return (StatusCode::UNAUTHORIZED, Json(json!({"message": "no"})));
                    }
                    match contacts().as_array().and_then(|all| {
                        all.iter()
                            .find(|c| {
                                c["id"].as_u64().map(|n| n.to_string()).as_deref()
                                    == Some(id.as_str())
                            })
                            .cloned()
                    }) {
                        Some(contact) => (StatusCode::OK, Json(contact)),
                        None => (
                            StatusCode::NOT_FOUND,
                            Json(json!({"message": "no contact"})),
                        ),
                    }
                },
            ),
        )
        .route(
            "/echo-auth",
            get(|headers: HeaderMap| async move {
                if authorized(&headers) {
                    StatusCode::OK.into_response()
                } else {
                    StatusCode::UNAUTHORIZED.into_response()
                }
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(2500)).await;
                Json(json!({"slow": true}))
            }),
        );
    upstream(router).await
}

/// The shared setup: server, upstream, executor token, agent.
struct World {
    server: Server,
    upstream: String,
    executor_token: String,
    agent_connector: String,
    _agent: AgentProcess,
    _data: tempfile::TempDir,
}

async fn world() -> World {
    let upstream = acme_crm().await;
    let data = tempfile::tempdir().expect("dir");
    let settings = ServerSettings {
        default_egress: true,
        extra_args: vec!["--mcp-allowed-hosts".into(), "floh.example.com".into()],
        ..ServerSettings::default()
    };
    let server = Server::start_with(&data.path().join("data"), settings).expect("server starts");
    let api = server.admin();
    let (status, issued) = api
        .post(
            "/api/tokens",
            json!({"name": "mcp-executor", "role": "executor"}),
        )
        .await;
    assert_eq!(status, 201, "{issued}");
    let executor_token = issued["token"].as_str().expect("token").to_string();
    // A connector only an agent can run: the server may not reach loopback.
    let agent_connector = "acme-on-premise".to_string();
    let (status, created) = api
        .post(
            "/api/connectors",
            fetcher(&agent_connector, &upstream, SECRET),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let token = issue_token(&api, "mcp-plant", None).await;
    let agent = AgentProcess::start(
        &server.url,
        &token,
        "agent-mcp",
        &[&agent_connector],
        &data.path().join("agent"),
        &LOOPBACK,
    );
    assert!(
        agent
            .wait_for("floh agent registered", 1, Duration::from_secs(60))
            .await,
        "{}",
        agent.printed()
    );
    World {
        server,
        upstream,
        executor_token,
        agent_connector,
        _agent: agent,
        _data: data,
    }
}

/// Run one scenario with node; its facts, or what it printed.
async fn scenario(world: &World, npm: &Path, name: &str, mode: &str) -> Result<Value, String> {
    let mut command = Command::new("node");
    command
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("mcp/scenarios.mjs"))
        .args([name, mode])
        .env("NODE_PATH", npm)
        .env("FLOH_SERVER", &world.server.url)
        .env("FLOH_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("FLOH_EXECUTOR_TOKEN", &world.executor_token)
        .env("FLOH_BIN", floh_binary())
        .env("UPSTREAM_URL", &world.upstream)
        .env("UPSTREAM_SECRET", SECRET)
        .env("AGENT_CONNECTOR", &world.agent_connector)
        .stdin(Stdio::null());
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("join")
        .expect("run node");
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    if !output.status.success() {
        return Err(format!("{name} over {mode} failed:\n{stderr}\n{stdout}"));
    }
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .map_err(|e| format!("{name} over {mode}: unreadable facts ({e}): {stdout}\n{stderr}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_spec_workflows_run_over_streamable_http_and_stdio() {
    let Some(npm) = mcp_sdk() else { return };
    let world = world().await;
    let runs = [
        ("from-openapi", "http"),
        ("from-openapi", "stdio"),
        ("from-description", "http"),
        ("from-description", "stdio"),
        ("from-description", "modern"),
        ("update-script", "http"),
        ("update-script", "stdio"),
        ("access", "http"),
        ("access", "stdio"),
        ("agent", "http"),
        ("agent", "stdio"),
    ];
    let mut failures = Vec::new();
    let mut facts = Vec::new();
    for (name, mode) in runs {
        match scenario(&world, &npm, name, mode).await {
            Ok(found) => facts.push(found),
            Err(failure) => failures.push(failure),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    let of = |name: &str, mode: &str| {
        facts
            .iter()
            .find(|f| f["scenario"] == name && f["mode"] == mode)
            .cloned()
            .unwrap_or_default()
    };
    // The same description gives the same connector whichever way it came
    // (only the name, which carries the transport, differs).
    let definition = |mode: &str| {
        let mut found = of("from-description", mode)["generatedDefinition"].clone();
        // The script's header comment names the connector too.
        let name = found["name"].as_str().unwrap_or_default().to_string();
        let script = found["scriptSource"].as_str().unwrap_or_default();
        found["scriptSource"] = json!(script.replace(&name, "NAME"));
        found["name"] = json!("");
        found["type"] = json!("");
        found
    };
    assert_eq!(definition("http"), definition("stdio"));
    assert_eq!(definition("http"), definition("modern"));
    assert_eq!(of("from-openapi", "http")["protocolVersion"], "2025-11-25");
    assert_eq!(
        of("from-description", "modern")["protocolVersion"],
        "2026-07-28"
    );
    assert_eq!(
        of("access", "stdio")["executorTools"],
        of("access", "http")["executorTools"]
    );
    assert!(of("update-script", "stdio")["progressNotifications"].as_u64() >= Some(1));
    // Nor did the secret reach the server's log.
    assert!(!world.server.printed().contains(SECRET));
}

/// A raw MCP request to `/mcp`.
async fn post_mcp(server: &Server, headers: &[(&str, &str)], body: Value) -> (u16, String) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let mut request = client
        .post(format!("{}/mcp", server.url))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

fn initialize(version: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}})
}

#[tokio::test]
async fn mcp_checks_host_origin_and_token_and_negotiates_2025_revisions() {
    let data = tempfile::tempdir().expect("dir");
    let settings = ServerSettings {
        extra_args: vec!["--mcp-allowed-hosts".into(), "floh.example.com".into()],
        ..ServerSettings::default()
    };
    let server = Server::start_with(data.path(), settings).expect("server starts");
    let bearer = format!("Bearer {ADMIN_TOKEN}");
    let auth = ("authorization", bearer.as_str());

    // No token, or an unknown one: 401 with the API's error body.
    let (status, body) = post_mcp(&server, &[], initialize("2025-06-18")).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("UNAUTHORIZED"), "{body}");
    let (status, _) = post_mcp(
        &server,
        &[("authorization", "Bearer floh_unknown")],
        initialize("2025-06-18"),
    )
    .await;
    assert_eq!(status, 401);

    // A page that rebinds its own name to 127.0.0.1 sends its own Host.
    let (status, body) = post_mcp(
        &server,
        &[auth, ("host", "evil.example")],
        initialize("2025-06-18"),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = post_mcp(
        &server,
        &[auth, ("origin", "http://evil.example")],
        initialize("2025-06-18"),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    // The configured public name (behind a proxy) is served.
    let (status, body) = post_mcp(
        &server,
        &[
            auth,
            ("host", "floh.example.com"),
            ("origin", "https://floh.example.com"),
        ],
        initialize("2025-06-18"),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // Both 2025 revisions current clients speak are negotiated as asked.
    for version in ["2025-06-18", "2025-11-25"] {
        let (status, body) = post_mcp(&server, &[auth], initialize(version)).await;
        assert_eq!(status, 200, "{body}");
        assert!(
            body.contains(&format!("\"protocolVersion\":\"{version}\"")),
            "{version}: {body}"
        );
        assert!(body.contains("\"name\":\"floh\""), "{body}");
    }
}

#[tokio::test]
async fn floh_mcp_without_a_token_says_what_to_set() {
    let output = Command::new(floh_binary())
        .arg("mcp")
        .env_remove("FLOH_TOKEN")
        .env("FLOH_SERVER", "http://127.0.0.1:9")
        .stdin(Stdio::null())
        .output()
        .expect("run floh mcp");
    assert!(!output.status.success());
    assert!(output.stdout.is_empty(), "stdout carries only the protocol");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("FLOH_TOKEN"), "{stderr}");
}

/// The MCP Inspector's CLI lists the tools (it needs Node 22, installed as
/// the npm package `node@22` by `just e2e-deps`).
#[tokio::test(flavor = "multi_thread")]
async fn the_inspector_cli_lists_the_tools() {
    let Some(npm) = mcp_sdk() else { return };
    let node22 = npm.join(".bin/node");
    let inspector = npm.join("@modelcontextprotocol/inspector/clients/launcher/build/index.js");
    if !node22.exists() || !inspector.exists() {
        let message = "the MCP Inspector or node@22 is not installed: run `just e2e-deps`";
        assert!(
            std::env::var_os("FLOH_REQUIRE_NPM_TESTS").is_none(),
            "{message}"
        );
        eprintln!("skipping: {message}");
        return;
    }
    let data = tempfile::tempdir().expect("dir");
    let server = Server::start(data.path());
    let mut command = Command::new(node22);
    command
        .arg(inspector)
        .args(["--cli", &format!("{}/mcp", server.url)])
        .args(["--transport", "http", "--method", "tools/list", "--strict"])
        // The inspector keeps a catalog in $HOME/.mcp-inspector.
        .env("HOME", data.path())
        .args(["--header", &format!("Authorization: Bearer {ADMIN_TOKEN}")])
        .stdin(Stdio::null());
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("join")
        .expect("run the inspector");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for tool in ["generate_connector_script", "execute_connector_command"] {
        assert!(stdout.contains(tool), "{stdout}");
    }
}

//! `execute_connector_command` over Streamable HTTP against `POST
//! /api/connectors/{id}/execute`, for the same trivial script on the same
//! server: round-trip latency (p50/p99) of one sequential caller, and what
//! MCP adds (JSON-RPC framing, the session, the SSE response, the tool's
//! result shaping).
//!
//! Three MCP clients: rmcp's own in a 2025-11-25 session (the SDK's client
//! machinery, the session and an SSE answer per call), and a plain HTTP
//! client in the same session protocol and in the stateless 2026-07-28
//! revision (one POST, one answer: what the server itself adds). Server and clients run in this
//! process on separate runtimes over loopback, reqwest underneath both HTTP
//! clients. Run with `cargo bench -p floh --bench mcp` (or `just bench-mcp`).

mod load;

use std::time::Duration;

use floh::server::{ServeOptions, build};
use load::{Figures, drive, ms};
use rmcp::ServiceExt as _;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::json;

const TOKEN: &str = "floh_bench_admin";
const SCRIPT: &str = "function ping() { return { success: true, data: { pong: true } }; }";

fn main() {
    if std::env::args().any(|arg| arg == "--list" || arg == "--test") {
        return;
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let data = std::env::temp_dir().join(format!("floh-mcp-bench-{}", std::process::id()));
    let server_rt = runtime();
    let url = server_rt.block_on(async {
        let mut options = ServeOptions::new("127.0.0.1:0".parse().expect("addr"), data.clone());
        options.plugins_dir = Some(data.join("plugins"));
        // Throughput of the host itself: no 429s.
        options.rate_limits = floh::rate_limit::RateLimits::UNLIMITED;
        options.admin_token = Some(TOKEN.into());
        let app = build(&options).await.expect("app");
        let definition = serde_json::from_value(json!({
            "name": "ping", "executionModel": "script", "scriptSource": SCRIPT
        }))
        .expect("definition");
        app.state.service.create(definition).await.expect("create");
        let router = floh::server::router(&app, false);
        let listener = tokio::net::TcpListener::bind(options.listen)
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });
        format!("http://{addr}")
    });

    let load_rt = runtime();
    load_rt.block_on(async move {
        let http = reqwest::Client::new();
        let execute_url = format!("{url}/api/connectors/ping/execute");
        let api = {
            let (http, execute_url) = (http.clone(), execute_url.clone());
            move || {
                let (http, execute_url) = (http.clone(), execute_url.clone());
                async move {
                    let response = http
                        .post(&execute_url)
                        .bearer_auth(TOKEN)
                        .json(&json!({"command": "ping"}))
                        .send()
                        .await
                        .expect("execute");
                    assert!(response.status().is_success());
                    let body: serde_json::Value = response.json().await.expect("json");
                    assert_eq!(body["success"], true);
                }
            }
        };
        let transport = StreamableHttpClientTransport::from_config(
            StreamableHttpClientTransportConfig::with_uri(format!("{url}/mcp")).auth_header(TOKEN),
        );
        let client = std::sync::Arc::new(().serve(transport).await.expect("mcp session"));
        let arguments = json!({"connector": "ping", "command": "ping"})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let mcp = {
            let client = client.clone();
            move || {
                let (client, arguments) = (client.clone(), arguments.clone());
                async move {
                    let result = client
                        .call_tool(
                            CallToolRequestParams::new("execute_connector_command")
                                .with_arguments(arguments),
                        )
                        .await
                        .expect("tools/call");
                    assert_eq!(result.is_error, Some(false), "{result:?}");
                }
            }
        };
        // The same session protocol without the SDK's client: initialize
        // once, then one POST per call, its SSE answer read to the end.
        let session_id = {
            let initialize = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
                "protocolVersion": "2025-11-25", "capabilities": {},
                "clientInfo": {"name": "bench", "version": "1"}}});
            let response = http
                .post(format!("{url}/mcp"))
                .bearer_auth(TOKEN)
                .header("accept", "application/json, text/event-stream")
                .json(&initialize)
                .send()
                .await
                .expect("initialize");
            let id = response
                .headers()
                .get("mcp-session-id")
                .and_then(|v| v.to_str().ok())
                .expect("a session id")
                .to_string();
            let _ = response.text().await;
            let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
            http.post(format!("{url}/mcp"))
                .bearer_auth(TOKEN)
                .header("accept", "application/json, text/event-stream")
                .header("mcp-session-id", &id)
                .header("mcp-protocol-version", "2025-11-25")
                .json(&initialized)
                .send()
                .await
                .expect("initialized");
            id
        };
        let raw_session = {
            let (http, mcp_url, session_id) = (http.clone(), format!("{url}/mcp"), session_id);
            let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
                "name": "execute_connector_command",
                "arguments": {"connector": "ping", "command": "ping"},
            }})
            .to_string();
            let headers = vec![
                ("mcp-session-id", session_id),
                ("mcp-protocol-version", "2025-11-25".to_string()),
            ];
            move || plain_tool_call(http.clone(), mcp_url.clone(), headers.clone(), call.clone())
        };
        let stateless = {
            let (http, mcp_url) = (http.clone(), format!("{url}/mcp"));
            let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
                "name": "execute_connector_command",
                "arguments": {"connector": "ping", "command": "ping"},
                "_meta": {
                    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                    "io.modelcontextprotocol/clientCapabilities": {},
                },
            }})
            .to_string();
            let headers = vec![
                ("mcp-protocol-version", "2026-07-28".to_string()),
                ("mcp-method", "tools/call".to_string()),
                ("mcp-name", "execute_connector_command".to_string()),
            ];
            move || plain_tool_call(http.clone(), mcp_url.clone(), headers.clone(), call.clone())
        };
        println!("one caller, sequential executions of a trivial script:");
        let window = Duration::from_secs(5);
        let by_api = drive(1, window, api).await;
        let by_session = drive(1, window, mcp).await;
        let by_raw_session = drive(1, window, raw_session).await;
        let by_stateless = drive(1, window, stateless).await;
        report("POST /api/connectors/ping/execute", &by_api);
        report("MCP, rmcp client, 2025-11-25 session", &by_session);
        report("MCP, plain POST, 2025-11-25 session", &by_raw_session);
        report("MCP, plain POST, 2026-07-28", &by_stateless);
        for (label, by_mcp) in [
            ("rmcp session", &by_session),
            ("plain session", &by_raw_session),
            ("stateless", &by_stateless),
        ] {
            println!(
                "  MCP ({label}) / API: p50 {:.2}x ({:+.3} ms), p99 {:.2}x",
                ms(by_mcp.p50) / ms(by_api.p50),
                ms(by_mcp.p50) - ms(by_api.p50),
                ms(by_mcp.p99) / ms(by_api.p99),
            );
        }
    });
    drop(server_rt);
    let _ = std::fs::remove_dir_all(&data);
}

/// One `tools/call` POST without an SDK, with the revision's `headers`; its
/// answer (JSON or an SSE stream) read to the end and checked.
async fn plain_tool_call(
    http: reqwest::Client,
    url: String,
    headers: Vec<(&'static str, String)>,
    call: String,
) {
    let mut request = http
        .post(&url)
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = request.body(call).send().await.expect("tools/call");
    let status = response.status();
    let body = response.text().await.expect("body");
    assert!(status.is_success(), "{status}: {body}");
    assert!(body.contains("\"isError\":false"), "{body}");
}

fn report(label: &str, figures: &Figures) {
    println!(
        "  {label:<38} p50 {:.3} ms  p99 {:.3} ms  {:.0}/s",
        ms(figures.p50),
        ms(figures.p99),
        figures.rate
    );
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime")
}

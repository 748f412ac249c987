//! The web UI: the connectors list with 2,000 connectors (each with a full
//! window of recent executions, so every row has a last outcome and a
//! sparkline), rendered by the real router over loopback with a signed-in
//! session; target p99 ≤ 50 ms. Half are script connectors with 40 commands
//! and a ~7 KB script, half external services; every one has a connection
//! config with a secret, as real connectors do. Also reports the compressed
//! JavaScript a page without an editor loads (htmx + app.js; target ≤ 40 KB).
//! Run with `cargo bench -p floh --bench ui`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use floh::model::ConnectorDefinition;
use floh::server::{ServeOptions, build};
use floh::service::ExecuteRequest;
use floh::ui::assets;

const TOKEN: &str = "floh_bench_admin_token";
const CONNECTORS: usize = 2_000;
const RUNS_EACH: usize = floh::store::ACTIVITY_PER_CONNECTOR;
/// Commands of each script connector.
const COMMANDS: usize = 40;
const SAMPLES: usize = 200;

fn main() {
    if std::env::args().any(|arg| arg == "--list" || arg == "--test") {
        return;
    }
    let data = std::env::temp_dir().join(format!("floh-ui-bench-{}", std::process::id()));
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let addr: SocketAddr = server_rt.block_on(async {
        let mut options = ServeOptions::new("127.0.0.1:0".parse().expect("addr"), data.clone());
        options.admin_token = Some(TOKEN.into());
        options.plugins_dir = Some(data.join("plugins"));
        // The page, not the limits: no 429s.
        options.rate_limits = floh::rate_limit::RateLimits::UNLIMITED;
        let app = build(&options).await.expect("app");
        let service = app.state.service.clone();
        let started = Instant::now();
        let (script, commands) = script_connector();
        for i in 0..CONNECTORS {
            let category = ["crm", "hr", "finance", "ops"][i % 4];
            let mut definition = serde_json::json!({
                "name": format!("connector-{i:04}"),
                "description": format!("Bench connector number {i}"),
                "category": category,
                "tags": [format!("team-{}", i % 10)],
                "configSchema": {
                    "connectionConfig": {
                        "baseUrl": {"type": "string", "required": true},
                        "apiKey": {"type": "string", "required": true, "secret": true}
                    },
                    "commands": commands.clone(),
                },
                "config": {"baseUrl": "http://127.0.0.1:9", "apiKey": format!("secret-{i}")},
            });
            if i % 2 == 0 {
                definition["executionModel"] = "script".into();
                definition["scriptSource"] = script.clone().into();
            } else {
                definition["executionModel"] = "external".into();
                // Nothing listens here: executions fail fast with a cause.
                definition["endpointUrl"] = "http://127.0.0.1:9".into();
                definition["configSchema"]["commands"] = serde_json::json!({"test": {}});
            }
            let definition: ConnectorDefinition =
                serde_json::from_value(definition).expect("definition");
            service.create(definition).await.expect("create");
            for _ in 0..RUNS_EACH {
                let request = ExecuteRequest {
                    command: "test".into(),
                    ..ExecuteRequest::default()
                };
                let _ = service.execute(&format!("connector-{i:04}"), request).await;
            }
        }
        service.flush().await;
        println!(
            "seeded {CONNECTORS} connectors with {RUNS_EACH} executions each in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let router = floh::server::router(&app, false);
        let listener = tokio::net::TcpListener::bind(options.listen)
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });
        addr
    });
    let client_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    client_rt.block_on(async move {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let base = format!("http://{addr}");
        let cookie = sign_in(&client, &base).await;
        let mut samples = Vec::with_capacity(SAMPLES);
        let mut bytes = 0;
        for i in 0..SAMPLES + 10 {
            let started = Instant::now();
            let response = client
                .get(format!("{base}/connectors"))
                .header("cookie", &cookie)
                .send()
                .await
                .expect("list");
            assert_eq!(response.status(), 200);
            let body = response.bytes().await.expect("body");
            let elapsed = started.elapsed();
            // The first requests warm caches.
            if i >= 10 {
                samples.push(elapsed);
                bytes = body.len();
            }
        }
        assert!(bytes > 0, "the page rendered");
        samples.sort();
        let p = |q: f64| samples[((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len()) - 1];
        println!(
            "GET /connectors with {CONNECTORS} connectors ({} KB of HTML): p50 {:.1} ms, p99 {:.1} ms (target p99 ≤ 50 ms)",
            bytes / 1024,
            ms(p(0.50)),
            ms(p(0.99))
        );
    });
    let js: usize = [assets::HTMX_JS, assets::APP_JS]
        .iter()
        .map(|path| assets::compressed_size(path).expect("asset"))
        .sum();
    println!(
        "JavaScript on pages without an editor: {:.1} KB gzip-compressed (htmx {:.1} KB + app.js {:.1} KB; target ≤ 40 KB)",
        js as f64 / 1024.0,
        assets::compressed_size(assets::HTMX_JS).unwrap_or(0) as f64 / 1024.0,
        assets::compressed_size(assets::APP_JS).unwrap_or(0) as f64 / 1024.0
    );
    drop(server_rt);
    let _ = std::fs::remove_dir_all(&data);
}

/// A script with `COMMANDS` commands (plus `test`) and their declarations.
fn script_connector() -> (String, serde_json::Value) {
    let mut script = String::from("function test() { return { success: true }; }\n");
    let mut commands = serde_json::Map::new();
    commands.insert("test".into(), serde_json::json!({}));
    for n in 0..COMMANDS {
        script.push_str(&format!(
            "function getItem{n}(params) {{\n  const response = floh.http.get(floh.config.baseUrl + '/items/{n}/' + params.id, {{ Authorization: 'Bearer ' + floh.config.apiKey }});\n  return {{ success: response.status < 400, data: response.body }};\n}}\n"
        ));
        commands.insert(
            format!("getItem{n}"),
            serde_json::json!({"params": ["id"], "outputs": ["item"], "description": format!("Item kind {n}"),
                "paramSchema": {"id": {"type": "string", "required": true}}}),
        );
    }
    (script, serde_json::Value::Object(commands))
}

async fn sign_in(client: &reqwest::Client, base: &str) -> String {
    let form = client
        .get(format!("{base}/sign-in"))
        .send()
        .await
        .expect("sign-in form");
    let sign_in_cookie = form
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("sign-in cookie")
        .to_string();
    let csrf = sign_in_cookie
        .split_once('=')
        .map(|(_, v)| v.to_string())
        .expect("csrf");
    let signed_in = client
        .post(format!("{base}/sign-in"))
        .header("cookie", &sign_in_cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            form_urlencoded::Serializer::new(String::new())
                .append_pair("csrf", &csrf)
                .append_pair("token", TOKEN)
                .append_pair("next", "/connectors")
                .finish(),
        )
        .send()
        .await
        .expect("sign in");
    assert_eq!(signed_in.status(), 303, "signed in");
    signed_in
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("floh_session="))
        .and_then(|v| v.split(';').next())
        .expect("session cookie")
        .to_string()
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

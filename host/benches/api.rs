//! Executions through the HTTP API: `POST /api/connectors/:id/execute` of a
//! trivial script connector over loopback, with concurrent keep-alive
//! clients. Reports requests/s and p50/p99 latency.
//!
//! The server runs in this process on its own two-thread runtime; the load
//! generator shares the same two cores, so the figures are conservative.
//! Run with `cargo bench -p floh --bench api`.

mod load;

use std::net::SocketAddr;
use std::time::Duration;

use floh::server::{ServeOptions, build};
use serde_json::json;

const TOKEN: &str = "floh_bench_admin_token";
const SCRIPT: &str = "function ping() { return { success: true, data: { pong: true } }; }";

fn main() {
    if std::env::args().any(|arg| arg == "--list" || arg == "--test") {
        return;
    }
    let data = std::env::temp_dir().join(format!("floh-api-bench-{}", std::process::id()));
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let addr: SocketAddr = server_rt.block_on(async {
        let mut options = ServeOptions::new("127.0.0.1:0".parse().expect("addr"), data.clone());
        options.admin_token = Some(TOKEN.into());
        options.plugins_dir = Some(data.join("plugins"));
        // Throughput of the host itself: no 429s.
        options.rate_limits = floh::rate_limit::RateLimits::UNLIMITED;
        let app = build(&options).await.expect("app");
        let router = floh::api::router(app.state);
        let listener = tokio::net::TcpListener::bind(options.listen)
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });
        addr
    });
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    client_rt.block_on(async move {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder().pool_max_idle_per_host(256).build().expect("client");
        let base = format!("http://{addr}/api");
        let created = client
            .post(format!("{base}/connectors"))
            .bearer_auth(TOKEN)
            .json(&json!({"name": "ping", "executionModel": "script", "scriptSource": SCRIPT}))
            .send()
            .await
            .expect("create");
        assert_eq!(created.status(), 201);
        let url = format!("{base}/connectors/ping/execute");
        let body = json!({"command": "ping"}).to_string();
        for clients in [1, 16, 64] {
            let (client, url, body) = (client.clone(), url.clone(), body.clone());
            let figures = load::drive(clients, Duration::from_secs(5), move || {
                let (client, url, body) = (client.clone(), url.clone(), body.clone());
                async move {
                    let response = client
                        .post(&url)
                        .bearer_auth(TOKEN)
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await
                        .expect("execute");
                    assert_eq!(response.status(), 200);
                    let _ = response.bytes().await.expect("body");
                }
            })
            .await;
            println!(
                "{clients:>3} keep-alive clients: {:>8.0} executions/s   p50 {:>6.2} ms   p99 {:>6.2} ms",
                figures.rate,
                load::ms(figures.p50),
                load::ms(figures.p99)
            );
        }
    });
    drop(server_rt);
    let _ = std::fs::remove_dir_all(&data);
}

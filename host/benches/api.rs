//! Executions through the HTTP API: `POST /api/connectors/:id/execute` of a
//! trivial script connector over loopback, with concurrent keep-alive
//! clients. Reports requests/s and p50/p99 latency.
//!
//! The server runs in this process on its own two-thread runtime; the load
//! generator shares the same two cores, so the figures are conservative.
//! Run with `cargo bench -p floh --bench api`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

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
        for clients in [1, 16, 64] {
            let (rate, p50, p99) = drive(&client, &format!("{base}/connectors/ping/execute"), clients, Duration::from_secs(5)).await;
            println!(
                "{clients:>3} keep-alive clients: {rate:>8.0} executions/s   p50 {:>6.2} ms   p99 {:>6.2} ms",
                p50.as_secs_f64() * 1e3,
                p99.as_secs_f64() * 1e3
            );
        }
    });
    drop(server_rt);
    let _ = std::fs::remove_dir_all(&data);
}

async fn drive(
    client: &reqwest::Client,
    url: &str,
    clients: usize,
    window: Duration,
) -> (f64, Duration, Duration) {
    let stop = Arc::new(AtomicBool::new(false));
    let body = json!({"command": "ping"}).to_string();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (client, url, body, stop) =
                (client.clone(), url.to_string(), body.clone(), stop.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let warmup_until = Instant::now() + Duration::from_millis(500);
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let response = client
                        .post(&url)
                        .bearer_auth(TOKEN)
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await
                        .expect("execute");
                    assert_eq!(response.status(), 200);
                    let _ = response.bytes().await.expect("body");
                    if started >= warmup_until {
                        latencies.push(started.elapsed());
                    }
                }
                latencies
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let measuring = Instant::now();
    tokio::time::sleep(window).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = measuring.elapsed();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("task"));
    }
    latencies.sort();
    let count = latencies.len().max(1);
    (
        latencies.len() as f64 / elapsed.as_secs_f64(),
        latencies[count / 2],
        latencies[(count * 99 / 100).min(count - 1)],
    )
}

//! Commands through one on-premise agent over loopback, against the same
//! script executed on the server: round-trip latency (p50/p99, one caller)
//! and throughput (concurrent callers).
//!
//! Server, agent and load generator run in this process on separate
//! runtimes and share the machine's cores, so the figures are conservative.
//! Measured at the service (`ConnectorService::execute`), so the difference
//! between the two columns is what the agent path adds: sealing the config,
//! the WebSocket round trip, and opening the config on the agent.
//! Run with `cargo bench -p floh --bench agent` (or `just bench-agent`).
//!
//! With `FLOH_BENCH_DATABASE_URL` (a PostgreSQL database; `just
//! bench-nodes` gives one), the server keeps its data there and a second
//! node on the same database sends the same commands: the difference
//! between "through the agent" and "relayed from another node" is what the
//! relay adds (two PostgreSQL transactions, two notifications).

mod load;

use std::sync::Arc;
use std::time::{Duration, Instant};

use floh::agent::client::{self, AgentOptions};
use floh::egress::EgressPolicy;
use floh::server::{ServeOptions, build};
use floh::service::{ConnectorService, ExecuteRequest};
use load::{Figures, ms};
use serde_json::json;

const SCRIPT: &str =
    "function ping() { return { success: true, data: { pong: floh.config.key.length } }; }";

fn main() {
    if std::env::args().any(|arg| arg == "--list" || arg == "--test") {
        return;
    }
    let data = std::env::temp_dir().join(format!("floh-agent-bench-{}", std::process::id()));
    let database_url = std::env::var("FLOH_BENCH_DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty());
    let server_rt = runtime();
    let (service, url, token, other_node) = server_rt.block_on(async {
        let mut options =
            ServeOptions::new("127.0.0.1:0".parse().expect("addr"), data.join("server"));
        if database_url.is_some() {
            options.database_url = database_url.clone();
            // Nodes on one database share the key (a shared store never makes one).
            options.secret_key = Some("1:YmVuY2gtbm9kZXMtc2hhcmUtb25lLWtleS0wMDAwMDA=".into());
        }
        options.plugins_dir = Some(data.join("plugins"));
        // Throughput of the host itself: no 429s.
        options.rate_limits = floh::rate_limit::RateLimits::UNLIMITED;
        options.admin_token = Some("floh_bench_admin".into());
        options.agents.max_in_flight = 1024;
        let app = build(&options).await.expect("app");
        let service = app.state.service.clone();
        for name in ["local-ping", "agent-ping"] {
            let definition = serde_json::from_value(json!({
                "name": name,
                "executionModel": "script",
                "scriptSource": SCRIPT,
                "configSchema": {"connectionConfig": {"key": {"type": "string", "secret": true}}},
                "config": {"key": "sk-bench-secret"}
            }))
            .expect("definition");
            service.create(definition).await.expect("create");
        }
        let token = app
            .state
            .agent_tokens
            .issue("bench", None, None)
            .await
            .expect("token")
            .token;
        let router = floh::api::router(app.state);
        let listener = tokio::net::TcpListener::bind(options.listen)
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });
        let other_node = match database_url.is_some() {
            true => {
                let mut other = options.clone();
                other.data_dir = data.join("server-b");
                other.plugins_dir = Some(data.join("plugins-b"));
                let app = build(&other).await.expect("the second node");
                Some(app.state.service.clone())
            }
            false => None,
        };
        (service, format!("ws://{addr}"), token, other_node)
    });

    let agent_rt = runtime();
    agent_rt.spawn(client::run(AgentOptions {
        server: url,
        token,
        agent_id: "bench-agent".into(),
        agent_name: "Bench agent".into(),
        connectors: vec!["agent-ping".into()],
        ca_cert: None,
        state_dir: data.join("agent"),
        plugins_dir: None,
        egress: EgressPolicy::public_only(),
        min_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(1),
        drain: Duration::from_secs(1),
    }));

    let load_rt = runtime();
    load_rt.block_on(async move {
        let deadline = Instant::now() + Duration::from_secs(60);
        while service
            .agents()
            .list()
            .first()
            .is_none_or(|a| a.status != "connected")
        {
            assert!(Instant::now() < deadline, "the agent never connected");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let check = service
            .execute("agent-ping", ping())
            .await
            .expect("execute");
        assert!(check.success, "{check:?}");

        println!("one caller, sequential commands:");
        let local = drive(&service, "local-ping", 1, Duration::from_secs(5)).await;
        let remote = drive(&service, "agent-ping", 1, Duration::from_secs(5)).await;
        report("on the server", &local);
        report("through the agent", &remote);
        println!(
            "  added by the agent: p50 {:+.3} ms, p99 {:+.3} ms",
            ms(remote.p50) - ms(local.p50),
            ms(remote.p99) - ms(local.p99)
        );
        if let Some(other) = &other_node {
            let deadline = Instant::now() + Duration::from_secs(30);
            while !other
                .execute("agent-ping", ping())
                .await
                .is_ok_and(|r| r.success)
            {
                assert!(
                    Instant::now() < deadline,
                    "the other node never reached the agent"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let relayed = drive(other, "agent-ping", 1, Duration::from_secs(5)).await;
            report("relayed from another node", &relayed);
            println!(
                "  added by the relay: p50 {:+.3} ms, p99 {:+.3} ms",
                ms(relayed.p50) - ms(remote.p50),
                ms(relayed.p99) - ms(remote.p99)
            );
        }
        println!("concurrent callers, throughput:");
        for callers in [16, 64, 256] {
            let local = drive(&service, "local-ping", callers, Duration::from_secs(5)).await;
            let remote = drive(&service, "agent-ping", callers, Duration::from_secs(5)).await;
            report(&format!("{callers:>3} callers, on the server"), &local);
            report(&format!("{callers:>3} callers, through the agent"), &remote);
            if let Some(other) = &other_node {
                let relayed = drive(other, "agent-ping", callers, Duration::from_secs(5)).await;
                report(&format!("{callers:>3} callers, relayed"), &relayed);
            }
        }
    });
    drop(agent_rt);
    drop(server_rt);
    let _ = std::fs::remove_dir_all(&data);
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn ping() -> ExecuteRequest {
    ExecuteRequest {
        command: "ping".into(),
        ..ExecuteRequest::default()
    }
}

fn report(label: &str, figures: &Figures) {
    println!(
        "  {label:<32} {:>8.0} commands/s   p50 {:>7.3} ms   p99 {:>7.3} ms",
        figures.rate,
        ms(figures.p50),
        ms(figures.p99)
    );
}

/// Run `callers` loops executing `connector`'s `ping`.
async fn drive(
    service: &Arc<ConnectorService>,
    connector: &str,
    callers: usize,
    window: Duration,
) -> Figures {
    let (service, connector) = (service.clone(), connector.to_string());
    load::drive(callers, window, move || {
        let (service, connector) = (service.clone(), connector.clone());
        async move {
            let response = service.execute(&connector, ping()).await.expect("execute");
            assert!(response.success, "{response:?}");
        }
    })
    .await
}

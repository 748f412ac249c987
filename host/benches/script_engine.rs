//! Script runtime benchmarks.
//!
//! Criterion measures per-execution latency of a trivial command and of the
//! spec's `my-crm` `listContacts` against a local server. A report after it
//! gives what criterion does not: p50/p99 over individual executions,
//! executions per second on one and on two threads, and resident memory per
//! live instance. Run with `cargo bench -p floh --bench script_engine`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use floh::egress::EgressPolicy;
use floh::redact::SecretRedactor;
use floh::runtime::{
    CompiledScript, ExecutionContext, Invocation, ScriptEngine, ScriptEngineOptions,
};
use serde_json::json;

const TRIVIAL: &str = "function ping() { return { success: true }; }";

const LIST_CONTACTS: &str = r#"
function listContacts() {
  var url = floh.config.baseUrl + '/api/contacts';
  url += '?limit=' + (floh.params.limit || 50);
  url += '&offset=' + (floh.params.offset || 0);
  var resp = floh.http.get(url, { 'Authorization': 'Bearer ' + floh.config.apiKey });
  if (resp.status >= 400) { return { success: false, error: 'API returned ' + resp.status }; }
  return { success: true, data: { contacts: resp.body.data, total: resp.body.total } };
}
"#;

struct Fixture {
    engine: Arc<ScriptEngine>,
    trivial: CompiledScript,
    list_contacts: CompiledScript,
    context: ExecutionContext,
}

fn runtime(threads: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn fixture(rt: &tokio::runtime::Runtime) -> Fixture {
    let options = ScriptEngineOptions {
        cache_dir: Some(std::env::temp_dir().join("floh-bench-artefacts")),
        ..ScriptEngineOptions::default()
    };
    let engine = Arc::new(ScriptEngine::new(options).expect("engine"));
    rt.block_on(async {
        let base_url = start_crm().await;
        Fixture {
            trivial: engine.compile(TRIVIAL).await.expect("compile"),
            list_contacts: engine.compile(LIST_CONTACTS).await.expect("compile"),
            context: ExecutionContext {
                config: json!({"baseUrl": base_url, "apiKey": "sk-bench"}),
                redactor: Arc::new(SecretRedactor::new(["sk-bench"])),
                egress: EgressPolicy::unrestricted(),
                ..ExecutionContext::new("bench")
            },
            engine,
        }
    })
}

async fn start_crm() -> String {
    let body = json!({"data": [{"id": "c1", "email": "ada@example.com"}, {"id": "c2", "email": "alan@example.com"}], "total": 2});
    let router = axum::Router::new().route(
        "/api/contacts",
        axum::routing::get(move || {
            let body = body.clone();
            async move { axum::Json(body) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });
    format!("http://{addr}")
}

fn invocation(command: &str) -> Invocation {
    Invocation {
        command: command.into(),
        ..Invocation::default()
    }
}

fn latency(c: &mut Criterion) {
    let rt = runtime(2);
    let f = fixture(&rt);
    let mut group = c.benchmark_group("execute");
    group.bench_function("trivial", |b| {
        let ping = invocation("ping");
        b.to_async(&rt).iter(|| async {
            let execution = f.engine.execute(&f.trivial, &ping, &f.context).await;
            assert!(execution.outcome.is_ok());
        })
    });
    group.bench_function("my_crm_list_contacts", |b| {
        let list = invocation("listContacts");
        b.to_async(&rt).iter(|| async {
            let execution = f.engine.execute(&f.list_contacts, &list, &f.context).await;
            assert!(execution.outcome.is_ok());
        })
    });
    group.finish();
}

criterion_group!(benches, latency);

/// p50/p99 of individual executions, measured one after another.
fn percentiles(
    rt: &tokio::runtime::Runtime,
    f: &Fixture,
    script: &CompiledScript,
    command: &str,
    samples: usize,
) -> (Duration, Duration) {
    let invocation = invocation(command);
    let mut latencies = rt.block_on(async {
        for _ in 0..samples / 10 {
            f.engine.execute(script, &invocation, &f.context).await;
        }
        let mut latencies = Vec::with_capacity(samples);
        for _ in 0..samples {
            let started = Instant::now();
            let execution = f.engine.execute(script, &invocation, &f.context).await;
            latencies.push(started.elapsed());
            assert!(execution.outcome.is_ok());
        }
        latencies
    });
    latencies.sort();
    (latencies[samples / 2], latencies[samples * 99 / 100])
}

/// Executions per second with `threads` worker threads, each running a loop.
fn throughput(threads: usize, window: Duration) -> f64 {
    let rt = runtime(threads);
    let f = Arc::new(fixture(&rt));
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    rt.block_on(async {
        let tasks: Vec<_> = (0..threads * 4)
            .map(|_| {
                let (f, done, stop) = (f.clone(), done.clone(), stop.clone());
                tokio::spawn(async move {
                    let ping = invocation("ping");
                    while !stop.load(Ordering::Relaxed) {
                        let execution = f.engine.execute(&f.trivial, &ping, &f.context).await;
                        assert!(execution.outcome.is_ok());
                        done.fetch_add(1, Ordering::Relaxed);
                        // A trivial execution never waits, so without this the
                        // worker would never service tokio's timer.
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let before = done.load(Ordering::Relaxed);
        let started = Instant::now();
        tokio::time::sleep(window).await;
        let count = done.load(Ordering::Relaxed) - before;
        let elapsed = started.elapsed();
        stop.store(true, Ordering::Relaxed);
        for task in tasks {
            task.await.expect("task");
        }
        count as f64 / elapsed.as_secs_f64()
    })
}

/// Resident memory of this process, split into private pages (`RssAnon`:
/// what instances really cost) and pages shared with the page cache or a
/// memfd (`RssShmem` + `RssFile`: the engine's memory image, mapped
/// copy-on-write into every instance slot and counted once per mapping).
#[derive(Clone, Copy, Default)]
struct Rss {
    private: u64,
    shared: u64,
}

fn rss() -> Rss {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .unwrap_or(0)
            * 1024
    };
    Rss {
        private: field("RssAnon:"),
        shared: field("RssShmem:") + field("RssFile:"),
    }
}

impl std::ops::Sub for Rss {
    type Output = Rss;
    fn sub(self, before: Rss) -> Rss {
        Rss {
            private: self.private.saturating_sub(before.private),
            shared: self.shared.saturating_sub(before.shared),
        }
    }
}

/// Resident memory per live instance: `live` executions held open inside a
/// host call (an upstream that answers only when released). Returns the
/// total per instance and, for comparison, the same number of plain held
/// HTTP requests without a sandbox (connection buffers on both ends, since
/// the upstream runs in this process).
fn rss_per_instance(live: usize) -> (Rss, Rss) {
    let rt = runtime(2);
    let f = fixture(&rt);
    rt.block_on(async {
        let release = Arc::new(tokio::sync::Notify::new());
        let waiting = release.clone();
        let router = axum::Router::new().route(
            "/hold",
            axum::routing::get(move || {
                let waiting = waiting.clone();
                async move {
                    waiting.notified().await;
                    "ok"
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/hold", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });
        let settle = Duration::from_millis(1500);

        // Baseline: the same held requests, no sandbox.
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client");
        let before = rss();
        let plain: Vec<_> = (0..live)
            .map(|_| {
                let (client, url) = (client.clone(), url.clone());
                tokio::spawn(async move { client.get(url).send().await.map(|r| r.status()) })
            })
            .collect();
        tokio::time::sleep(settle).await;
        let connections_only = rss() - before;
        release.notify_waiters();
        for task in plain {
            task.await.expect("task").expect("plain request");
        }

        let hold = f
            .engine
            .compile(
                "function hold() { floh.http.get(floh.params.url); return { success: true }; }",
            )
            .await
            .expect("compile");
        let warm = Invocation {
            command: "hold".into(),
            params: json!({"url": url}),
            ..Invocation::default()
        };
        let warmed = tokio::spawn({
            let (engine, hold, context, warm) = (
                f.engine.clone(),
                hold.clone(),
                f.context.clone(),
                warm.clone(),
            );
            async move { engine.execute(&hold, &warm, &context).await }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        release.notify_waiters();
        assert!(warmed.await.expect("task").outcome.is_ok());

        let before = rss();
        let tasks: Vec<_> = (0..live)
            .map(|_| {
                let (engine, hold, context, invocation) = (
                    f.engine.clone(),
                    hold.clone(),
                    f.context.clone(),
                    warm.clone(),
                );
                tokio::spawn(async move { engine.execute(&hold, &invocation, &context).await })
            })
            .collect();
        tokio::time::sleep(settle).await;
        let with_instances = rss() - before;
        release.notify_waiters();
        for task in tasks {
            let execution = task.await.expect("task");
            assert!(execution.outcome.is_ok(), "{:?}", execution.outcome);
        }
        (with_instances, connections_only)
    })
}

fn report() {
    let rt = runtime(2);
    let f = fixture(&rt);
    let (p50, p99) = percentiles(&rt, &f, &f.trivial, "ping", 20_000);
    println!(
        "trivial command:           p50 {:>7.1} µs   p99 {:>7.1} µs",
        micros(p50),
        micros(p99)
    );
    let (p50, p99) = percentiles(&rt, &f, &f.list_contacts, "listContacts", 5_000);
    println!(
        "my-crm listContacts:       p50 {:>7.1} µs   p99 {:>7.1} µs",
        micros(p50),
        micros(p99)
    );
    drop(f);
    drop(rt);
    for threads in [1, 2] {
        let rate = throughput(threads, Duration::from_secs(3));
        println!("trivial, {threads} thread(s):       {rate:>9.0} executions/s");
    }
    let live = 200;
    let (with_instances, connections) = rss_per_instance(live);
    let kib = |bytes: u64| bytes as f64 / 1024.0 / live as f64;
    println!("RSS per live instance ({live} live, each blocked in floh.http):");
    println!(
        "  private (RssAnon):       {:>7.0} KiB, of which {:.0} KiB is the held HTTP request itself",
        kib(with_instances.private),
        kib(connections.private)
    );
    println!(
        "  sandbox alone, private:  {:>7.0} KiB",
        kib(with_instances.private.saturating_sub(connections.private))
    );
    println!(
        "  shared image mappings:   {:>7.0} KiB (memfd pages counted once per slot that maps them)",
        kib(with_instances.shared)
    );
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    if std::env::args().any(|arg| arg == "--list" || arg == "--test") {
        return;
    }
    println!("\n== floh script runtime report ==");
    report();
}

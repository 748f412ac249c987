//! Script runtime benchmarks.
//!
//! Criterion measures per-execution latency of a trivial command, of the
//! spec's `my-crm` `listContacts` against a local server, and of the
//! JSON-shaping command of `just bench-compare` (`compare/shaping.js`). A
//! report after it gives what criterion does not: p50/p99 over individual
//! executions, the JSON-shaping handler's own work (its command minus a
//! trivial command of the same script, so instantiation and the script's
//! top level cancel out), executions per second on one and on two threads,
//! and resident memory per live instance. Run with
//! `cargo bench -p floh --bench script_engine`; a filter argument
//! (`-- json_shaping`) limits both criterion and the report.
//!
//! `FLOH_BENCH_ENGINE=path/to/engine.wasm` adds that engine build to the
//! JSON-shaping report, measured interleaved with the shipped one, so two
//! builds of the engine compare in one process on a busy machine.
//! `FLOH_BENCH_PEER_DIR=dir` (where npm installed quickjs-emscripten) runs
//! the same handler there between the report's batches (`just bench-js`).

#[path = "compare/quickjs_peer.rs"]
mod quickjs_peer;

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

/// The JSON-shaping workload of `just bench-compare`, plus a trivial
/// command: the difference between the two is the handler's own work.
const SHAPING: &str = concat!(
    include_str!("compare/shaping.js"),
    "\nfunction ping() { return { success: true }; }\n"
);

struct Fixture {
    engine: Arc<ScriptEngine>,
    trivial: CompiledScript,
    list_contacts: CompiledScript,
    shaping: CompiledScript,
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
    fixture_with(rt, None)
}

/// A fixture on `engine_wasm`, or on the shipped engine when `None`.
fn fixture_with(rt: &tokio::runtime::Runtime, engine_wasm: Option<Vec<u8>>) -> Fixture {
    let options = ScriptEngineOptions {
        cache_dir: Some(std::env::temp_dir().join("floh-bench-artefacts")),
        engine_wasm,
        ..ScriptEngineOptions::default()
    };
    let engine = Arc::new(ScriptEngine::new(options).expect("engine"));
    rt.block_on(async {
        let base_url = start_crm().await;
        Fixture {
            trivial: engine.compile(TRIVIAL).await.expect("compile"),
            list_contacts: engine.compile(LIST_CONTACTS).await.expect("compile"),
            shaping: engine.compile(SHAPING).await.expect("compile"),
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
    for (name, command) in [
        ("json_shaping", "report"),
        ("json_shaping_script_trivial", "ping"),
    ] {
        group.bench_function(name, |b| {
            let invocation = invocation(command);
            b.to_async(&rt).iter(|| async {
                let execution = f.engine.execute(&f.shaping, &invocation, &f.context).await;
                assert!(execution.outcome.is_ok());
            })
        });
    }
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
    let filter = report_filter();
    let wanted = |section: &str| filter.as_deref().is_none_or(|f| section.contains(f));
    let rt = runtime(2);
    let f = fixture(&rt);
    if wanted("trivial") {
        let (p50, p99) = percentiles(&rt, &f, &f.trivial, "ping", 20_000);
        println!(
            "trivial command:           p50 {:>7.1} µs   p99 {:>7.1} µs",
            micros(p50),
            micros(p99)
        );
    }
    if wanted("my_crm_list_contacts") {
        let (p50, p99) = percentiles(&rt, &f, &f.list_contacts, "listContacts", 5_000);
        println!(
            "my-crm listContacts:       p50 {:>7.1} µs   p99 {:>7.1} µs",
            micros(p50),
            micros(p99)
        );
    }
    if wanted("json_shaping") {
        let other = std::env::var_os("FLOH_BENCH_ENGINE").map(|path| {
            let bytes = std::fs::read(&path).expect("reading FLOH_BENCH_ENGINE");
            (
                path.to_string_lossy().into_owned(),
                fixture_with(&rt, Some(bytes)),
            )
        });
        let mut builds = vec![("shipped engine".to_string(), &f)];
        builds.extend(
            other
                .as_ref()
                .map(|(name, fixture)| (name.clone(), fixture)),
        );
        json_shaping_report(&rt, &builds, 4_000);
    }
    drop(f);
    drop(rt);
    if wanted("throughput") {
        for threads in [1, 2] {
            let rate = throughput(threads, Duration::from_secs(3));
            println!("trivial, {threads} thread(s):       {rate:>9.0} executions/s");
        }
    }
    if wanted("rss") {
        rss_report();
    }
}

/// The report sections to run: those containing the bench's filter
/// argument (as given to criterion), all of them without one.
fn report_filter() -> Option<String> {
    // Criterion options followed by a value, which is not a filter.
    const WITH_VALUE: &[&str] = &[
        "--save-baseline",
        "--baseline",
        "--load-baseline",
        "--profile-time",
        "--sample-size",
        "--nresamples",
        "--warm-up-time",
        "--measurement-time",
        "--color",
        "--output-format",
    ];
    let args: Vec<String> = std::env::args().skip(1).collect();
    args.iter()
        .enumerate()
        .find(|(i, arg)| {
            !arg.starts_with('-') && (*i == 0 || !WITH_VALUE.contains(&args[i - 1].as_str()))
        })
        .map(|(_, arg)| arg.clone())
}

/// The JSON-shaping command (`report`) and a trivial command (`ping`) of the
/// same script, alternated so that both see the same machine load; for each
/// engine build, also alternated. The handler's work is the difference:
/// instantiation, loading the bytecode and the script's top level are in
/// both. Beside wall time, the CPU time of this thread (which polls the
/// execution) and its page faults: both ignore time spent waiting for a CPU,
/// so they hold on a busy machine. The `json_shaping work` line is what
/// `just bench-js` reads.
fn json_shaping_report(
    rt: &tokio::runtime::Runtime,
    builds: &[(String, &Fixture)],
    samples: usize,
) {
    /// Rounds between two batches of the peer's calls.
    const BATCH: usize = 200;
    let (report, ping) = (invocation("report"), invocation("ping"));
    let mut timings = vec![(Calls::default(), Calls::default()); builds.len()];
    let mut peer = quickjs_peer::Peer::from_env();
    let mut peer_calls = Vec::new();
    rt.block_on(async {
        for round in 0..samples + samples / 10 {
            for ((_, f), (shaping, trivial)) in builds.iter().zip(timings.iter_mut()) {
                for (invocation, into) in [(&report, &mut *shaping), (&ping, &mut *trivial)] {
                    let (cpu, faults) = (thread_cpu(), minor_faults());
                    let started = Instant::now();
                    let execution = f.engine.execute(&f.shaping, invocation, &f.context).await;
                    let elapsed = started.elapsed();
                    let (cpu, faults) = (thread_cpu() - cpu, minor_faults() - faults);
                    assert!(execution.outcome.is_ok(), "{:?}", execution.outcome);
                    // The first tenth warms caches and the instance pool.
                    if round >= samples / 10 {
                        into.wall.push(elapsed);
                        into.cpu.push(cpu);
                        into.faults += faults;
                    }
                }
            }
            if let Some(peer) = peer.as_mut().filter(|_| (round + 1) % BATCH == 0) {
                let calls = peer.report_calls(BATCH);
                // The first tenth warms V8's tiers, as it warms ours.
                if round >= samples / 10 {
                    peer_calls.extend(calls);
                }
            }
        }
    });
    // The peer is done: its calls' p50 and mean (µs), when it ran.
    drop(peer);
    peer_calls.sort_by(f64::total_cmp);
    let peer_call = (!peer_calls.is_empty()).then(|| {
        (
            peer_calls[peer_calls.len() / 2],
            peer_calls.iter().sum::<f64>() / peer_calls.len() as f64,
        )
    });
    for ((name, _), (shaping, trivial)) in builds.iter().zip(timings.iter_mut()) {
        let n = shaping.wall.len() as f64;
        let (wall, cpu) = (Stats::of(&mut shaping.wall), Stats::of(&mut shaping.cpu));
        let (trivial_wall, trivial_cpu) =
            (Stats::of(&mut trivial.wall), Stats::of(&mut trivial.cpu));
        println!("JSON-shaping script, {name} ({samples} calls each, alternated):");
        println!(
            "  report (JSON shaping):   p50 {:>7.1} µs   mean {:>7.1} µs   cpu p50 {:>7.1} µs   {:>5.1} faults",
            wall.p50,
            wall.mean,
            cpu.p50,
            shaping.faults as f64 / n
        );
        println!(
            "  ping (same script):      p50 {:>7.1} µs   mean {:>7.1} µs   cpu p50 {:>7.1} µs   {:>5.1} faults",
            trivial_wall.p50,
            trivial_wall.mean,
            trivial_cpu.p50,
            trivial.faults as f64 / n
        );
        println!(
            "  json_shaping work: p50 {:.1} µs mean {:.1} µs (cpu p50 {:.1} µs)",
            wall.p50 - trivial_wall.p50,
            wall.mean - trivial_wall.mean,
            cpu.p50 - trivial_cpu.p50
        );
        if let Some((p50, mean)) = peer_call {
            println!(
                "  quickjs-emscripten warm call, between these batches: p50 {p50:.1} µs mean {mean:.1} µs"
            );
            println!(
                "  json_shaping work / quickjs-emscripten call: p50 {:.2}x mean {:.2}x",
                (wall.p50 - trivial_wall.p50) / p50,
                (wall.mean - trivial_wall.mean) / mean
            );
        }
    }
}

/// Measurements of one command's calls.
#[derive(Clone, Default)]
struct Calls {
    wall: Vec<Duration>,
    cpu: Vec<Duration>,
    faults: u64,
}

/// p50 and mean of a set of timings, in microseconds.
struct Stats {
    p50: f64,
    mean: f64,
}

impl Stats {
    fn of(timings: &mut [Duration]) -> Self {
        timings.sort();
        let total: Duration = timings.iter().sum();
        Self {
            p50: micros(timings[timings.len() / 2]),
            mean: micros(total) / timings.len() as f64,
        }
    }
}

/// CPU time of the calling thread so far (user and system: page faults
/// are part of the work).
fn thread_cpu() -> Duration {
    let time = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(time.tv_sec as u64, time.tv_nsec as u32)
}

/// Minor page faults of this process so far (field 10 of `/proc/self/stat`,
/// counted after the parenthesised command name, which may hold spaces).
fn minor_faults() -> u64 {
    let text = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    text.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(7))
        .and_then(|field| field.parse().ok())
        .unwrap_or(0)
}

fn rss_report() {
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

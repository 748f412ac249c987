//! Plugin benchmarks, reported as figures rather than asserted:
//!
//! - per-execution latency (p50/p99) of a trivial plugin command next to a
//!   trivial script command, on the same engine and pool;
//! - time from dropping a plugin into a watched directory to its type being
//!   executable (poll interval, read, checks, compile, describe, register,
//!   first execution), for the sample plugin and a 2 MiB variant.
//!
//! The plugins are built by `just bench-plugins`, which passes their paths in
//! `FLOH_BENCH_PLUGIN` and `FLOH_BENCH_PLUGIN_LARGE`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use floh::connectors::{BuiltinType, TypeRegistry};
use floh::plugins::{PluginDirectory, PluginType};
use floh::runtime::{ExecutionContext, Invocation, ScriptEngine, ScriptEngineOptions};
use serde_json::json;

const ITERATIONS: usize = 20_000;

fn main() {
    if std::env::args().any(|arg| arg == "--list" || arg == "--test") {
        return;
    }
    let (Ok(small), Ok(large)) = (
        std::env::var("FLOH_BENCH_PLUGIN"),
        std::env::var("FLOH_BENCH_PLUGIN_LARGE"),
    ) else {
        eprintln!("run through `just bench-plugins` (it builds the plugins)");
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        latency(&std::fs::read(&small).expect("plugin")).await;
        for path in [small, large] {
            drop_to_executable(&std::fs::read(&path).expect("plugin")).await;
        }
        code_heavy_compile();
    });
}

fn engine(cache: Option<std::path::PathBuf>) -> Arc<ScriptEngine> {
    let options = ScriptEngineOptions {
        cache_dir: cache,
        ..ScriptEngineOptions::default()
    };
    Arc::new(ScriptEngine::new(options).expect("engine"))
}

fn invocation(command: &str) -> Invocation {
    Invocation {
        command: command.into(),
        params: json!({}),
        variables: json!({}),
        metadata: Default::default(),
    }
}

async fn latency(plugin_bytes: &[u8]) {
    let engine = engine(Some(std::env::temp_dir().join("floh-bench-artefacts")));
    let plugin = PluginType::load(engine.clone(), "sample.wasm", plugin_bytes.to_vec())
        .await
        .expect("plugin loads");
    let script = engine
        .compile("function test() { return { success: true, data: { ok: true } }; }")
        .await
        .expect("compile");
    let context = ExecutionContext::new("bench");
    let command = invocation("test");

    let mut script_times = Vec::with_capacity(ITERATIONS);
    let mut plugin_times = Vec::with_capacity(ITERATIONS);
    for round in 0..ITERATIONS + 1_000 {
        let started = Instant::now();
        let execution = engine.execute(&script, &command, &context).await;
        let script_time = started.elapsed();
        assert!(execution.outcome.is_ok_and(|r| r.success));

        let started = Instant::now();
        let deadline = started + Duration::from_secs(10);
        let mut calls = engine.host_calls(&context, deadline).expect("calls");
        let outcome = plugin.execute(&command, &context, &mut calls).await;
        let plugin_time = started.elapsed();
        assert!(outcome.is_ok_and(|r| r.success));
        // The first thousand rounds warm the pool and caches.
        if round >= 1_000 {
            script_times.push(script_time);
            plugin_times.push(plugin_time);
        }
    }
    let (script_p50, script_p99) = percentiles(&mut script_times);
    let (plugin_p50, plugin_p99) = percentiles(&mut plugin_times);
    println!("trivial command, {ITERATIONS} executions each, one at a time:");
    println!("  script  p50 {script_p50:>7.1} µs   p99 {script_p99:>7.1} µs");
    println!("  plugin  p50 {plugin_p50:>7.1} µs   p99 {plugin_p99:>7.1} µs");
    println!("  plugin/script at p50: {:.2}×", plugin_p50 / script_p50);
}

async fn drop_to_executable(bytes: &[u8]) {
    let scratch = tempfile::tempdir().expect("temp dir");
    let dir = scratch.path().join("plugins");
    std::fs::create_dir_all(&dir).expect("plugin dir");
    // No artefact cache: a new plugin is compiled, as in production.
    let engine = engine(None);
    let registry = TypeRegistry::default();
    let directory = Arc::new(PluginDirectory::new(
        dir.clone(),
        engine.clone(),
        registry.clone(),
        || {},
    ));
    let watcher = directory.clone().watch(floh::server::PLUGIN_POLL_INTERVAL);
    tokio::time::sleep(Duration::from_millis(50)).await;

    let started = Instant::now();
    let temporary = dir.join(".sample.partial");
    std::fs::write(&temporary, bytes).expect("write");
    std::fs::rename(&temporary, dir.join("sample.wasm")).expect("rename");
    let handler = loop {
        if let Some(handler) = registry.get("sample") {
            break handler;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "never loaded");
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    let context = ExecutionContext::new("bench");
    let mut calls = engine
        .host_calls(&context, Instant::now() + Duration::from_secs(10))
        .expect("calls");
    let outcome = handler
        .execute(&invocation("test"), &context, &mut calls)
        .await;
    assert!(outcome.is_ok_and(|r| r.success));
    let elapsed = started.elapsed();
    watcher.abort();
    println!(
        "drop → executable, {:.2} MiB component: {:.0} ms (poll interval {} ms included)",
        bytes.len() as f64 / (1024.0 * 1024.0),
        elapsed.as_secs_f64() * 1000.0,
        floh::server::PLUGIN_POLL_INTERVAL.as_millis()
    );
}

/// The ballast of the large sample is data, which compiles fast. For a
/// component that is mostly code, the JavaScript engine (1.4 MB) is the
/// reference: its compile time is what a code-heavy plugin would add.
fn code_heavy_compile() {
    let engine = engine(None);
    let started = Instant::now();
    floh::runtime::ArtefactCache::disabled()
        .load_or_compile(engine.wasm_engine(), floh::runtime::ENGINE_WASM)
        .expect("engine compiles");
    println!(
        "compile of a code-heavy component (the {:.2} MiB JavaScript engine): {:.0} ms",
        floh::runtime::ENGINE_WASM.len() as f64 / (1024.0 * 1024.0),
        started.elapsed().as_secs_f64() * 1000.0
    );
}

/// p50 and p99 in microseconds.
fn percentiles(times: &mut [Duration]) -> (f64, f64) {
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e6;
    (at(0.50), at(0.99))
}

//! Instances made ahead of need: an execution that takes one runs with its
//! own context and deadline, and still sees nothing of any other execution.
//! (Spares are used while a core is idle: these tests run their executions
//! one at a time, on a host with more than one core.)

use std::time::Duration;

use floh::runtime::{
    ExecutionContext, ExecutionError, Invocation, InvocationMetadata, ScriptEngine,
    ScriptEngineOptions, SnapshotOptions, SnapshotStatus,
};
use serde_json::{Value, json};

use crate::support::{engine, open_context};

const STATEFUL: &str = r#"
var table = [];
function bump() {
  globalThis.leaked = (globalThis.leaked || 0) + 1;
  var clean = Object.prototype.polluted === undefined;
  Object.prototype.polluted = true;
  table.push(floh.params.n);
  floh.log.info('run ' + floh.params.n + ' of ' + floh.config.tenant);
  return { success: true, data: {
    leaked: globalThis.leaked, clean: clean, rows: table.length,
    tenant: floh.config.tenant, n: floh.params.n } };
}
"#;

/// Run `bump` with `n`, after giving the spares thread time to make the
/// next instance.
async fn bump(
    engine: &ScriptEngine,
    script: &floh::runtime::CompiledScript,
    n: u32,
    context: &ExecutionContext,
) -> (Value, Vec<String>) {
    tokio::time::sleep(Duration::from_millis(30)).await;
    let invocation = Invocation {
        command: "bump".into(),
        params: json!({ "n": n }),
        ..Invocation::default()
    };
    let execution = engine.execute(script, &invocation, context).await;
    let result = execution.outcome.expect("the command succeeds");
    let logs = execution
        .logs
        .into_iter()
        .map(|entry| entry.message)
        .collect();
    (result.data.expect("data"), logs)
}

/// Whether this host can use spares at all (one core is never idle).
fn spares_usable() -> bool {
    std::thread::available_parallelism().map_or(1, usize::from) > 1
}

fn tenant(name: &str) -> ExecutionContext {
    ExecutionContext {
        connector: name.into(),
        ..open_context(json!({ "tenant": name }), &[])
    }
}

/// Executions alternate between two connectors running the same script (so
/// the same image and the same spares): each sees its own config, params
/// and logs, and no state of any execution before it.
async fn alternate_tenants(engine: &ScriptEngine) {
    let script = engine.compile(STATEFUL).await.expect("the script compiles");
    let (acme, globex) = (tenant("acme"), tenant("globex"));
    let before = engine.snapshot_stats().1.on_spare;
    for n in 0..8 {
        let context = if n % 2 == 0 { &acme } else { &globex };
        let name = &*context.connector;
        let (data, logs) = bump(engine, &script, n, context).await;
        assert_eq!(
            data,
            json!({"leaked": 1, "clean": true, "rows": 1, "tenant": name, "n": n})
        );
        assert_eq!(logs, [format!("run {n} of {name}")]);
    }
    let used = engine.snapshot_stats().1.on_spare - before;
    if spares_usable() {
        assert!(used >= 4, "only {used} of 8 executions took a spare");
    }
}

#[tokio::test]
async fn spares_of_a_snapshot_run_with_the_taking_execution_s_context_only() {
    let engine = engine();
    // The snapshot first (an execution asks for it), so that every
    // execution below starts from it.
    let script = engine.compile(STATEFUL).await.expect("the script compiles");
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while engine.snapshot_status(&script) != SnapshotStatus::Ready {
        assert!(std::time::Instant::now() < deadline, "no snapshot");
        bump(&engine, &script, 0, &tenant("acme")).await;
    }
    let before = engine.snapshot_stats().1;
    alternate_tenants(&engine).await;
    let after = engine.snapshot_stats().1;
    assert_eq!(after.from_snapshot - before.from_snapshot, 8);
    assert_eq!(after.from_bytecode, before.from_bytecode);
}

#[tokio::test]
async fn spares_of_the_engine_serve_scripts_without_snapshots() {
    let engine = ScriptEngine::new(ScriptEngineOptions {
        cache_dir: Some(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("floh-artefacts")),
        snapshots: SnapshotOptions {
            enabled: false,
            ..SnapshotOptions::default()
        },
        ..ScriptEngineOptions::default()
    })
    .expect("script engine");
    alternate_tenants(&engine).await;
    assert_eq!(engine.snapshot_stats().1.from_snapshot, 0);
}

#[tokio::test]
async fn a_spare_made_long_before_still_stops_at_its_execution_s_deadline() {
    let engine = engine();
    let script = engine
        .compile("function spin() { for (;;) {} }")
        .await
        .expect("the script compiles");
    let invocation = Invocation {
        command: "spin".into(),
        metadata: InvocationMetadata {
            timeout: Some(Duration::from_millis(150)),
            ..InvocationMetadata::default()
        },
        ..Invocation::default()
    };
    let context = ExecutionContext::new("test");
    let before = engine.snapshot_stats().1.on_spare;
    for _ in 0..3 {
        // Longer than the timeout: a deadline fixed when the spare was made
        // would have passed before it is taken.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let execution = engine.execute(&script, &invocation, &context).await;
        assert_eq!(
            execution.outcome,
            Err(ExecutionError::Timeout(Duration::from_millis(150)))
        );
        assert!(execution.duration >= Duration::from_millis(150));
    }
    if spares_usable() {
        assert!(engine.snapshot_stats().1.on_spare > before);
    }
}

#[tokio::test]
async fn without_spares_every_execution_instantiates_inline() {
    let engine = ScriptEngine::new(ScriptEngineOptions {
        cache_dir: Some(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("floh-artefacts")),
        spares: false,
        ..ScriptEngineOptions::default()
    })
    .expect("script engine");
    let script = engine.compile(STATEFUL).await.expect("the script compiles");
    let context = tenant("acme");
    for n in 0..3 {
        let (data, _) = bump(&engine, &script, n, &context).await;
        assert_eq!(data["leaked"], 1);
    }
    assert_eq!(engine.snapshot_stats().1.on_spare, 0);
}

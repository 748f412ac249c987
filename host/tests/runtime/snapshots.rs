//! Per-script snapshots: executions start from an image of the engine taken
//! after the script's top level ran, and still never see each other.

use std::path::Path;
use std::time::{Duration, Instant};

use floh::runtime::{
    CompiledScript, ExecutionContext, Invocation, PoolSizing, ScriptEngine, ScriptEngineOptions,
    SnapshotOptions, SnapshotStatus,
};
use serde_json::{Value, json};

/// An engine whose images live in `dir` (the engine's own compiled artefact
/// is shared with the other tests).
fn engine_in(dir: &Path, fail_builds: bool) -> ScriptEngine {
    ScriptEngine::new(ScriptEngineOptions {
        cache_dir: Some(Path::new(env!("CARGO_TARGET_TMPDIR")).join("floh-artefacts")),
        pool: PoolSizing {
            max_instances: 16,
            ..PoolSizing::default()
        },
        snapshots: SnapshotOptions {
            dir: Some(dir.to_path_buf()),
            fail_builds,
            ..SnapshotOptions::default()
        },
        ..ScriptEngineOptions::default()
    })
    .expect("script engine")
}

async fn execute(engine: &ScriptEngine, script: &CompiledScript, command: &str) -> Value {
    let invocation = Invocation {
        command: command.into(),
        params: json!({"n": 1}),
        ..Invocation::default()
    };
    let execution = engine
        .execute(script, &invocation, &ExecutionContext::new("test"))
        .await;
    let result = execution.outcome.expect("the command succeeds");
    assert!(result.success, "{result:?}");
    result.data.unwrap_or(Value::Null)
}

/// Execute until the script's snapshot settles (an execution asks for it).
async fn settled(engine: &ScriptEngine, script: &CompiledScript) -> SnapshotStatus {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let status = engine.snapshot_status(script);
        match status {
            SnapshotStatus::Building => {}
            SnapshotStatus::Absent => {
                // Absent until an execution asks; asking costs a run.
                let invocation = Invocation {
                    command: "__none".into(),
                    ..Invocation::default()
                };
                let _ = engine
                    .execute(script, &invocation, &ExecutionContext::new("test"))
                    .await;
            }
            other => return other,
        }
        assert!(Instant::now() < deadline, "the snapshot never settled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

const STATEFUL: &str = r#"
var loaded = { count: 0 };
var table = [];
for (var i = 0; i < 100; i++) { table.push('row ' + i); }
function bump() {
  loaded.count += 1;
  globalThis.leaked = (globalThis.leaked || 0) + 1;
  var polluted = Array.prototype.polluted === undefined && Object.prototype.polluted === undefined;
  var json = JSON.parse('{"a":1}').a === 1 ? 'ok' : 'hijacked';
  Array.prototype.polluted = true;
  Object.prototype.polluted = true;
  JSON.parse = function () { return 'hijacked'; };
  table.push('extra');
  return { success: true, data: {
    count: loaded.count, leaked: globalThis.leaked, clean: polluted,
    rows: table.length, json: json,
    params: floh.params.n } };
}
"#;

#[tokio::test]
async fn executions_from_a_snapshot_see_none_of_each_others_state() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let engine = engine_in(dir.path(), false);
    let script = engine.compile(STATEFUL).await.expect("the script compiles");
    assert_eq!(settled(&engine, &script).await, SnapshotStatus::Ready);
    let before = engine.snapshot_stats().1;
    for _ in 0..3 {
        let data = execute(&engine, &script, "bump").await;
        // The first run's view every time: top-level state as the top level
        // left it, no globals or prototype changes from a previous run.
        assert_eq!(
            data,
            json!({"count": 1, "leaked": 1, "clean": true, "rows": 101, "json": "ok", "params": 1})
        );
    }
    let after = engine.snapshot_stats().1;
    assert_eq!(after.from_snapshot - before.from_snapshot, 3);
    assert_eq!(after.from_bytecode, before.from_bytecode);
}

#[tokio::test]
async fn a_snapshot_gives_the_same_results_as_running_from_bytecode() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let engine = engine_in(dir.path(), false);
    let script = engine.compile(STATEFUL).await.expect("the script compiles");
    let from_bytecode = execute(&engine, &script, "bump").await;
    assert_eq!(settled(&engine, &script).await, SnapshotStatus::Ready);
    assert_eq!(execute(&engine, &script, "bump").await, from_bytecode);
}

#[tokio::test]
async fn a_top_level_that_reads_the_clock_or_random_numbers_stays_live() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let engine = engine_in(dir.path(), false);
    for (source, reason) in [
        (
            "var started = Date.now(); function when() { return { success: true, data: { t: started } }; }",
            "the clock",
        ),
        (
            // QuickJS reads the clock for Math.random() before any random
            // bytes, so that is the reason given.
            "var seed = Math.random(); function when() { return { success: true, data: { t: seed } }; }",
            "the clock",
        ),
    ] {
        let script = engine.compile(source).await.expect("the script compiles");
        match settled(&engine, &script).await {
            SnapshotStatus::Refused(why) => assert!(why.contains(reason), "{why}"),
            other => panic!("expected a refusal naming {reason}, got {other:?}"),
        }
        // Refused scripts evaluate their top level at every execution, so
        // each one sees its own moment and its own random numbers.
        let first = execute(&engine, &script, "when").await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        let second = execute(&engine, &script, "when").await;
        assert_ne!(first, second, "{source}");
    }
}

#[tokio::test]
async fn a_top_level_that_uses_the_run_or_the_host_is_not_snapshotted() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let engine = engine_in(dir.path(), false);
    for (source, reason) in [
        (
            "var n = floh.params.n; function run() { return { success: true, data: { n: n } }; }",
            "floh.params",
        ),
        (
            "try { var base = floh.config.baseUrl; } catch (e) {} function run() { return { success: true }; }",
            "floh.config",
        ),
        (
            "floh.log.info('loading'); function run() { return { success: true }; }",
            "floh.log",
        ),
    ] {
        let script = engine.compile(source).await.expect("the script compiles");
        match settled(&engine, &script).await {
            SnapshotStatus::Refused(why) => assert!(why.contains(reason), "{why}"),
            other => panic!("expected a refusal naming {reason}, got {other:?}"),
        }
        execute(&engine, &script, "run").await;
    }
    // Reading the run's data inside a command is what commands do.
    let script = engine
        .compile("function run() { return { success: true, data: { n: floh.params.n } }; }")
        .await
        .expect("the script compiles");
    assert_eq!(settled(&engine, &script).await, SnapshotStatus::Ready);
    assert_eq!(execute(&engine, &script, "run").await, json!({"n": 1}));
}

#[tokio::test]
async fn an_edited_script_never_runs_the_old_snapshot() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let engine = engine_in(dir.path(), false);
    let old = engine
        .compile("var v = 'old'; function version() { return { success: true, data: v }; }")
        .await
        .expect("the script compiles");
    assert_eq!(settled(&engine, &old).await, SnapshotStatus::Ready);
    assert_eq!(execute(&engine, &old, "version").await, json!("old"));
    let edited = engine
        .compile("var v = 'new'; function version() { return { success: true, data: v }; }")
        .await
        .expect("the script compiles");
    assert_eq!(engine.snapshot_status(&edited), SnapshotStatus::Absent);
    assert_eq!(execute(&engine, &edited, "version").await, json!("new"));
    assert_eq!(settled(&engine, &edited).await, SnapshotStatus::Ready);
    assert_eq!(execute(&engine, &edited, "version").await, json!("new"));
}

#[tokio::test]
async fn a_crashed_build_falls_back_to_bytecode_and_is_reported() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let engine = engine_in(dir.path(), true);
    let script = engine
        .compile("var v = 7; function value() { return { success: true, data: v }; }")
        .await
        .expect("the script compiles");
    match settled(&engine, &script).await {
        SnapshotStatus::Failed(reason) => assert!(reason.contains("crashed"), "{reason}"),
        other => panic!("expected a failed build, got {other:?}"),
    }
    assert_eq!(engine.snapshot_stats().0.failed, 1);
    let before = engine.snapshot_stats().1;
    assert_eq!(execute(&engine, &script, "value").await, json!(7));
    assert_eq!(
        engine.snapshot_stats().1.from_bytecode,
        before.from_bytecode + 1
    );
}

#[tokio::test]
async fn snapshots_survive_a_restart_and_a_corrupt_file_is_refused() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let source = "var greeting = ['he', 'llo'].join(''); function hi() { return { success: true, data: greeting }; }";
    {
        let engine = engine_in(dir.path(), false);
        let script = engine.compile(source).await.expect("the script compiles");
        assert_eq!(settled(&engine, &script).await, SnapshotStatus::Ready);
        assert_eq!(engine.snapshot_stats().0.built, 1);
    }
    // A new engine (a restart) loads the image from disk instead of
    // building it.
    {
        let engine = engine_in(dir.path(), false);
        let script = engine.compile(source).await.expect("the script compiles");
        assert_eq!(settled(&engine, &script).await, SnapshotStatus::Ready);
        let stats = engine.snapshot_stats().0;
        assert_eq!((stats.built, stats.loaded_from_disk), (0, 1));
        assert_eq!(execute(&engine, &script, "hi").await, json!("hello"));
    }
    // Flip a byte in the middle of the stored image.
    let image = std::fs::read_dir(dir.path())
        .expect("the snapshot directory")
        .map(|entry| entry.expect("an entry").path())
        .find(|path| path.extension().is_some_and(|ext| ext == "cwasm"))
        .expect("an image on disk");
    let mut bytes = std::fs::read(&image).expect("the image");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&image, bytes).expect("the image written");
    let engine = engine_in(dir.path(), false);
    let script = engine.compile(source).await.expect("the script compiles");
    assert_eq!(settled(&engine, &script).await, SnapshotStatus::Ready);
    let stats = engine.snapshot_stats().0;
    assert_eq!(
        (stats.corrupt_files, stats.loaded_from_disk, stats.built),
        (1, 0, 1)
    );
    assert_eq!(execute(&engine, &script, "hi").await, json!("hello"));
}

#[tokio::test]
async fn snapshots_can_be_turned_off() {
    let engine = ScriptEngine::new(ScriptEngineOptions {
        cache_dir: Some(Path::new(env!("CARGO_TARGET_TMPDIR")).join("floh-artefacts")),
        snapshots: SnapshotOptions {
            enabled: false,
            ..SnapshotOptions::default()
        },
        ..ScriptEngineOptions::default()
    })
    .expect("script engine");
    let script = engine
        .compile("function ok() { return { success: true }; }")
        .await
        .expect("the script compiles");
    execute(&engine, &script, "ok").await;
    assert_eq!(engine.snapshot_status(&script), SnapshotStatus::Disabled);
    assert_eq!(engine.snapshot_stats().1.from_snapshot, 0);
}

//! Sandbox limits: time, memory, stack, isolation between executions, logs.

use std::time::{Duration, Instant};

use floh::runtime::{ExecutionError, ExecutionLimits, Invocation, InvocationMetadata};
use serde_json::json;

use crate::support::{engine, engine_with, open_context, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_infinite_loop_stops_at_its_timeout_while_other_executions_complete() {
    let engine = std::sync::Arc::new(engine());
    let context = open_context(json!({}), &[]);
    let spin = engine
        .compile("function spin() { while (true) {} }")
        .await
        .expect("compiles");
    let quick = engine
        .compile("function quick() { return {success: true}; }")
        .await
        .expect("compiles");
    let timeout = Duration::from_millis(500);
    let spinning = {
        let engine = engine.clone();
        let context = context.clone();
        tokio::spawn(async move {
            let invocation = Invocation {
                command: "spin".into(),
                metadata: InvocationMetadata {
                    timeout: Some(timeout),
                    ..Default::default()
                },
                ..Default::default()
            };
            let started = Instant::now();
            let execution = engine.execute(&spin, &invocation, &context).await;
            (execution, started.elapsed())
        })
    };
    // While the loop burns its core, other executions still get through.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let invocation = Invocation {
        command: "quick".into(),
        ..Default::default()
    };
    for _ in 0..20 {
        let execution = engine.execute(&quick, &invocation, &context).await;
        assert!(execution.outcome.expect("quick succeeds").success);
    }
    assert!(
        !spinning.is_finished(),
        "the quick executions finished while the loop was still running"
    );
    let (execution, elapsed) = spinning.await.expect("join");
    assert_eq!(execution.outcome, Err(ExecutionError::Timeout(timeout)));
    assert!(elapsed >= timeout, "stopped early: {elapsed:?}");
    assert!(elapsed <= timeout * 12 / 10, "stopped late: {elapsed:?}");
}

#[tokio::test]
async fn a_memory_bomb_fails_cleanly_at_the_cap() {
    let limits = ExecutionLimits {
        memory_bytes: 32 * 1024 * 1024,
        ..ExecutionLimits::default()
    };
    let engine = engine_with(limits);
    let context = open_context(json!({}), &[]);
    // Rope strings make `s + s` nearly free, so the bomb keeps real arrays alive.
    let source = "function bomb() { var keep = []; while (true) { keep.push(new Array(100000).fill(keep.length)); } }";
    let execution = run(&engine, source, "bomb", json!({}), &context).await;
    assert_eq!(
        execution.outcome,
        Err(ExecutionError::MemoryLimit(32 * 1024 * 1024))
    );
    // The engine is unharmed: the next execution runs normally.
    let execution = run(
        &engine,
        "function ok() { return {success: true}; }",
        "ok",
        json!({}),
        &context,
    )
    .await;
    assert!(execution.outcome.expect("ok").success);
}

#[tokio::test]
async fn deep_recursion_fails_cleanly() {
    let engine = engine();
    let context = open_context(json!({}), &[]);
    let source = "function down(n) { return down(n + 1) + 1; }\nfunction recurse() { return {success: true, data: down(0)}; }";
    let execution = run(&engine, source, "recurse", json!({}), &context).await;
    assert_eq!(execution.outcome, Err(ExecutionError::StackOverflow));
}

#[tokio::test]
async fn nothing_survives_from_one_execution_to_the_next() {
    let engine = engine();
    let context = open_context(json!({"shared": 1}), &[]);
    let source = r#"
        var loads = (globalThis.loads || 0) + 1;
        globalThis.loads = loads;
        function bump() {
            globalThis.calls = (globalThis.calls || 0) + 1;
            floh.config.shared += 1;
            Object.prototype.polluted = true;
            return {success: true, data: {loads: loads, calls: globalThis.calls, shared: floh.config.shared}};
        }
        function inspect() {
            return {success: true, data: {polluted: ({}).polluted === true}};
        }
    "#;
    let script = engine.compile(source).await.expect("compiles");
    for _ in 0..3 {
        let invocation = Invocation {
            command: "bump".into(),
            ..Default::default()
        };
        let result = engine
            .execute(&script, &invocation, &context)
            .await
            .outcome
            .expect("ok");
        assert_eq!(
            result.data,
            Some(json!({"loads": 1, "calls": 1, "shared": 2}))
        );
    }
    let invocation = Invocation {
        command: "inspect".into(),
        ..Default::default()
    };
    let result = engine
        .execute(&script, &invocation, &context)
        .await
        .outcome
        .expect("ok");
    assert_eq!(result.data, Some(json!({"polluted": false})));
}

#[tokio::test]
async fn secrets_are_masked_in_logs_and_errors() {
    let engine = engine();
    let secret = "sk-live-1234567890";
    let context = open_context(json!({"apiKey": secret}), &[secret]);
    let source = r#"
        function leak() {
            floh.log.info('using key ' + floh.config.apiKey);
            floh.log.warn({config: floh.config});
            console.log('console', floh.config.apiKey);
            throw new Error('failed with ' + floh.config.apiKey);
        }
    "#;
    let execution = run(&engine, source, "leak", json!({}), &context).await;
    let messages: Vec<&str> = execution
        .logs
        .iter()
        .map(|entry| entry.message.as_str())
        .collect();
    assert_eq!(
        messages,
        [
            "using key ***",
            r#"{"config":{"apiKey":"***"}}"#,
            "console ***"
        ]
    );
    match execution.outcome {
        Err(ExecutionError::CommandThrew { message, stack }) => {
            assert_eq!(message, "Error: failed with ***");
            assert!(!stack.contains(secret));
        }
        other => panic!("expected CommandThrew, got {other:?}"),
    }
}

#[tokio::test]
async fn secrets_are_masked_in_a_returned_error() {
    let engine = engine();
    let context = open_context(json!({"apiKey": "tok-998877"}), &["tok-998877"]);
    let source =
        "function c() { return {success: false, error: 'rejected key ' + floh.config.apiKey}; }";
    let result = run(&engine, source, "c", json!({}), &context)
        .await
        .outcome
        .expect("result");
    assert_eq!(result.error.as_deref(), Some("rejected key ***"));
}

#[tokio::test]
async fn log_level_filters_and_levels_are_recorded() {
    let engine = engine();
    let mut context = open_context(json!({}), &[]);
    context.log_level = floh::imports::LogLevel::Warn;
    let source = "function c() { floh.log.trace('t'); floh.log.debug('d'); floh.log.info('i'); floh.log.warn('w'); floh.log.error('e'); return {success: true}; }";
    let execution = run(&engine, source, "c", json!({}), &context).await;
    let levels: Vec<_> = execution
        .logs
        .iter()
        .map(|entry| (entry.level, entry.message.as_str()))
        .collect();
    use floh::imports::LogLevel::{Error, Warn};
    assert_eq!(levels, [(Warn, "w"), (Error, "e")]);
}

#[tokio::test]
async fn randomness_and_time_are_live_not_frozen_in_the_snapshot() {
    let engine = engine();
    let context = open_context(json!({}), &[]);
    let source =
        "function c() { return {success: true, data: {r: Math.random(), now: Date.now()}}; }";
    let script = engine.compile(source).await.expect("compiles");
    let invocation = Invocation {
        command: "c".into(),
        ..Default::default()
    };
    let first = engine
        .execute(&script, &invocation, &context)
        .await
        .outcome
        .expect("ok")
        .data
        .expect("data");
    let second = engine
        .execute(&script, &invocation, &context)
        .await
        .outcome
        .expect("ok")
        .data
        .expect("data");
    assert_ne!(
        first["r"], second["r"],
        "Math.random repeats across executions"
    );
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as f64;
    let script_now = first["now"].as_f64().expect("number");
    assert!(
        (now_ms - script_now).abs() < 60_000.0,
        "Date.now() is {script_now}, host says {now_ms}"
    );
}

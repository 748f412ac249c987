//! Compile and run errors come back as clear, typed errors, never host traps.

use floh::runtime::{CompileError, ExecutionError};
use serde_json::json;

use crate::support::{engine, open_context, run};

#[tokio::test]
async fn syntax_errors_report_line_and_column() {
    let engine = engine();
    let source = "function ok() { return {success: true}; }\nvar total = 1 +;\n";
    match engine.compile(source).await {
        Err(CompileError::Syntax {
            message,
            line,
            column,
        }) => {
            assert_eq!((line, column), (2, 16), "{message}");
            assert!(message.contains("SyntaxError"), "{message}");
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

#[tokio::test]
async fn syntax_error_columns_point_at_the_offending_token() {
    let engine = engine();
    let cases = [
        ("var a = 1;\n  foo bar", (2, 7)),
        ("x +;", (1, 4)),
        // The error is already certain after the first comma (an object
        // literal cannot end there), so that is where it is reported.
        ("function f() {\n  return {a: 1,, b: 2};\n}", (2, 15)),
        ("var s = 'é'; var t = é é;", (1, 24)),
    ];
    for (source, expected) in cases {
        match engine.compile(source).await {
            Err(CompileError::Syntax {
                line,
                column,
                message,
            }) => {
                assert_eq!((line, column), expected, "{source:?}: {message}")
            }
            other => panic!("{source:?}: expected a syntax error, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_thrown_error_carries_its_message_and_stack() {
    let engine = engine();
    let source = "function inner() { throw new Error('kaput'); }\nfunction boom() { inner(); }";
    let execution = run(
        &engine,
        source,
        "boom",
        json!({}),
        &open_context(json!({}), &[]),
    )
    .await;
    match execution.outcome {
        Err(ExecutionError::CommandThrew { message, stack }) => {
            assert_eq!(message, "Error: kaput");
            assert!(stack.contains("inner") && stack.contains("boom"), "{stack}");
            assert!(stack.contains("script.js:1"), "{stack}");
        }
        other => panic!("expected CommandThrew, got {other:?}"),
    }
}

#[tokio::test]
async fn non_error_throws_and_top_level_throws_are_reported() {
    let engine = engine();
    let context = open_context(json!({}), &[]);
    let execution = run(
        &engine,
        "function f() { throw 'plain'; }",
        "f",
        json!({}),
        &context,
    )
    .await;
    assert!(
        matches!(&execution.outcome, Err(ExecutionError::CommandThrew { message, .. }) if message.contains("plain")),
        "{:?}",
        execution.outcome
    );
    let execution = run(
        &engine,
        "throw new TypeError('at load');",
        "f",
        json!({}),
        &context,
    )
    .await;
    assert!(
        matches!(&execution.outcome, Err(ExecutionError::ScriptThrew { message, .. }) if message == "TypeError: at load"),
        "{:?}",
        execution.outcome
    );
}

#[tokio::test]
async fn unknown_commands_and_engine_globals_are_not_callable() {
    let engine = engine();
    let context = open_context(json!({}), &[]);
    let source = "function listContacts() { return {success: true}; }";
    for command in ["nope", "eval", "floh", "parseInt", "toString", ""] {
        let execution = run(&engine, source, command, json!({}), &context).await;
        assert_eq!(
            execution.outcome,
            Err(ExecutionError::UnknownCommand(command.into())),
            "{command}"
        );
    }
}

#[tokio::test]
async fn results_that_are_not_connector_results_are_rejected() {
    let engine = engine();
    let context = open_context(json!({}), &[]);
    let cases = [
        ("function c() { }", "undefined"),
        ("function c() { return 42; }", "a number"),
        ("function c() { return [1]; }", "an array"),
        (
            "function c() { return {data: 1}; }",
            "`success` must be a boolean",
        ),
        (
            "function c() { return {success: 'yes'}; }",
            "`success` must be a boolean",
        ),
        (
            "function c() { var o = {}; o.self = o; return {success: true, data: o}; }",
            "cannot be represented as JSON",
        ),
        (
            "function c() { return {success: true, outputVariables: 3}; }",
            "`outputVariables` must be an object",
        ),
    ];
    for (source, expected) in cases {
        let execution = run(&engine, source, "c", json!({}), &context).await;
        match execution.outcome {
            Err(ExecutionError::InvalidResult(reason)) => {
                assert!(reason.contains(expected), "{source}: {reason}")
            }
            other => panic!("{source}: expected InvalidResult, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn async_commands_params_argument_and_output_variables_work() {
    let engine = engine();
    let context = open_context(json!({}), &[]);
    let source = "async function c(params) { return {success: true, data: params.n * 2, outputVariables: {seen: floh.variables.v}}; }";
    let script = engine.compile(source).await.expect("compiles");
    let invocation = floh::runtime::Invocation {
        command: "c".into(),
        params: json!({"n": 21}),
        variables: json!({"v": "x"}),
        ..Default::default()
    };
    let result = engine
        .execute(&script, &invocation, &context)
        .await
        .outcome
        .expect("ok");
    assert_eq!(result.data, Some(json!(42)));
    assert_eq!(result.output_variables, Some(json!({"seen": "x"})));
}

#[tokio::test]
async fn bytecode_from_another_engine_build_is_refused() {
    let engine = engine();
    let script = engine
        .compile("function c() { return {success: true}; }")
        .await
        .expect("compiles");
    let foreign =
        floh::runtime::CompiledScript::from_stored(script.bytecode().to_vec(), "qjs-other".into());
    let execution = engine
        .execute(
            &foreign,
            &floh::runtime::Invocation {
                command: "c".into(),
                ..Default::default()
            },
            &open_context(json!({}), &[]),
        )
        .await;
    assert!(
        matches!(execution.outcome, Err(ExecutionError::InvalidBytecode(_))),
        "{:?}",
        execution.outcome
    );
}

#[tokio::test]
async fn oversized_sources_are_refused_before_compiling() {
    let engine = engine();
    let source = format!(
        "var x = '{}';",
        "a".repeat(engine.limits().max_source_bytes)
    );
    assert!(matches!(
        engine.compile(&source).await,
        Err(CompileError::TooLarge(_))
    ));
}

//! `floh.cache`: what a script keeps between executions, scoped to its
//! connector and configuration.

use floh::runtime::ExecutionError;
use serde_json::{Value, json};

use crate::support::{engine, open_context, run};

const SCRIPT: &str = r#"
function put() {
  floh.cache.set('greeting', floh.params.value, floh.params.ttl);
  return { success: true };
}
function read() {
  return { success: true, data: { value: floh.cache.get('greeting') } };
}
function forget() {
  floh.cache['delete']('greeting');
  return { success: true };
}
"#;

async fn call(
    engine: &floh::runtime::ScriptEngine,
    command: &str,
    params: Value,
    config: Value,
) -> Result<Value, ExecutionError> {
    let context = open_context(config, &[]);
    run(engine, SCRIPT, command, params, &context)
        .await
        .outcome
        .map(|result| result.data.unwrap_or(Value::Null))
}

#[tokio::test]
async fn values_outlive_the_execution_that_set_them() {
    let engine = engine();
    let config = json!({"tenant": "a"});
    call(
        &engine,
        "put",
        json!({"value": "hello", "ttl": 60}),
        config.clone(),
    )
    .await
    .expect("put");
    let read = call(&engine, "read", json!({}), config.clone()).await;
    assert_eq!(read.expect("read")["value"], "hello");

    // Another configuration of the same connector starts empty.
    let other = call(&engine, "read", json!({}), json!({"tenant": "b"})).await;
    assert_eq!(other.expect("read")["value"], Value::Null);

    call(&engine, "forget", json!({}), config.clone())
        .await
        .expect("forget");
    let read = call(&engine, "read", json!({}), config).await;
    assert_eq!(read.expect("read")["value"], Value::Null);
}

#[tokio::test]
async fn bad_arguments_throw_in_the_script() {
    let engine = engine();
    let negative = call(&engine, "put", json!({"value": "x", "ttl": -1}), json!({})).await;
    match negative {
        Err(ExecutionError::CommandThrew { message, .. }) => {
            assert!(message.contains("ttlSeconds"), "{message}")
        }
        other => panic!("expected a thrown RangeError, got {other:?}"),
    }
    let huge = "x".repeat(100 * 1024);
    let too_large = call(&engine, "put", json!({"value": huge, "ttl": 60}), json!({})).await;
    match too_large {
        Err(ExecutionError::CommandThrew { message, .. }) => {
            assert!(message.contains("limited to"), "{message}")
        }
        other => panic!("expected a thrown Error, got {other:?}"),
    }
}

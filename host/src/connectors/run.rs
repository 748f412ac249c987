//! Running a built-in type or an external service once, under a deadline,
//! with policed HTTP and captured logs. The server and `floh agent` both run
//! connectors this way, so a connector behaves the same wherever it runs.

use std::sync::Arc;
use std::time::Instant;

use super::{BuiltinType, external};
use crate::runtime::{Execution, ExecutionContext, ExecutionError, Invocation, ScriptEngine};

/// Run `handler` (a WASM plugin or native type) for `invocation`.
pub async fn built_in(
    engine: &ScriptEngine,
    handler: Arc<dyn BuiltinType>,
    invocation: &Invocation,
    context: &ExecutionContext,
) -> anyhow::Result<Execution> {
    let timeout = engine.timeout_of(invocation);
    let mut calls = engine.host_calls(context, Instant::now() + timeout)?;
    let outcome =
        match tokio::time::timeout(timeout, handler.execute(invocation, context, &mut calls)).await
        {
            Ok(outcome) => outcome,
            Err(_) => Err(ExecutionError::Timeout(timeout)),
        };
    Ok(calls.finish(outcome))
}

/// Call the external service at `endpoint` (its `/health` for `test` when it
/// has one, `/execute` otherwise).
pub async fn external(
    engine: &ScriptEngine,
    endpoint: &str,
    invocation: &Invocation,
    context: &ExecutionContext,
) -> anyhow::Result<Execution> {
    let timeout = engine.timeout_of(invocation);
    let mut calls = engine.host_calls(context, Instant::now() + timeout)?;
    if invocation.command == "test"
        && let Some(result) = external::health(endpoint, &mut calls).await
    {
        return Ok(calls.finish(Ok(result)));
    }
    let outcome = external::execute(endpoint, invocation, context, timeout, &mut calls).await;
    Ok(calls.finish(outcome))
}

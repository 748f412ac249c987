//! [`PluginType`]: a loaded plugin as a built-in connector type. Loading
//! compiles and links it once; every execution instantiates it afresh in the
//! shared sandbox pool, under the script runtime's limits and imports.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::PluginError;
use super::inspect::{PluginStamp, inspect};
use crate::bindings::{ConnectorPre, ExecuteError};
use crate::connectors::{BoxFuture, BuiltinType, TypeDescriptor};
use crate::imports::LogEntry;
use crate::model::{ConfigSchema, validate_name};
use crate::runtime::HostCalls;
use crate::runtime::host_state::{HostState, linker};
use crate::runtime::{
    ConnectorResult, EPOCH_TICK, ExecutionContext, ExecutionError, Invocation, ScriptEngine,
    script_internals,
};

/// The largest plugin file accepted.
pub const MAX_PLUGIN_BYTES: usize = 32 * 1024 * 1024;

/// How long `describe()` may take.
const DESCRIBE_TIMEOUT: Duration = Duration::from_secs(2);

/// A connector type implemented by a WASM component.
pub struct PluginType {
    descriptor: TypeDescriptor,
    stamp: PluginStamp,
    pre: ConnectorPre<HostState>,
    engine: Arc<ScriptEngine>,
}

impl PluginType {
    /// Check, compile, link and describe the plugin in `bytes` (from the
    /// file called `file`). CPU-heavy: run it off the async workers.
    pub async fn load(
        engine: Arc<ScriptEngine>,
        file: &str,
        bytes: Vec<u8>,
    ) -> Result<Self, PluginError> {
        if bytes.len() > MAX_PLUGIN_BYTES {
            return Err(PluginError::TooLarge(MAX_PLUGIN_BYTES));
        }
        let stamp = inspect(file, &bytes)?;
        let compiler = engine.clone();
        let pre =
            tokio::task::spawn_blocking(move || -> anyhow::Result<ConnectorPre<HostState>> {
                let component = compiler
                    .artefacts()
                    .load_or_compile(compiler.wasm_engine(), &bytes)?;
                let linker = linker(compiler.wasm_engine())?;
                let instance_pre = linker.instantiate_pre(&component)?;
                Ok(ConnectorPre::new(instance_pre)?)
            })
            .await
            .map_err(|e| PluginError::Compile(e.to_string()))?
            .map_err(|e| PluginError::Compile(format!("{e:#}")))?;
        let descriptor = describe(&engine, &pre).await?;
        Ok(Self {
            descriptor,
            stamp,
            pre,
            engine,
        })
    }

    /// The SDK, WIT and crate versions found in the file.
    pub fn stamp(&self) -> &PluginStamp {
        &self.stamp
    }

    async fn run(
        &self,
        invocation: &Invocation,
        context: &ExecutionContext,
        calls: &mut HostCalls,
    ) -> Result<ConnectorResult, ExecutionError> {
        let deadline = calls.deadline();
        let timeout = deadline.saturating_duration_since(Instant::now());
        // The store uses the execution's own imports: the policy, limits and
        // deadline the service set up, no second set.
        let (http, log) = calls
            .lend()
            .ok_or_else(|| ExecutionError::Trap("the host calls were lent already".into()))?;
        let mut store = self
            .engine
            .stores()
            .store_with(context, deadline, http, log);
        let wit_invocation = script_internals::wit_invocation(invocation, timeout);
        let call = async {
            let instance = self.pre.instantiate_async(&mut store).await?;
            instance.call_execute(&mut store, &wit_invocation).await
        };
        let result = tokio::time::timeout_at((deadline + EPOCH_TICK * 2).into(), call).await;
        let outcome = match result {
            Err(_) => Err(ExecutionError::Timeout(timeout)),
            Ok(Err(trap)) => Err(classify_trap(
                &trap,
                &store.data().limiter,
                timeout,
                store.data().log.entries(),
            )),
            Ok(Ok(Err(error))) => Err(match error {
                ExecuteError::UnknownCommand(command) => ExecutionError::UnknownCommand(command),
                ExecuteError::InvalidInput(reason) => ExecutionError::InvalidInput(reason),
                ExecuteError::Failed(reason) => ExecutionError::PluginFailed(reason),
            }),
            Ok(Ok(Ok(result))) => {
                script_internals::connector_result(result, self.engine.limits().max_output_bytes)
            }
        };
        let state = store.into_data();
        calls.give_back(state.http, state.log);
        script_internals::redact_outcome(outcome, &context.redactor)
    }
}

impl BuiltinType for PluginType {
    fn descriptor(&self) -> TypeDescriptor {
        self.descriptor.clone()
    }

    fn execute<'a>(
        &'a self,
        invocation: &'a Invocation,
        context: &'a ExecutionContext,
        calls: &'a mut HostCalls,
    ) -> BoxFuture<'a, Result<ConnectorResult, ExecutionError>> {
        Box::pin(self.run(invocation, context, calls))
    }
}

/// Call `describe()` in a throwaway instance and check what it says.
async fn describe(
    engine: &ScriptEngine,
    pre: &ConnectorPre<HostState>,
) -> Result<TypeDescriptor, PluginError> {
    let context = ExecutionContext::new("describe");
    let deadline = Instant::now() + DESCRIBE_TIMEOUT;
    let mut store = engine
        .stores()
        .store(&context, deadline)
        .map_err(|e| PluginError::Describe(e.to_string()))?;
    let call = async {
        let instance = pre.instantiate_async(&mut store).await?;
        instance.call_describe(&mut store).await
    };
    let descriptor = match tokio::time::timeout_at((deadline + EPOCH_TICK * 2).into(), call).await {
        Err(_) => return Err(PluginError::Describe("timed out".into())),
        Ok(Err(trap)) => {
            let error = classify_trap(
                &trap,
                &store.data().limiter,
                DESCRIBE_TIMEOUT,
                store.data().log.entries(),
            );
            return Err(PluginError::Describe(error.to_string()));
        }
        Ok(Ok(descriptor)) => descriptor,
    };
    validate_name(&descriptor.type_name)
        .map_err(|e| PluginError::Describe(format!("type name: {e}")))?;
    let config_schema: ConfigSchema = serde_json::from_str(&descriptor.config_schema)
        .map_err(|e| PluginError::Describe(format!("invalid configSchema: {e}")))?;
    Ok(TypeDescriptor {
        name: descriptor.type_name,
        version: descriptor.version,
        description: descriptor.description,
        config_schema,
        source: "plugin",
    })
}

/// A trap, with panics told apart: the SDK logs a panic's message just
/// before the instance aborts, so it can be reported as the error.
fn classify_trap(
    trap: &wasmtime::Error,
    limiter: &crate::runtime::MemoryLimiter,
    timeout: Duration,
    logs: &[LogEntry],
) -> ExecutionError {
    let classified = script_internals::classify_trap(trap, limiter, timeout);
    let unreachable = matches!(
        trap.downcast_ref::<wasmtime::Trap>(),
        Some(wasmtime::Trap::UnreachableCodeReached)
    );
    if !matches!(classified, ExecutionError::Trap(_)) || !unreachable {
        return classified;
    }
    let message = logs
        .iter()
        .rev()
        .find_map(|entry| entry.message.strip_prefix("panicked: "))
        .unwrap_or("no message (the log level may have filtered it)");
    ExecutionError::PluginPanicked(message.to_string())
}

//! The script runtime: a wasmtime engine running the QuickJS component, one
//! fresh, limited instance per execution, started from the script's own
//! snapshot when it has one.

mod artefact_cache;
pub mod data_segments;
mod engine_wasm;
mod execution;
mod host_calls;
pub mod host_state;
mod limits;
mod prepared;
mod script_engine;
pub mod snapshot;
mod spares;
mod stores;
mod wasm_engine;

pub use artefact_cache::{ArtefactCache, Cached};
pub use engine_wasm::{ENGINE_WASM, engine_version};
pub use execution::{
    ConnectorResult, Execution, ExecutionContext, ExecutionError, Invocation, InvocationMetadata,
    OutcomeFields, TokenRenewal,
};
pub use host_calls::HostCalls;
pub use limits::{ExecutionLimits, MemoryLimiter};
pub use prepared::{ScriptKey, SnapshotOptions, SnapshotStats, SnapshotStatus};
pub use script_engine::{
    CompileError, CompiledScript, ScriptEngine, ScriptEngineOptions, ScriptRuns,
};
pub use wasm_engine::{EPOCH_TICK, PoolSizing, WasmEngine};

/// Result and error handling shared by scripts and plugins.
pub(crate) mod script_internals {
    pub(crate) use super::script_engine::{
        classify_trap, connector_result, redact_outcome, wit_invocation,
    };
}

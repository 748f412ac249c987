//! The Floh JavaScript engine: QuickJS (through `javy`) compiled to a WASM
//! component of the `script-engine` world.
//!
//! The build pre-initializes the component with wasmtime-wizer: the QuickJS
//! runtime and the `floh` global are created once, at build time, and every
//! execution starts from that snapshot. The host creates a fresh instance per
//! execution, so nothing a script does survives into the next run.
//!
//! The host takes a second snapshot per script (`prepare`): the engine after
//! the script's top level ran, so that commands (`run-prepared`) skip loading
//! the bytecode and evaluating the top level.

#[allow(clippy::too_many_arguments)]
mod bindings {
    wit_bindgen::generate!({
        world: "script-engine-build",
        path: "../../wit",
    });
}

mod cache_bridge;
mod floh_global;
mod http_bridge;
mod js_runtime;
mod outcome;
mod script;
mod strtod;

use bindings::floh::connector::types::{ConnectorResult, Invocation};
use bindings::{Diagnostic, RunError};

struct ScriptEngine;

impl bindings::Guest for ScriptEngine {
    fn compile(source: String) -> Result<Vec<u8>, Diagnostic> {
        script::compile(&source)
    }

    fn run(bytecode: Vec<u8>, invocation: Invocation) -> Result<ConnectorResult, RunError> {
        script::run(&bytecode, &invocation)
    }

    fn prepare(bytecode: Vec<u8>) -> Result<(), String> {
        script::prepare(&bytecode)
    }

    fn run_prepared(invocation: Invocation) -> Result<ConnectorResult, RunError> {
        script::run_prepared(&invocation)
    }

    fn wizer_initialize() {
        js_runtime::initialize();
    }
}

bindings::export!(ScriptEngine with_types_in bindings);

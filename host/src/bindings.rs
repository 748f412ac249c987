//! Every `bindgen!` of the host lives here, so the generated code for the one
//! WIT contract (`wit/`) is produced once and shared by every world.

/// The version of the `floh:connector` WIT package this host implements.
pub const WIT_PACKAGE_VERSION: &str = "0.1.0";

#[allow(missing_docs)]
mod gen_script_engine {
    wasmtime::component::bindgen!({
        world: "script-engine",
        path: "../wit",
        imports: {
            // HTTP waits on the network: it must not block a tokio worker.
            "floh:connector/http.send": async | trappable,
            default: trappable,
        },
        exports: { default: async },
    });
}

#[allow(missing_docs)]
mod gen_connector {
    wasmtime::component::bindgen!({
        world: "connector",
        path: "../wit",
        imports: { default: trappable },
        exports: { default: async },
        // The interfaces both worlds import are generated once, above, so
        // one `Host` implementation serves scripts and plugins alike.
        with: {
            "floh:connector/types": super::gen_script_engine::floh::connector::types,
            "floh:connector/http": super::gen_script_engine::floh::connector::http,
            "floh:connector/log": super::gen_script_engine::floh::connector::log,
            "floh:connector/config": super::gen_script_engine::floh::connector::config,
            "floh:connector/cache": super::gen_script_engine::floh::connector::cache,
        },
    });
}

pub use gen_connector::{Connector, ConnectorPre, Descriptor, ExecuteError};
pub use gen_script_engine::floh::connector::{cache, config, http, log, types};
pub use gen_script_engine::{Diagnostic, Exception, RunError, ScriptEngine, ScriptEnginePre};

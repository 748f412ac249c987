//! Floh: a connector host for workflow automation.
//!
//! Connectors are how workflows reach the outside world. User code (scripts
//! and plugins) runs in wasmtime sandboxes whose only way out is the `floh`
//! WIT interface (`wit/`), implemented in [`imports`] and policed by
//! [`egress`] and [`redact`]. [`runtime`] owns the engine and the sandboxes.

pub mod agent;
pub mod api;
pub mod auth;
pub mod bindings;
pub mod cli;
pub mod clock;
pub mod coherence;
pub mod connectors;
pub mod egress;
pub mod ids;
pub mod imports;
pub mod mcp;
pub mod metrics;
pub mod model;
pub mod oas;
pub mod oauth;
pub mod plugins;
pub mod rate_limit;
pub mod redact;
pub mod restore;
pub mod runtime;
pub mod script_api;
pub mod secrets;
pub mod server;
pub mod service;
pub mod signals;
pub mod store;
pub mod ui;

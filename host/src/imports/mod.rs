//! The host side of the `floh` WIT interfaces, one module per interface.
//!
//! Each implements its generated `Host` trait on a narrow context (not on the
//! whole store state), and is linked through a [`wasmtime::component::HasData`]
//! projection, so an import can reach only what it needs.

pub mod cache;
pub mod config;
pub mod http;
pub mod log;

pub use cache::{CacheImport, CacheLimits, SharedCache};
pub use config::ConfigImport;
pub use http::{
    BodyPreview, HttpCall, HttpHeader, HttpImport, HttpLimits, PREVIEW_BUDGET_BYTES, PREVIEW_BYTES,
};
pub use log::{LogCapture, LogEntry, LogLevel, LogLimits};

//! Integration tests of the script runtime: the real engine component in
//! wasmtime, real HTTP servers on loopback.

mod cache;
mod egress;
mod errors;
mod my_crm;
mod oas_drafts;
mod sandbox;
mod script_api;
mod shipped_plugins;
mod snapshots;
mod spares;
mod support;
mod surface;

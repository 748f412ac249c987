//! `floh plugin pack`: turn the core module that `cargo build --target
//! wasm32-unknown-unknown` produces for a guest-SDK crate into a component.
//! The module already carries its WIT world (wit-bindgen embeds it); this
//! wraps it with wit-component, without any WASI adapter, so the component
//! imports exactly the `floh` interfaces the plugin uses.

use anyhow::Context as _;

/// The component of `module` (a core module with an embedded world).
pub fn pack(module: &[u8]) -> anyhow::Result<Vec<u8>> {
    if wasmparser::Parser::is_component(module) {
        anyhow::bail!("the input is already a component");
    }
    if !wasmparser::Parser::is_core_wasm(module) {
        anyhow::bail!("the input is not a WebAssembly module");
    }
    wit_component::ComponentEncoder::default()
        .module(module)
        .context("reading the module's embedded WIT world (was it built with floh-sdk?)")?
        .validate(true)
        .encode()
        .context("encoding the component")
}

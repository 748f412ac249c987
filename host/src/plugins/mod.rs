//! WASM component plugins: connector types written with the guest SDK
//! (`guest-sdk/`), loaded while the server runs.
//!
//! A plugin goes through [`inspect`] (well-formed component, supported WIT
//! version, only `floh` imports), is compiled once (the artefact cache keeps
//! it across restarts), describes itself, and is registered in the
//! [`TypeRegistry`](crate::connectors::TypeRegistry) as a [`PluginType`].
//! Each execution gets a fresh instance with the limits, egress policy,
//! redaction and logs of script connectors. [`PluginDirectory`] watches a
//! directory and keeps the registry in step with it; [`shipped`] are the
//! plugins built into the binary.

mod directory;
mod inspect;
mod pack;
mod plugin_type;
pub mod shipped;

pub use directory::{PluginDirectory, PluginStatus};
pub use inspect::{PluginStamp, inspect};
pub use pack::pack;
pub use plugin_type::PluginType;

/// How often a watched plugin directory is polled.
pub const PLUGIN_POLL_INTERVAL: std::time::Duration = std::time::Duration::from_millis(200);

/// Why a plugin was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PluginError {
    /// Not parseable as WebAssembly (garbage, truncated, corrupt).
    #[error("not a valid WebAssembly component: {0}")]
    Malformed(String),
    /// A core module rather than a component.
    #[error(
        "a core WebAssembly module, not a component: pack it with `floh plugin pack` (guest SDK)"
    )]
    CoreModule,
    /// Built for a WIT version outside the supported range.
    #[error(
        "plugin {plugin} was built for {found}, but this host supports {supported}: {sdk_hint}"
    )]
    UnsupportedWit {
        /// The file, and the crate and SDK that built it when known.
        plugin: String,
        /// The version it imports.
        found: String,
        /// What the host links.
        supported: String,
        /// Which SDK to rebuild with.
        sdk_hint: String,
    },
    /// Imports something beyond the `floh` interfaces.
    #[error("imports `{0}`, but plugins may import only the floh:connector interfaces")]
    ForbiddenImport(String),
    /// Larger than the plugin size limit.
    #[error("larger than the limit of {0} bytes")]
    TooLarge(usize),
    /// wasmtime refused to compile or link it.
    #[error("does not compile or link: {0}")]
    Compile(String),
    /// `describe()` trapped, timed out or returned nonsense.
    #[error("describe() failed: {0}")]
    Describe(String),
    /// Its type name belongs to another type.
    #[error("type `{type_name}` is already provided by {owner}")]
    NameTaken {
        /// The type name.
        type_name: String,
        /// Who has it.
        owner: String,
    },
}

//! The plugins built into the binary: built from `plugins/NAME` with the
//! guest SDK, committed as `plugins/NAME/NAME.wasm` with a checksum (CI
//! rebuilds them and fails on drift), and loaded at every start.

use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::{PluginError, PluginStatus, PluginType};
use crate::connectors::{BuiltinType, TypeRegistry};
use crate::runtime::ScriptEngine;

/// One shipped plugin: its name and component bytes.
pub struct ShippedPlugin {
    /// The crate directory under `plugins/`.
    pub name: &'static str,
    /// The component.
    pub wasm: &'static [u8],
}

/// Every shipped plugin. `http` is the generic REST type (it was native
/// code in the host before plugins existed).
pub const SHIPPED: &[ShippedPlugin] = &[
    ShippedPlugin {
        name: "http",
        wasm: include_bytes!("../../../plugins/http/http.wasm"),
    },
    ShippedPlugin {
        name: "authifi",
        wasm: include_bytes!("../../../plugins/authifi/authifi.wasm"),
    },
];

/// Load and register every shipped plugin; their statuses. A shipped plugin
/// that fails to load is a build defect: the error names it.
pub async fn register_all(
    engine: &Arc<ScriptEngine>,
    registry: &TypeRegistry,
) -> Result<Vec<PluginStatus>, PluginError> {
    let mut statuses = Vec::new();
    for shipped in SHIPPED {
        let file = format!("shipped:{}", shipped.name);
        let plugin = PluginType::load(engine.clone(), &file, shipped.wasm.to_vec()).await?;
        tracing::debug!(r#type = %plugin.descriptor().name, "shipped plugin loaded");
        let mut status = PluginStatus::new(&file, hex::encode(Sha256::digest(shipped.wasm)));
        status.describe(&plugin);
        statuses.push(status);
        registry.register(Arc::new(plugin));
    }
    Ok(statuses)
}

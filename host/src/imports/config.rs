//! `floh:connector/config`: the connector's decrypted connection config.

use std::sync::Arc;

use crate::bindings::config::Host;

/// The config of one execution, as the JSON text the guest receives.
#[derive(Debug, Clone)]
pub struct ConfigImport {
    json: Arc<str>,
}

impl ConfigImport {
    /// Serve `config` (a JSON object) to the guest.
    pub fn new(config: &serde_json::Value) -> Self {
        let json = if config.is_object() {
            config.to_string()
        } else {
            "{}".to_string()
        };
        Self { json: json.into() }
    }

    /// The config as JSON text.
    pub fn json(&self) -> &Arc<str> {
        &self.json
    }
}

impl Host for ConfigImport {
    fn get(&mut self) -> wasmtime::Result<String> {
        Ok(self.json.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_objects_and_replaces_anything_else_with_an_empty_object() {
        let mut import = ConfigImport::new(&serde_json::json!({"baseUrl": "https://x"}));
        assert_eq!(import.get().expect("get"), r#"{"baseUrl":"https://x"}"#);
        let mut import = ConfigImport::new(&serde_json::Value::Null);
        assert_eq!(import.get().expect("get"), "{}");
    }
}

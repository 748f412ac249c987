//! Connector definitions as `POST /api/connectors` and `PUT
//! /api/connectors/:id` check them: any bytes as the JSON body, then the
//! checks that need no store, engine or network (size, name, networks, an
//! oas connector's generated script and schema, OAuth2 settings, the config
//! against the schema), and every command's params checked against its
//! schema with the body's `config` as hostile params.
#![no_main]

use floh::model::{ConnectorDefinition, ConnectorPatch};
use floh::service;
use libfuzzer_sys::fuzz_target;
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    if let Ok(definition) = serde_json::from_slice::<ConnectorDefinition>(data) {
        let params = definition.config.clone().unwrap_or_default();
        if let Some(schema) = &definition.config_schema {
            for command in schema.commands.values() {
                let _ = command.prepare_params(&params);
            }
            let _ = schema.clone().effective().secret_fields().count();
        }
        let _ = service::check_offline(definition);
    }
    if let Ok(patch) = serde_json::from_slice::<ConnectorPatch>(data) {
        let _ = service::check_update_offline(base(), patch);
    }
});

/// A stored connector an update applies to.
fn base() -> ConnectorDefinition {
    let base = json!({
        "name": "crm",
        "executionModel": "script",
        "scriptSource": "function ping() { return { success: true }; }",
        "configSchema": {
            "connectionConfig": {
                "baseUrl": {"type": "string", "required": true},
                "apiKey": {"type": "string", "secret": true}
            },
            "commands": {"ping": {"params": ["n"], "paramSchema": {"n": {"type": "integer", "default": 1}}}}
        }
    });
    match serde_json::from_value(base) {
        Ok(definition) => definition,
        Err(error) => panic!("the base definition is valid: {error}"),
    }
}

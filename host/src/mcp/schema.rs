//! Tool schemas generated from the input and output types, flat: every
//! subschema inlined, no `$ref`/`$defs` (some clients cannot follow them).

use std::sync::Arc;

use rmcp::model::JsonObject;
use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::{Value, json};

/// The schema of a tool's arguments (fields with defaults are optional).
pub fn input<T: JsonSchema>() -> Arc<JsonObject> {
    flat::<T>(SchemaSettings::draft2020_12().for_deserialize())
}

/// The schema of a tool's structured result.
pub fn output<T: JsonSchema>() -> Arc<JsonObject> {
    flat::<T>(SchemaSettings::draft2020_12().for_serialize())
}

fn flat<T: JsonSchema>(settings: SchemaSettings) -> Arc<JsonObject> {
    let schema = settings
        .with(|s| {
            s.inline_subschemas = true;
            s.meta_schema = None;
        })
        .into_generator()
        .into_root_schema_for::<T>();
    let mut object = match schema.to_value() {
        Value::Object(object) => object,
        _ => JsonObject::new(),
    };
    object.remove("title");
    object.insert("type".into(), Value::String("object".into()));
    let mut root = Value::Object(object);
    portable(&mut root);
    match root {
        Value::Object(object) => Arc::new(object),
        _ => Arc::new(JsonObject::new()),
    }
}

/// Make a schema portable across clients and model providers:
/// - schemars marks Rust integer widths as `format: uint64` and the like;
///   they are not JSON Schema formats, and strict validators (ajv, which the
///   TypeScript SDK runs on results) refuse unknown formats;
/// - an optional field is written `type: ["string", "null"]` or `anyOf: [X,
///   {type: null}]`; single-type dialects (e.g. Gemini's) reject both. Our
///   inputs accept an absent field and our outputs leave `None` out, so the
///   field's own type says it all.
fn portable(value: &mut Value) {
    match value {
        Value::Object(object) => {
            if object
                .get("format")
                .and_then(Value::as_str)
                .is_some_and(|f| {
                    f.starts_with("int") || f.starts_with("uint") || f == "double" || f == "float"
                })
            {
                object.remove("format");
            }
            if let Some(Value::Array(types)) = object.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let single = types.remove(0);
                    object.insert("type".into(), single);
                }
            }
            let nullable_branch = |branches: &Vec<Value>| {
                branches.len() == 2
                    && branches
                        .iter()
                        .any(|b| b.get("type") == Some(&json!("null")))
            };
            if let Some(Value::Array(branches)) = object.get("anyOf").cloned()
                && nullable_branch(&branches)
                && let Some(Value::Object(kept)) = branches
                    .into_iter()
                    .find(|b| b.get("type") != Some(&json!("null")))
            {
                object.remove("anyOf");
                for (key, field) in kept {
                    object.entry(key).or_insert(field);
                }
            }
            object.values_mut().for_each(portable);
        }
        Value::Array(items) => items.iter_mut().for_each(portable),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::tools::TOOLS;

    fn walk(value: &serde_json::Value, path: &str, found: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(object) => {
                for (key, child) in object {
                    if key == "$ref" || key == "$defs" || key == "definitions" {
                        found.push(format!("{path}/{key}"));
                    }
                    walk(child, &format!("{path}/{key}"), found);
                }
            }
            serde_json::Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    walk(child, &format!("{path}/{i}"), found);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn every_schema_is_flat_and_object_rooted() {
        for spec in TOOLS.iter() {
            for (kind, schema) in [("input", (spec.input)()), ("output", (spec.output)())] {
                let value = serde_json::Value::Object((*schema).clone());
                let mut found = Vec::new();
                walk(&value, "", &mut found);
                assert!(found.is_empty(), "{} {kind}: {found:?}", spec.name);
                assert_eq!(value["type"], "object", "{} {kind}", spec.name);
            }
        }
    }

    #[test]
    fn every_input_field_is_described() {
        for spec in TOOLS.iter() {
            let schema = (spec.input)();
            let properties = schema
                .get("properties")
                .and_then(|p| p.as_object())
                .cloned()
                .unwrap_or_default();
            for (name, field) in properties {
                assert!(
                    field.get("description").is_some(),
                    "{}: `{name}` has no description",
                    spec.name
                );
            }
        }
    }
}

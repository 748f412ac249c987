//! serde's derived structs also accept a JSON array of their fields in
//! order (`"metadata": [null, null]`), a shape nobody means and the API
//! document does not allow. Fields holding user-sent structs go through
//! these instead, which accept only objects (or null where optional).

use std::collections::BTreeMap;

use serde::de::{DeserializeOwned, Error};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// An optional struct, sent as an object or null.
pub fn optional_object<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    match Value::deserialize(deserializer)? {
        Value::Null => Ok(None),
        value @ Value::Object(_) => serde_json::from_value(value)
            .map(Some)
            .map_err(Error::custom),
        other => Err(Error::custom(format!(
            "invalid type: {}, expected an object",
            kind(&other)
        ))),
    }
}

/// A struct, sent as an object (leave the field out for its default).
pub fn object<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    match Value::deserialize(deserializer)? {
        value @ Value::Object(_) => serde_json::from_value(value).map_err(Error::custom),
        other => Err(Error::custom(format!(
            "invalid type: {}, expected an object",
            kind(&other)
        ))),
    }
}

/// Structs by name, each sent as an object.
pub fn map_of_objects<'de, D, T>(deserializer: D) -> Result<BTreeMap<String, T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let map = BTreeMap::<String, Value>::deserialize(deserializer)?;
    map.into_iter()
        .map(|(name, value)| {
            if !value.is_object() {
                return Err(Error::custom(format!(
                    "`{name}`: invalid type: {}, expected an object",
                    kind(&value)
                )));
            }
            serde_json::from_value(value)
                .map(|parsed| (name.clone(), parsed))
                .map_err(|e| Error::custom(format!("`{name}`: {e}")))
        })
        .collect()
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::model::{ConfigSchema, ConnectorDefinition};

    #[test]
    fn structs_sent_as_arrays_are_refused() {
        let schema = serde_json::from_value::<ConfigSchema>(
            json!({"connectionConfig": {"apiKey": [null, true]}}),
        );
        assert!(
            schema
                .expect_err("array field")
                .to_string()
                .contains("apiKey")
        );
        let commands =
            serde_json::from_value::<ConfigSchema>(json!({"commands": {"list": [[], null]}}));
        assert!(commands.is_err());
        let definition = serde_json::from_value::<ConnectorDefinition>(
            json!({"name": "a", "executionModel": "script", "configSchema": [{}, {}]}),
        );
        assert!(definition.is_err());
        let fine = serde_json::from_value::<ConfigSchema>(
            json!({"connectionConfig": {"apiKey": {"type": "string"}}, "commands": {"list": {}}}),
        )
        .expect("objects");
        assert_eq!(fine.commands.len(), 1);
    }
}

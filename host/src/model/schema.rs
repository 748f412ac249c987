//! `configSchema`: connection-config fields and commands, and the checks that
//! apply them to a config or to a command's params.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The spec's `configSchema`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigSchema {
    /// Connection-config fields by name.
    #[serde(default, deserialize_with = "super::json_shape::map_of_objects")]
    pub connection_config: BTreeMap<String, FieldSchema>,
    /// Commands by name.
    #[serde(default, deserialize_with = "super::json_shape::map_of_objects")]
    pub commands: BTreeMap<String, CommandSchema>,
    /// The OAuth2 grant the host keeps for the connector, if it uses one
    /// (its client fields join `connectionConfig`, see [`ConfigSchema::effective`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth2: Option<super::OAuth2Settings>,
}

/// One command of a connector.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CommandSchema {
    /// Parameter names, in order.
    #[serde(default)]
    pub params: Vec<String>,
    /// What the command does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Names of the outputs in `data`.
    #[serde(default)]
    pub outputs: Vec<String>,
    /// Types, defaults and required flags of parameters.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "super::json_shape::map_of_objects"
    )]
    pub param_schema: BTreeMap<String, FieldSchema>,
}

/// A config field or a parameter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FieldSchema {
    /// The JSON type; any when absent.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub field_type: Option<FieldType>,
    /// Whether a value must be given.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
    /// Whether the value is a secret: encrypted at rest (all config is),
    /// masked on every read and scrubbed from logs.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub secret: bool,
    /// Shown to users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Applied when no value is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    /// The allowed values.
    #[serde(default, rename = "enum", skip_serializing_if = "Option::is_none")]
    pub allowed: Option<Vec<Value>>,
}

/// JSON types a field can declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    /// A JSON string.
    String,
    /// Any JSON number.
    Number,
    /// A whole number.
    Integer,
    /// `true` or `false`.
    Boolean,
    /// A JSON object.
    Object,
    /// A JSON array.
    Array,
}

/// A value that does not fit its schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    /// A required value is missing.
    #[error("`{0}` is required")]
    Missing(String),
    /// A value has the wrong type.
    #[error("`{field}` must be {expected}")]
    WrongType {
        /// The field.
        field: String,
        /// The expected type, with an article.
        expected: &'static str,
    },
    /// A value is not among the allowed ones.
    #[error("`{0}` is not one of the allowed values")]
    NotAllowed(String),
    /// A config field the schema does not declare.
    #[error("`{0}` is not a field of this connector's connectionConfig")]
    Unknown(String),
    /// The whole value is not a JSON object.
    #[error("{0} must be a JSON object")]
    NotAnObject(&'static str),
}

impl FieldType {
    fn matches(self, value: &Value) -> bool {
        match self {
            Self::String => value.is_string(),
            Self::Number => value.is_number(),
            Self::Integer => value.is_i64() || value.is_u64(),
            Self::Boolean => value.is_boolean(),
            Self::Object => value.is_object(),
            Self::Array => value.is_array(),
        }
    }

    fn described(self) -> &'static str {
        match self {
            Self::String => "a string",
            Self::Number => "a number",
            Self::Integer => "an integer",
            Self::Boolean => "a boolean",
            Self::Object => "an object",
            Self::Array => "an array",
        }
    }
}

impl FieldSchema {
    fn check(&self, name: &str, value: &Value) -> Result<(), SchemaError> {
        if let Some(field_type) = self.field_type
            && !field_type.matches(value)
        {
            return Err(SchemaError::WrongType {
                field: name.to_string(),
                expected: field_type.described(),
            });
        }
        if let Some(allowed) = &self.allowed
            && !allowed.contains(value)
        {
            return Err(SchemaError::NotAllowed(name.to_string()));
        }
        Ok(())
    }
}

impl CommandSchema {
    /// Validate `params` and fill in defaults. Parameters without a schema
    /// pass through unchanged.
    pub fn prepare_params(&self, params: &Value) -> Result<Value, SchemaError> {
        let mut params = match params {
            Value::Null => Map::new(),
            Value::Object(map) => map.clone(),
            _ => return Err(SchemaError::NotAnObject("params")),
        };
        for (name, field) in &self.param_schema {
            match params.get(name) {
                Some(Value::Null) | None => {
                    if let Some(default) = &field.default {
                        params.insert(name.clone(), default.clone());
                    } else if field.required {
                        return Err(SchemaError::Missing(name.clone()));
                    }
                }
                Some(value) => field.check(name, value)?,
            }
        }
        Ok(Value::Object(params))
    }
}

impl ConfigSchema {
    /// Validate a connection config: declared types, allowed values, no
    /// undeclared fields, and (when `complete`) every required field.
    pub fn check_config(&self, config: &Value, complete: bool) -> Result<(), SchemaError> {
        let Value::Object(map) = config else {
            return Err(SchemaError::NotAnObject("config"));
        };
        if self.connection_config.is_empty() {
            return Ok(());
        }
        for (name, value) in map {
            let field = self
                .connection_config
                .get(name)
                .ok_or_else(|| SchemaError::Unknown(name.clone()))?;
            if !value.is_null() {
                field.check(name, value)?;
            }
        }
        if complete {
            for (name, field) in &self.connection_config {
                let given = map.get(name).is_some_and(|v| !v.is_null());
                if field.required && !given && field.default.is_none() {
                    return Err(SchemaError::Missing(name.clone()));
                }
            }
        }
        Ok(())
    }

    /// The schema as the host applies it: with an `oauth2` grant, its client
    /// fields (`clientId`, `clientSecret`, and for the password grant
    /// `username`, `password`) are connection-config fields too, unless the
    /// schema declares them itself.
    pub fn effective(mut self) -> Self {
        if let Some(settings) = &self.oauth2 {
            for (name, field) in settings.config_fields() {
                self.connection_config.entry(name).or_insert(field);
            }
        }
        self
    }

    /// Names of the fields marked `secret: true`.
    pub fn secret_fields(&self) -> impl Iterator<Item = &str> {
        self.connection_config
            .iter()
            .filter(|(_, field)| field.secret)
            .map(|(name, _)| name.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn list_contacts() -> CommandSchema {
        serde_json::from_value(json!({
            "params": ["limit", "offset", "q"],
            "paramSchema": {
                "limit": {"type": "number", "default": 50},
                "offset": {"type": "integer", "default": 0},
                "q": {"type": "string", "required": true, "enum": ["a", "b"]}
            }
        }))
        .expect("schema")
    }

    #[test]
    fn params_get_defaults_and_keep_unknown_keys() {
        let params = list_contacts()
            .prepare_params(&json!({"q": "a", "extra": 1}))
            .expect("valid");
        assert_eq!(
            params,
            json!({"q": "a", "extra": 1, "limit": 50, "offset": 0})
        );
    }

    #[test]
    fn params_are_type_checked_and_required() {
        let schema = list_contacts();
        assert_eq!(
            schema.prepare_params(&json!({})),
            Err(SchemaError::Missing("q".into()))
        );
        assert_eq!(
            schema.prepare_params(&json!({"q": "a", "offset": 1.5})),
            Err(SchemaError::WrongType {
                field: "offset".into(),
                expected: "an integer"
            })
        );
        assert_eq!(
            schema.prepare_params(&json!({"q": "c"})),
            Err(SchemaError::NotAllowed("q".into()))
        );
        assert_eq!(
            schema.prepare_params(&json!([1])),
            Err(SchemaError::NotAnObject("params"))
        );
    }

    #[test]
    fn config_rejects_unknown_fields_and_checks_required_only_when_complete() {
        let schema: ConfigSchema = serde_json::from_value(json!({
            "connectionConfig": {
                "baseUrl": {"type": "string", "required": true},
                "apiKey": {"type": "string", "required": true, "secret": true}
            }
        }))
        .expect("schema");
        assert_eq!(schema.secret_fields().collect::<Vec<_>>(), ["apiKey"]);
        assert!(schema.check_config(&json!({"baseUrl": "x"}), false).is_ok());
        assert_eq!(
            schema.check_config(&json!({"baseUrl": "x"}), true),
            Err(SchemaError::Missing("apiKey".into()))
        );
        assert_eq!(
            schema.check_config(&json!({"nope": 1}), false),
            Err(SchemaError::Unknown("nope".into()))
        );
        assert!(matches!(
            schema.check_config(&json!({"baseUrl": 3}), false),
            Err(SchemaError::WrongType { .. })
        ));
    }

    #[test]
    fn unknown_schema_keys_are_refused() {
        let result =
            serde_json::from_value::<FieldSchema>(json!({"type": "string", "secert": true}));
        assert!(result.is_err());
    }
}

//! What a connector type tells the host about itself: name, version,
//! description, connection-config fields and commands. Serialized into the
//! spec's `configSchema` JSON, which the host validates configs and params
//! against before `execute` is ever called.

use serde_json::{Map, Value, json};

/// A connector type's metadata and schema, built with chained calls.
#[derive(Debug, Clone)]
pub struct TypeInfo {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) description: String,
    connection_config: Map<String, Value>,
    commands: Map<String, Value>,
}

impl TypeInfo {
    /// A type named `name` (what users put in `type`) at `version`.
    pub fn new(name: &str, version: &str) -> Self {
        Self {
            name: name.to_string(),
            version: version.to_string(),
            description: String::new(),
            connection_config: Map::new(),
            commands: Map::new(),
        }
    }

    /// One line shown in type listings.
    pub fn description(mut self, text: &str) -> Self {
        self.description = text.to_string();
        self
    }

    /// A connection-config field.
    pub fn config(mut self, field: Field) -> Self {
        self.connection_config.insert(field.name, field.schema);
        self
    }

    /// A command.
    pub fn command(mut self, command: Command) -> Self {
        self.commands
            .insert(command.name.clone(), command.into_schema());
        self
    }

    /// The `configSchema` JSON.
    pub fn config_schema(&self) -> Value {
        json!({
            "connectionConfig": self.connection_config,
            "commands": self.commands,
        })
    }
}

/// A config field or a command parameter.
#[derive(Debug, Clone)]
pub struct Field {
    name: String,
    schema: Value,
}

impl Field {
    fn typed(name: &str, json_type: &str) -> Self {
        Self {
            name: name.to_string(),
            schema: json!({ "type": json_type }),
        }
    }

    /// Any JSON value (no type is checked).
    pub fn any(name: &str) -> Self {
        Self {
            name: name.to_string(),
            schema: json!({}),
        }
    }

    /// A string.
    pub fn string(name: &str) -> Self {
        Self::typed(name, "string")
    }

    /// A secret string: encrypted at rest, masked on reads, scrubbed from logs.
    pub fn secret(name: &str) -> Self {
        Self::typed(name, "string").flag("secret")
    }

    /// Any number.
    pub fn number(name: &str) -> Self {
        Self::typed(name, "number")
    }

    /// A whole number.
    pub fn integer(name: &str) -> Self {
        Self::typed(name, "integer")
    }

    /// `true` or `false`.
    pub fn boolean(name: &str) -> Self {
        Self::typed(name, "boolean")
    }

    /// A JSON object.
    pub fn object(name: &str) -> Self {
        Self::typed(name, "object")
    }

    /// A JSON array.
    pub fn array(name: &str) -> Self {
        Self::typed(name, "array")
    }

    /// A value must be given.
    pub fn required(self) -> Self {
        self.flag("required")
    }

    /// Shown to users.
    pub fn description(self, text: &str) -> Self {
        self.with("description", Value::from(text))
    }

    /// Used when no value is given.
    pub fn default_value(self, value: impl Into<Value>) -> Self {
        self.with("default", value.into())
    }

    /// The only values allowed.
    pub fn one_of<V: Into<Value>>(self, values: impl IntoIterator<Item = V>) -> Self {
        let values: Vec<Value> = values.into_iter().map(Into::into).collect();
        self.with("enum", Value::Array(values))
    }

    fn flag(self, key: &str) -> Self {
        self.with(key, Value::Bool(true))
    }

    fn with(mut self, key: &str, value: Value) -> Self {
        if let Value::Object(schema) = &mut self.schema {
            schema.insert(key.to_string(), value);
        }
        self
    }
}

/// A command: its parameters and the names of its outputs.
#[derive(Debug, Clone)]
pub struct Command {
    name: String,
    description: Option<String>,
    params: Vec<Field>,
    outputs: Vec<String>,
}

impl Command {
    /// A command called `name` (what workflows put in `command`).
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            description: None,
            params: Vec::new(),
            outputs: Vec::new(),
        }
    }

    /// What the command does.
    pub fn description(mut self, text: &str) -> Self {
        self.description = Some(text.to_string());
        self
    }

    /// A parameter.
    pub fn param(mut self, field: Field) -> Self {
        self.params.push(field);
        self
    }

    /// The names of the outputs in `data`.
    pub fn outputs(mut self, names: &[&str]) -> Self {
        self.outputs = names.iter().map(|name| name.to_string()).collect();
        self
    }

    fn into_schema(self) -> Value {
        let names: Vec<&str> = self.params.iter().map(|p| p.name.as_str()).collect();
        let param_schema: Map<String, Value> = self
            .params
            .iter()
            .map(|p| (p.name.clone(), p.schema.clone()))
            .collect();
        let mut schema = json!({
            "params": names,
            "outputs": self.outputs,
            "paramSchema": param_schema,
        });
        if let (Some(text), Value::Object(map)) = (self.description, &mut schema) {
            map.insert("description".into(), Value::String(text));
        }
        schema
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_spec_config_schema() {
        let info = TypeInfo::new("crm", "1.2.0")
            .description("A CRM")
            .config(Field::string("baseUrl").required())
            .config(Field::secret("apiKey").required())
            .command(
                Command::new("listContacts")
                    .description("List contacts")
                    .param(Field::integer("limit").default_value(50))
                    .param(Field::string("order").one_of(["asc", "desc"]))
                    .outputs(&["contacts"]),
            );
        assert_eq!(
            info.config_schema(),
            json!({
                "connectionConfig": {
                    "baseUrl": {"type": "string", "required": true},
                    "apiKey": {"type": "string", "secret": true, "required": true},
                },
                "commands": {
                    "listContacts": {
                        "description": "List contacts",
                        "params": ["limit", "order"],
                        "outputs": ["contacts"],
                        "paramSchema": {
                            "limit": {"type": "integer", "default": 50},
                            "order": {"type": "string", "enum": ["asc", "desc"]},
                        },
                    },
                },
            })
        );
    }
}

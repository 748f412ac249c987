//! What an `oas` connector keeps of its OpenAPI description: the spec as the
//! client sent it, and which operations to import.
//!
//! The spec travels and is stored as JSON text, never as a parsed value:
//! real descriptions reach tens of megabytes (Microsoft Graph beta is 47 MB)
//! and a parsed `serde_json::Value` is several times the size of its text.
//! Only generating a draft parses it, once.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

/// An OpenAPI description (Swagger 2.0, OpenAPI 3.0 or 3.1): a JSON object,
/// or a JSON string holding the JSON or YAML text. Kept as the JSON text it
/// arrived as, so reading, storing and returning it costs a copy at most.
#[derive(Clone, Serialize)]
#[serde(transparent)]
pub struct OpenApiSpec(Box<RawValue>);

/// An object or a string, checked by the first character (nothing is
/// parsed here: a spec may be tens of megabytes).
impl<'de> Deserialize<'de> for OpenApiSpec {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        match raw.get().trim_start().as_bytes().first() {
            Some(b'{' | b'"') => Ok(Self(raw)),
            _ => Err(serde::de::Error::custom(
                "`openapiSpec` must be an object or a string of JSON or YAML",
            )),
        }
    }
}

impl OpenApiSpec {
    /// A spec from a parsed value (tests and in-process callers).
    pub fn from_value(value: &Value) -> Self {
        // A `Value` always serializes (its keys are strings).
        Self(serde_json::value::to_raw_value(value).unwrap_or_default())
    }

    /// A spec as the JSON or YAML text a person pasted or uploaded.
    pub fn from_text(text: &str) -> Self {
        Self::from_value(&Value::String(text.to_string()))
    }

    /// The spec as text to show and edit: the text itself when it arrived
    /// as a string, otherwise its JSON, indented.
    pub fn to_text(&self) -> String {
        match serde_json::from_str::<Value>(self.json()) {
            Ok(Value::String(text)) => text,
            Ok(other) => serde_json::to_string_pretty(&other).unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// A spec from JSON text (an object, or a string of JSON or YAML).
    pub fn from_json(text: String) -> Result<Self, serde_json::Error> {
        RawValue::from_string(text).map(Self)
    }

    /// The JSON text.
    pub fn json(&self) -> &str {
        self.0.get()
    }

    /// Size of the JSON text in bytes.
    pub fn len(&self) -> usize {
        self.0.get().len()
    }

    /// Whether the JSON text is empty (never, for a parsed spec).
    pub fn is_empty(&self) -> bool {
        self.0.get().is_empty()
    }

    /// SHA-256 of the JSON text, hex: the key the store keeps the spec
    /// under, so one spec is stored once however many connectors use it.
    pub fn digest(&self) -> String {
        hex::encode(Sha256::digest(self.0.get().as_bytes()))
    }
}

/// In the API document a spec is an object or a string of JSON or YAML:
/// the server parses and checks it, and says what is wrong.
impl utoipa::PartialSchema for OpenApiSpec {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::Object))
            .item(ObjectBuilder::new().schema_type(Type::String))
            .description(Some(
                "The OpenAPI (2.0, 3.0 or 3.1) description: an object, or JSON or YAML text.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for OpenApiSpec {}

#[cfg(test)]
mod shape_tests {
    use super::*;

    #[test]
    fn only_an_object_or_a_string_is_a_spec() {
        for good in [r#"{"openapi": "3.0.0"}"#, r#""openapi: 3.0.0""#] {
            assert!(serde_json::from_str::<OpenApiSpec>(good).is_ok(), "{good}");
        }
        for bad in ["[null, null]", "3", "true", "null"] {
            assert!(serde_json::from_str::<OpenApiSpec>(bad).is_err(), "{bad}");
        }
        let absent: Option<OpenApiSpec> = serde_json::from_str("null").expect("null is none");
        assert!(absent.is_none());
    }
}

impl PartialEq for OpenApiSpec {
    fn eq(&self, other: &Self) -> bool {
        self.0.get() == other.0.get()
    }
}

impl fmt::Debug for OpenApiSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OpenApiSpec({} bytes)", self.len())
    }
}

/// Which operations to import (all when every list is empty). An operation
/// is kept when its operationId, one of its tags, or its path is listed.
#[derive(
    Debug, Clone, Default, PartialEq, Deserialize, Serialize, utoipa::ToSchema, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Selection {
    /// operationIds to import.
    #[serde(default)]
    pub operation_ids: Vec<String>,
    /// Tags whose operations to import.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Path templates to import, e.g. `/pets/{petId}`.
    #[serde(default)]
    pub paths: Vec<String>,
}

impl Selection {
    /// Whether nothing is selected (everything is imported).
    pub fn is_empty(&self) -> bool {
        self.operation_ids.is_empty() && self.tags.is_empty() && self.paths.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn specs_keep_their_text_and_hash_it() {
        #[derive(Serialize, Deserialize)]
        struct Body {
            spec: OpenApiSpec,
        }
        let text = r#"{"spec":{"openapi":  "3.0.0", "paths": {}}}"#;
        let body: Body = serde_json::from_str(text).expect("spec");
        assert_eq!(body.spec.json(), r#"{"openapi":  "3.0.0", "paths": {}}"#);
        assert_eq!(serde_json::to_string(&body).expect("json"), text);
        assert_eq!(body.spec.digest().len(), 64);
        let yaml = OpenApiSpec::from_value(&json!("openapi: 3.0.0"));
        assert_eq!(yaml.json(), r#""openapi: 3.0.0""#);
        assert_ne!(yaml.digest(), body.spec.digest());
        assert_eq!(format!("{:?}", body.spec), "OpenApiSpec(34 bytes)");
    }
}

//! Secret fields on the way out (masked) and on the way back in (a masked
//! value in an update keeps the stored secret).

use serde_json::{Map, Value};

use crate::model::ConfigSchema;
use crate::redact::MASK;

/// `config` with every secret field replaced by the mask.
pub fn mask_config(config: &Value, schema: &ConfigSchema) -> Value {
    let Value::Object(map) = config else {
        return config.clone();
    };
    let mut masked = map.clone();
    for field in schema.secret_fields() {
        if let Some(value) = masked.get_mut(field)
            && !value.is_null()
        {
            *value = Value::String(MASK.into());
        }
    }
    Value::Object(masked)
}

/// `update` with every field whose value is the mask replaced by the stored
/// value, so clients can send back what they read without losing secrets.
pub fn merge_masked(update: &Value, stored: Option<&Value>) -> Value {
    let Value::Object(update) = update else {
        return update.clone();
    };
    let stored = stored.and_then(Value::as_object);
    let merged: Map<String, Value> = update
        .iter()
        .filter_map(|(key, value)| {
            if value.as_str() == Some(MASK) {
                // A mask with nothing stored behind it carries no value.
                stored
                    .and_then(|s| s.get(key))
                    .map(|v| (key.clone(), v.clone()))
            } else {
                Some((key.clone(), value.clone()))
            }
        })
        .collect();
    Value::Object(merged)
}

/// The string values of secret fields, for log and error redaction.
pub fn secret_values(config: &Value, schema: &ConfigSchema) -> Vec<String> {
    // The access token of an OAuth2 grant is a secret wherever it is seen.
    let token = schema
        .oauth2
        .as_ref()
        .map(|_| crate::model::ACCESS_TOKEN_FIELD);
    schema
        .secret_fields()
        .chain(token)
        .filter_map(|field| {
            config
                .get(field)
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> ConfigSchema {
        serde_json::from_value(json!({"connectionConfig": {
            "baseUrl": {"type": "string"},
            "apiKey": {"type": "string", "secret": true}
        }}))
        .expect("schema")
    }

    #[test]
    fn secret_fields_are_masked_and_others_kept() {
        let config = json!({"baseUrl": "https://x", "apiKey": "sk-1"});
        assert_eq!(
            mask_config(&config, &schema()),
            json!({"baseUrl": "https://x", "apiKey": "***"})
        );
        assert_eq!(secret_values(&config, &schema()), ["sk-1"]);
    }

    #[test]
    fn sending_the_mask_back_keeps_the_stored_secret() {
        let stored = json!({"baseUrl": "https://x", "apiKey": "sk-1"});
        let update = json!({"baseUrl": "https://y", "apiKey": "***"});
        assert_eq!(
            merge_masked(&update, Some(&stored)),
            json!({"baseUrl": "https://y", "apiKey": "sk-1"})
        );
        let replaced = json!({"baseUrl": "https://y", "apiKey": "sk-2"});
        assert_eq!(merge_masked(&replaced, Some(&stored))["apiKey"], "sk-2");
    }
}

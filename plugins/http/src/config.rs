//! The connection config of an `http` instance: the same fields, defaults
//! and spelling as the native type, so existing connectors keep working.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The connection config.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpConfig {
    /// Base URL every request path is relative to.
    pub base_url: String,
    /// How requests authenticate.
    #[serde(default)]
    pub auth_type: AuthType,
    /// Header or query parameter carrying the API key.
    #[serde(default = "default_api_key_name")]
    pub api_key_name: String,
    /// Where the API key goes.
    #[serde(default)]
    pub api_key_in: ApiKeyIn,
    /// API key (authType apiKey).
    pub api_key: Option<String>,
    /// Bearer token (authType bearer).
    pub bearer_token: Option<String>,
    /// User (authType basic).
    pub username: Option<String>,
    /// Password (authType basic).
    pub password: Option<String>,
    /// OAuth2 client id (authType oauth2).
    pub client_id: Option<String>,
    /// OAuth2 client secret (authType oauth2).
    pub client_secret: Option<String>,
    /// OAuth2 token endpoint (client credentials).
    pub token_url: Option<String>,
    /// OAuth2 scope.
    pub scope: Option<String>,
    /// Headers sent with every request.
    #[serde(default)]
    pub default_headers: BTreeMap<String, String>,
}

fn default_api_key_name() -> String {
    "X-API-Key".into()
}

/// How requests authenticate.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AuthType {
    /// No credentials.
    #[default]
    None,
    /// A static key in a header or the query.
    ApiKey,
    /// `Authorization: Bearer` with a static token.
    Bearer,
    /// `Authorization: Basic`.
    Basic,
    /// OAuth2 client credentials, token fetched from `tokenUrl`.
    Oauth2,
}

/// Where the API key goes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiKeyIn {
    /// A header named `apiKeyName`.
    #[default]
    Header,
    /// A query parameter named `apiKeyName`.
    Query,
}

impl HttpConfig {
    /// The config from its JSON, with the native type's message when it
    /// does not fit.
    pub fn from_json(config: serde_json::Value) -> Result<Self, String> {
        serde_json::from_value(config)
            .map_err(|e| format!("the connection config is incomplete: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn defaults_match_the_native_type() {
        let config = HttpConfig::from_json(json!({"baseUrl": "https://x"})).expect("config");
        assert_eq!(config.auth_type, AuthType::None);
        assert_eq!(config.api_key_name, "X-API-Key");
        assert_eq!(config.api_key_in, ApiKeyIn::Header);
        let error = HttpConfig::from_json(json!({})).expect_err("baseUrl is required");
        assert!(error.contains("incomplete"), "{error}");
    }
}
